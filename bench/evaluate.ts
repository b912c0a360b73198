/**
 * One bid decision through the executor API (`evaluateJob`) of the three built-in
 * agents, over 5,000 jobs of 60 words per round, beside the previous version's
 * evaluator (the branch point, extracted from git by the bench) in the same process.
 * Two corpora (test/agents/evaluation-corpus.ts): prose with one keyword in eight, and
 * keyword-dense text (every word from the keyword tables or the job vocabulary).
 *
 *   npm run bench:evaluate -- [--jobs 5000] [--rounds 7] [--agents-per-type 100]
 *                             [--versions previous,current] [--stages] [--runtime-flags]
 *
 * "first sight": every job, object and text, is new (each round has jobs of its own),
 * so each (job, table) is scanned once and each job's text cut once: the cost of a
 * poll's new jobs for 3 agents. "shared": 100 agents per built-in type decide on the
 * same new job objects (300 agents), as one poll of a large runner does.
 * Each figure is given in wall-clock time and in the main thread's CPU time: on a
 * machine shared with other work the second is the steadier one.
 * BENCH_BASELINE_REF picks the previous version (ef099c1 by default; HEAD compares
 * with the last commit); BENCH_BASELINE_DIR instead names a directory holding another
 * tree's src/ (with node_modules beside it), e.g. a copy of uncommitted work to compare with.
 * --stages adds where this tree's first-sight time goes: the cut, the scans, the
 * evaluator, the executors (bench/support/evaluate-stages.ts). --runtime-flags runs the
 * bench as the runner runs, under the node flags of bin/runtime-flags.js (without them,
 * the figures leave out what those flags' collections cost).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { BaseAgentExecutor } from "../src/agents/base-executor.ts";
import type { AgentConfig, ExecutorContext } from "../src/agents/types.ts";
import type { Job } from "../src/marketplace/schemas.ts";
import {
  CORPORA,
  type CorpusName,
  corpusStream,
  WORDS_PER_JOB,
} from "../test/agents/evaluation-corpus.ts";
import { STAGES, stageFigures } from "./support/evaluate-stages.ts";
import { benchAgentConfig, benchContext } from "./support/executor-context.ts";
import { checkoutPrevious } from "./support/previous.ts";
import { underRuntimeFlags } from "./support/runner-child.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    rounds: { type: "string", default: "7" },
    "agents-per-type": { type: "string", default: "100" },
    // "current" alone for a profile (node --cpu-prof bench/evaluate.ts --versions current).
    versions: { type: "string", default: "previous,current" },
    stages: { type: "boolean", default: false },
    // As the runner runs: node with the runtime flags (bin/runtime-flags.js).
    "runtime-flags": { type: "boolean", default: false },
  },
});
if (values["runtime-flags"]) underRuntimeFlags();
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const PER_TYPE = Number(values["agents-per-type"]);

type ExecutorModule = Record<string, new (config: AgentConfig) => BaseAgentExecutor>;
interface Version {
  name: string;
  executors: BaseAgentExecutor[];
  contexts: ExecutorContext[];
}

async function load(name: string, root: string): Promise<Version> {
  const agents = [
    ["schema-architect", "SchemaArchitectExecutor", "schema_architect", 0.04],
    ["anomaly-hunter", "AnomalyHunterExecutor", "anomaly_hunter", 0.05],
    ["code-reviewer", "CodeReviewerExecutor", "code_reviewer", 0.03],
  ] as const;
  const executors: BaseAgentExecutor[] = [];
  const contexts: ExecutorContext[] = [];
  for (const [dir, className, type, rate] of agents) {
    const url = pathToFileURL(`${root}/src/agents/${dir}/executor.ts`).href;
    const mod = (await import(url)) as ExecutorModule;
    const Executor = mod[className];
    if (!Executor) throw new Error(`${className} not found in ${url}`);
    const config = benchAgentConfig(className, type, rate);
    executors.push(new Executor(config));
    contexts.push(benchContext(config));
  }
  return { name, executors, contexts };
}

interface Timing {
  /** Wall-clock µs per decision. */
  wall: number;
  /** The main thread's CPU µs per decision: what other processes on a loaded machine do not add to. */
  cpu: number;
  /** Wall-clock µs per decision of the quickest run of BATCH jobs: the run least disturbed by others. */
  quietest: number;
}

