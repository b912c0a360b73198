import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { AnomalyHunterExecutor } from "../../src/agents/anomaly-hunter/executor.ts";
import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { CodeReviewerExecutor } from "../../src/agents/code-reviewer/executor.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { SchemaArchitectExecutor } from "../../src/agents/schema-architect/executor.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";
import type { Job } from "../../src/marketplace/schemas.ts";
import { decideFromEvaluation } from "../../src/runner/policy/bid-decision.ts";
import { makeAgent, makeContext } from "./helpers.ts";

/**
 * The job texts bid decisions are measured and checked on (`npm run bench:evaluate`,
 * test/agents/decisions-unchanged.test.ts): deterministic, so a recorded decision
 * stays comparable.
 *
 * - "prose": mostly filler, one word in eight from a keyword table;
 * - "dense": every word from the keyword tables or the job vocabulary (half each), the
 *   corpus the seed's evaluator was measured on: many matches and many near-misses
 *   (a phrase's first word without the rest) per job.
 */

export type CorpusName = "prose" | "dense";
export const CORPORA: readonly CorpusName[] = ["prose", "dense"];
export const WORDS_PER_JOB = 60;

const FILLER =
  "the a of to and for with on in by we need our team this that please build make data service users customers new old quick small large system report weekly monthly it its from into about more less than each every".split(
    " ",
  );

/** Words of job postings for these agents, many of them the first word of a keyword phrase. */
const JOB_VOCABULARY = [
  ...FILLER,
  ..."design review detect find fix write document spec specification endpoint endpoints service services table tables column columns field fields query queries record records event events metric log logs sensor sensors code pull security performance time series change point data model database relational primary foreign star entity request response api one many local standard pattern root test unit error input type dead technical thread race memory buffer static path cross hardcoded secure big sql schema graphql json rest orders payments invoices accounts inventory shipments sessions latency throughput errors alerts dashboard pipeline batch stream nightly production staging customer user admin billing checkout search catalog".split(
    " ",
  ),
];

export const KEYWORD_TABLE_WORDS: readonly string[] = [
  ...Object.keys(SCHEMA_ARCHITECT_KEYWORDS),
  ...Object.keys(ANOMALY_HUNTER_KEYWORDS),
  ...Object.keys(CODE_REVIEWER_KEYWORDS),
];

/**
 * mulberry32: the same jobs on every machine and run. (The bench's earlier generator,
 * `(state * 1103515245 + 12345) % 2 ** 31` on doubles, lost bits beyond 2 ** 53 and fell
 * into a short cycle whose low bits made its "one keyword in eight" nearly all keywords.)
 */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Commas, full stops and capitals now and then, as people write (`capitalize`: "Word" too). */
