/**
 * One bid decision through the executor API (`evaluateJob`) of the three built-in
 * agents, over 1,000 jobs of 60 words, beside the previous version's evaluator (the
 * branch point, extracted from git by the bench) in the same process.
 *
 *   npm run bench:evaluate -- [--jobs 1000] [--rounds 7] [--agents-per-type 100]
 *
 * "first sight": every job object is new, so each (job, table) is scanned once and
 * each job's text cut once: the cost of a poll's new jobs for 3 agents.
 * "shared": 100 agents per built-in type decide on the same job objects (300 agents),
 * as one poll of a large runner does.
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ANOMALY_HUNTER_KEYWORDS } from "../src/agents/anomaly-hunter/keywords.ts";
import type { BaseAgentExecutor } from "../src/agents/base-executor.ts";
import { CODE_REVIEWER_KEYWORDS } from "../src/agents/code-reviewer/keywords.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../src/agents/schema-architect/keywords.ts";
import type { AgentConfig, ExecutorContext } from "../src/agents/types.ts";
import { silentLogger } from "../src/logger.ts";
import type { Job } from "../src/marketplace/schemas.ts";
import { checkoutPrevious } from "./support/previous.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    rounds: { type: "string", default: "7" },
    "agents-per-type": { type: "string", default: "100" },
  },
});
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const PER_TYPE = Number(values["agents-per-type"]);
const WORDS = 60;

type ExecutorModule = Record<string, new (config: AgentConfig) => BaseAgentExecutor>;
interface Version {
  name: string;
  executors: BaseAgentExecutor[];
  contexts: ExecutorContext[];
}

const FILLER =
  "the a of to and for with on in by we need our team this that please build make data service users customers new old quick small large system report weekly monthly it its from into about more less than each every".split(
    " ",
  );
const KEYWORD_WORDS = [
  ...Object.keys(SCHEMA_ARCHITECT_KEYWORDS),
  ...Object.keys(ANOMALY_HUNTER_KEYWORDS),
  ...Object.keys(CODE_REVIEWER_KEYWORDS),
];

/** Deterministic jobs: mostly prose, one word in eight from a keyword table, some punctuation. */
function makeJobs(count: number): Job[] {
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const word = (): string => {
    const w =
      next(8) === 0
        ? (KEYWORD_WORDS[next(KEYWORD_WORDS.length)] ?? "api")
        : (FILLER[next(FILLER.length)] ?? "the");
    const r = next(20);
    return r === 0 ? `${w},` : r === 1 ? `${w}.` : r === 2 ? w.toUpperCase() : w;
  };
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: WORDS }, word);
    return {
      job_id: `job_${i.toString(16).padStart(8, "0")}`,
      title: words.slice(0, 8).join(" "),
      description: words.slice(8).join(" "),
      budget_usd: 1 + (i % 5),
      required_capabilities: [],
      min_capability_score: 0.7,
      status: "posted",
      // What the client's schema gives a job that lists none (the tools read it).
      attachments: [],
    } as unknown as Job;
  });
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
    const config = {
      name: className,
      agent_type: type,
      managed: true,
      status: "available",
      capabilities: {},
      base_rate_usd: rate,
    } as AgentConfig;
    executors.push(new Executor(config));
    contexts.push({
      agent: config,
      agentId: "agent_bench",
      llm: { configured: false, complete: () => Promise.reject(new Error("no LLM")) },
      logger: silentLogger(),
      signal: new AbortController().signal,
      defaultModel: "m",
    });
  }
  return { name, executors, contexts };
}

/** µs per decision: each job is decided by `perType` agents of each of the three types. */
async function run(version: Version, jobs: Job[], perType: number): Promise<number> {
  const fresh = jobs.map((job) => ({ ...job })); // new objects: nothing cached from before
  let bids = 0;
  const started = performance.now();
  for (const job of fresh) {
    for (let t = 0; t < 3; t++) {
      const executor = version.executors[t]!;
      const ctx = version.contexts[t]!;
      for (let a = 0; a < perType; a++) {
        if ((await executor.evaluateJob(job, ctx)).canComplete) bids++;
      }
    }
  }
  const elapsed = performance.now() - started;
  if (bids === 0) throw new Error("no bids: the bench jobs do not exercise the evaluator");
  return (elapsed * 1000) / (fresh.length * 3 * perType);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const previous = checkoutPrevious();
try {
  const jobs = makeJobs(JOBS);
  const versions = [
    await load(`previous (${previous.ref})`, previous.dir),
    await load("current", `${import.meta.dirname}/..`),
  ];
  // Same answers from both, or the comparison means nothing.
  for (const job of jobs.slice(0, 200)) {
    for (let t = 0; t < 3; t++) {
      const [a, b] = await Promise.all(
        versions.map((v) => v.executors[t]!.evaluateJob({ ...job }, v.contexts[t]!)),
      );
      if (JSON.stringify(a) !== JSON.stringify(b))
        throw new Error(`versions disagree on ${job.job_id}: ${JSON.stringify([a, b])}`);
    }
  }
  const results: Record<string, { first: number[]; shared: number[] }> = {};
  for (const v of versions) results[v.name] = { first: [], shared: [] };
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const v of versions) {
      const first = await run(v, jobs, 1);
      const shared = await run(v, jobs.slice(0, Math.max(10, JOBS / 10)), PER_TYPE);
      if (round === 0) continue; // warm-up
      results[v.name]!.first.push(first);
      results[v.name]!.shared.push(shared);
    }
  }
  console.log(
    `evaluateJob, 3 built-in tables, ${JOBS} jobs of ${WORDS} words, median of ${ROUNDS} rounds (µs per decision)`,
  );
  console.log("| version | first sight (3 agents) | shared (300 agents) |");
  console.log("| --- | ---: | ---: |");
  for (const [name, r] of Object.entries(results)) {
    console.log(`| ${name} | ${median(r.first).toFixed(2)} | ${median(r.shared).toFixed(2)} |`);
  }
  const [prev, cur] = Object.values(results);
  console.log(
    `speed-up: ${(median(prev!.first) / median(cur!.first)).toFixed(1)}× first sight, ${(median(prev!.shared) / median(cur!.shared)).toFixed(1)}× shared; target ≤ 3 µs`,
  );
} finally {
  previous.remove();
}
