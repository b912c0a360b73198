import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { evaluateKeywords } from "../../src/agents/keyword-evaluator.ts";
import { compileTable, jobAtoms } from "../../src/agents/keyword-matcher.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";
import type { Job } from "../../src/marketplace/schemas.ts";
import {
  BUILTIN_AGENTS,
  type CorpusName,
  corpusJobs,
} from "../../test/agents/evaluation-corpus.ts";
import { benchAgentConfig, benchContext } from "./executor-context.ts";

/**
 * Where a first-sight decision's time goes (`npm run bench:evaluate -- --stages`), in
 * this tree: per corpus, µs per job (its three decisions) of each stage and of the ones
 * before it, the quickest of many short runs in wall-clock time (a run of a few
 * milliseconds is shorter than the CPU clock's steps, and the quickest is the one least
 * disturbed by other work). A stage's own cost is its figure less the one before.
 */

export const STAGES = [
  "the cut (jobAtoms)",
  "+ 3 tables' scans",
  "3 × evaluateKeywords",
  "3 × evaluateJob (executors)",
] as const;

const TABLES = [SCHEMA_ARCHITECT_KEYWORDS, ANOMALY_HUNTER_KEYWORDS, CODE_REVIEWER_KEYWORDS];

function executors() {
  return BUILTIN_AGENTS.map(({ type, Executor, rate }) => {
    const config = benchAgentConfig(type, type, rate);
    const ctx = benchContext(config);
    return { executor: new Executor(config), ctx, rate };
  });
}

/** µs per job of each stage (STAGES order), the quickest of `runs` runs of `perRun` jobs. */
export async function stageFigures(
  corpus: CorpusName,
  runs: number,
  perRun: number,
): Promise<number[]> {
  const matchers = TABLES.map((table) => compileTable(table));
  const agents = executors();
  // The decision stages see new texts in every run (first sight); the cut caches nothing.
  const all = corpusJobs(corpus, perRun * (2 * runs + 1)).map((job) => ({
    ...job,
    job_id: `stage_${job.job_id}`,
  }));
  const reused = all.slice(0, perRun);
  let next = perRun;
  const fresh = (): Job[] => {
    const jobs = all.slice(next, next + perRun);
    next += perRun;
    return jobs;
  };
  const best = STAGES.map(() => Number.POSITIVE_INFINITY);
  const time = (stage: number, started: number) => {
    best[stage] = Math.min(best[stage]!, ((performance.now() - started) * 1000) / perRun);
  };
  let sink = 0;
  for (let run = 0; run < runs; run++) {
    let started = performance.now();
    for (const job of reused)
      sink += jobAtoms(job.title, job.description ?? "", matchers[0]!).count;
    time(0, started);
    started = performance.now();
    for (const job of reused) {
      const atoms = jobAtoms(job.title, job.description ?? "", matchers[0]!);
      for (const matcher of matchers) sink += matcher.scanRanks(atoms);
    }
    time(1, started);
    let jobs = fresh();
    started = performance.now();
    for (const job of jobs) {
      for (let t = 0; t < 3; t++) {
        if (evaluateKeywords(job, TABLES[t]!, agents[t]!.rate, job.budget_usd).canComplete) sink++;
      }
    }
    time(2, started);
    jobs = fresh();
    started = performance.now();
    for (const job of jobs) {
      for (const { executor, ctx } of agents) {
        if ((await executor.evaluateJob(job, ctx)).canComplete) sink++;
      }
    }
    time(3, started);
  }
  if (sink === 0) throw new Error("the stages found nothing: the corpus does not exercise them");
  return best;
}