function dress(word: string, roll: number, capitalize = false): string {
  if (roll === 0) return `${word},`;
  if (roll === 1) return `${word}.`;
  if (roll === 2) return word.toUpperCase();
  if (roll === 3 && capitalize) return `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
  return word;
}

function prose(next: (n: number) => number): string[] {
  const words: string[] = [];
  while (words.length < WORDS_PER_JOB) {
    const word =
      next(8) === 0
        ? (KEYWORD_TABLE_WORDS[next(KEYWORD_TABLE_WORDS.length)] ?? "api")
        : (FILLER[next(FILLER.length)] ?? "the");
    words.push(dress(word, next(20)));
  }
  return words;
}

function dense(next: (n: number) => number): string[] {
  const words: string[] = [];
  while (words.length < WORDS_PER_JOB) {
    const drawn =
      next(2) === 0
        ? (KEYWORD_TABLE_WORDS[next(KEYWORD_TABLE_WORDS.length)] ?? "api")
        : (JOB_VOCABULARY[next(JOB_VOCABULARY.length)] ?? "the");
    // A phrase counts its words; the last one takes the punctuation.
    const parts = drawn.split(" ");
    parts[parts.length - 1] = dress(parts[parts.length - 1] ?? "", next(20), true);
    words.push(...parts);
  }
  return words.slice(0, WORDS_PER_JOB);
}

/** `count` jobs of the corpus, 60 words each (title: the first 8). */
export function corpusJobs(corpus: CorpusName, count: number): Job[] {
  return corpusStream(corpus)(count);
}

/**
 * The corpus's jobs as they come, `count` at a time: the same jobs as corpusJobs, in the
 * same order, without holding the ones already taken (a bench of many rounds builds
 * each round's jobs when it starts, so the heap holds one round's, as a runner holds one
 * listing).
 */
export function corpusStream(corpus: CorpusName): (count: number) => Job[] {
  const next = generator(corpus === "prose" ? 42 : 4242);
  let taken = 0;
  return (count) =>
    Array.from({ length: count }, () => {
      const i = taken++;
      const words = corpus === "prose" ? prose(next) : dense(next);
      return {
        job_id: `job_${corpus}_${i.toString(16).padStart(8, "0")}`,
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

/** The three built-in agents, as the bench and the decisions test run them. */
export const BUILTIN_AGENTS = [
  { type: "schema_architect", Executor: SchemaArchitectExecutor, rate: 0.04 },
  { type: "anomaly_hunter", Executor: AnomalyHunterExecutor, rate: 0.05 },
  { type: "code_reviewer", Executor: CodeReviewerExecutor, rate: 0.03 },
] as const;

/** A value as JSON with its keys sorted: two decisions compare equal whatever order their fields were set in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * One line per job: each built-in agent's evaluation of it and the bid decision made
 * from that, as canonical JSON. Every job object is new to the caches.
 */
export async function corpusDecisions(jobs: readonly Job[]): Promise<string[]> {
  const agents = BUILTIN_AGENTS.map(({ type, Executor, rate }) => {
    const config = makeAgent({ agent_type: type, base_rate_usd: rate });
    return { executor: new Executor(config), ctx: makeContext(config) };
  });
  const lines: string[] = [];
  for (const listed of jobs) {
    const job = { ...listed };
    const decisions: unknown[] = [];
    for (const { executor, ctx } of agents) {
      const evaluation = await executor.evaluateJob(job, ctx);
      decisions.push({
        evaluation,
        decision: decideFromEvaluation(job, { kind: "ok", value: evaluation }, 1000),
      });
    }
    lines.push(canonical(decisions));
  }
  return lines;
}

/** SHA-256 of each run of `size` lines: a changed decision shows which jobs it is among. */
export function chunkDigests(lines: readonly string[], size: number): string[] {
  const digests: string[] = [];
  for (let i = 0; i < lines.length; i += size) {
    digests.push(
      createHash("sha256")
        .update(lines.slice(i, i + size).join("\n"))
        .digest("hex"),
    );
  }
  return digests;
}

/** Where the decisions of the implementation before issue 26 are recorded. */
export const DECISIONS_FIXTURE = new URL("./decisions-before-issue-26.json", import.meta.url);
export const FIXTURE_JOBS = 1000;
export const FIXTURE_CHUNK = 50;

export interface DecisionsFixture {
  recordedAt: string;
  recordedFrom: string;
  jobs: number;
  chunk: number;
  /** Per corpus: chunk digests, and the decisions' first line spelled out (to see a change). */
  corpora: Record<CorpusName, { digests: string[]; first: string; bids: number }>;
}

export async function recordDecisions(from: string): Promise<DecisionsFixture> {
  const corpora = {} as DecisionsFixture["corpora"];
  for (const corpus of CORPORA) {
    const lines = await corpusDecisions(corpusJobs(corpus, FIXTURE_JOBS));
    corpora[corpus] = {
      digests: chunkDigests(lines, FIXTURE_CHUNK),
      first: lines[0] ?? "",
      bids: lines.reduce((n, line) => n + (line.match(/"kind":"bid"/g)?.length ?? 0), 0),
    };
  }
  return {
    recordedAt: new Date().toISOString(),
    recordedFrom: from,
    jobs: FIXTURE_JOBS,
    chunk: FIXTURE_CHUNK,
    corpora,
  };
}

// node test/agents/evaluation-corpus.ts --record <what>: (re)writes the fixture. Only
// for a deliberate change of decisions: the test compares against what is recorded.
if (import.meta.main && process.argv[2] === "--record") {
  const fixture = await recordDecisions(process.argv[3] ?? "unnamed");
  writeFileSync(DECISIONS_FIXTURE, `${JSON.stringify(fixture, null, 2)}\n`);
  console.log(`wrote ${DECISIONS_FIXTURE.pathname}`);
}