/** Jobs per batch for the quietest figure: about a millisecond, shorter than a time slice. */
const BATCH = 100;

/**
 * The main thread's CPU time, µs. It moves in ticks of the kernel's clock (4 ms here; the
 * scheduler's own count in /proc/thread-self/schedstat too), so a round must be long:
 * 5,000 jobs at first sight make a step of 0.27 µs per decision, 1,000 jobs 1.33 µs.
 */
function threadCpuMicros(): number {
  const { user, system } = process.threadCpuUsage();
  return user + system;
}

/** µs per decision: each job is decided by `perType` agents of each of the three types. */
async function run(version: Version, jobs: Job[], perType: number): Promise<Timing> {
  const fresh = jobs.map((job) => ({ ...job })); // new objects: nothing cached from before
  let bids = 0;
  let quietest = Number.POSITIVE_INFINITY;
  let batchStarted = performance.now();
  const cpuStarted = threadCpuMicros();
  const started = batchStarted;
  for (let j = 0; j < fresh.length; j++) {
    const job = fresh[j]!;
    if (j > 0 && j % BATCH === 0) {
      const now = performance.now();
      quietest = Math.min(quietest, now - batchStarted);
      batchStarted = now;
    }
    for (let t = 0; t < 3; t++) {
      const executor = version.executors[t]!;
      const ctx = version.contexts[t]!;
      for (let a = 0; a < perType; a++) {
        if ((await executor.evaluateJob(job, ctx)).canComplete) bids++;
      }
    }
  }
  const elapsed = performance.now() - started;
  const cpu = threadCpuMicros() - cpuStarted;
  if (bids === 0) throw new Error("no bids: the bench jobs do not exercise the evaluator");
  const decisions = fresh.length * 3 * perType;
  const perBatch = Math.min(BATCH, fresh.length) * 3 * perType;
  if (!Number.isFinite(quietest)) quietest = performance.now() - batchStarted;
  return {
    wall: (elapsed * 1000) / decisions,
    cpu: cpu / decisions,
    quietest: (quietest * 1000) / perBatch,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** "median (min–max)" of a round's figures. */
function spread(values: number[]): string {
  const f = (v: number) => v.toFixed(2);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/**
 * Each corpus's jobs, taken in turn so that no text is decided twice: the agreement
 * check first, then per round one slice for first sight and one for shared. The keyword
 * scan is cached by text, so a repeated text would not be first sight. A round's jobs
 * are built when it starts and dropped after it: the heap holds one round's, as a
 * runner holds one listing (held all at once, about 100,000 jobs, every old-generation
 * collection marked them, which under --optimize-for-size showed as pauses).
 */
interface Slices {
  check: Job[];
  /** The next round's first-sight and shared jobs. */
  round(): { first: Job[]; shared: Job[] };
}

function slices(corpus: CorpusName): Slices {
  const sharedJobs = Math.max(10, Math.floor(JOBS / 10));
  const take = corpusStream(corpus);
  // The jobs between the check's and the first round's stay unused, as before.
  const check = take(JOBS).slice(0, 200);
  return { check, round: () => ({ first: take(JOBS), shared: take(sharedJobs) }) };
}

const baselineDir = process.env.BENCH_BASELINE_DIR;
const previous = !values.versions.includes("previous")
  ? undefined
  : baselineDir
    ? { ref: baselineDir, dir: baselineDir, remove: () => {} }
    : checkoutPrevious();
try {
  const versions: Version[] = [];
  if (previous) versions.push(await load(`previous (${previous.ref})`, previous.dir));
  if (values.versions.includes("current")) {
    versions.push(await load("current", `${import.meta.dirname}/..`));
  }
  const corpora = CORPORA.map((name) => ({ name, jobs: slices(name) }));
  // Same answers from every version, or the comparison means nothing.
  if (versions.length > 1) {
    for (const { jobs } of corpora) {
      for (const job of jobs.check) {
        for (let t = 0; t < 3; t++) {
          const [a, b] = await Promise.all(
            versions.map((v) => v.executors[t]!.evaluateJob({ ...job }, v.contexts[t]!)),
          );
          // `noMatch` (the decision log's "no keyword") came after the previous version.
          const same = (x: unknown) => JSON.stringify({ ...(x as object), noMatch: undefined });
          if (same(a) !== same(b))
            throw new Error(`versions disagree on ${job.job_id}: ${JSON.stringify([a, b])}`);
        }
      }
    }
  }
  type Series = { wall: number[]; cpu: number[]; quietest: number[] };
  type Figures = Record<CorpusName, { first: Series; shared: Series }>;
  const series = (): Series => ({ wall: [], cpu: [], quietest: [] });
  const results = new Map<string, Figures>();
  for (const v of versions) {
    results.set(v.name, {
      prose: { first: series(), shared: series() },
      dense: { first: series(), shared: series() },
    });
  }
  const record = (into: Series, timing: Timing) => {
    into.wall.push(timing.wall);
    into.cpu.push(timing.cpu);
    into.quietest.push(timing.quietest);
  };
  for (let round = 0; round <= ROUNDS; round++) {
    for (const { name, jobs } of corpora) {
      const slice = jobs.round();
      for (const v of versions) {
        const first = await run(v, slice.first, 1);
        const shared = await run(v, slice.shared, PER_TYPE);
        if (round === 0) continue; // warm-up
        record(results.get(v.name)![name].first, first);
        record(results.get(v.name)![name].shared, shared);
      }
    }
  }
  console.log(
    `evaluateJob, 3 built-in tables, ${JOBS} new jobs of ${WORDS_PER_JOB} words per round, median (min–max) of ${ROUNDS} rounds, µs per decision; node ${process.execArgv.join(" ") || "without flags"}`,
  );
  console.log(
    "prose: one word in eight from a keyword table; dense: every word from the keyword tables or the job vocabulary",
  );
  const titles = {
    wall: "\nwall clock:",
    cpu: "\nmain thread's CPU time (process.threadCpuUsage; other processes' load does not add to it):",
    quietest: `\nwall clock of the quickest batch of ${BATCH} jobs in each round (the least disturbed by other work):`,
  };
  for (const measure of ["wall", "cpu", "quietest"] as const) {
    console.log(titles[measure]);
    console.log(
      "| version | prose, first sight (3 agents) | prose, shared (300 agents) | dense, first sight | dense, shared |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: |");
    for (const [name, r] of results) {
      const cells = CORPORA.flatMap((c) => [
        spread(r[c].first[measure]),
        spread(r[c].shared[measure]),
      ]);
      console.log(`| ${name} | ${cells.join(" | ")} |`);
    }
  }
  const [prev, cur] = [...results.values()];
  if (prev && cur) {
    for (const corpus of CORPORA) {
      const ratio = (kind: "first" | "shared") =>
        (median(prev[corpus][kind].wall) / median(cur[corpus][kind].wall)).toFixed(1);
      console.log(
        `${corpus}: speed-up ${ratio("first")}× first sight, ${ratio("shared")}× shared (wall clock); target ≤ 3 µs first sight`,
      );
    }
  }
  if (values.stages) {
    console.log(
      "\nfirst sight by stage, this tree: µs per job (3 decisions), each stage with those before it, the quickest of 40 runs of 500 new jobs (wall clock)",
    );
    console.log(`| corpus | ${STAGES.join(" | ")} |`);
    console.log(`| --- |${STAGES.map(() => " ---: |").join("")}`);
    for (const corpus of CORPORA) {
      const figures = await stageFigures(corpus, 40, 500);
      console.log(`| ${corpus} | ${figures.map((f) => f.toFixed(2)).join(" | ")} |`);
    }
  }
} finally {
  previous?.remove();
}
