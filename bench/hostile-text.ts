/**
 * Hostile job text on the main thread: the inputs of issue 28 that froze the runner,
 * each run through the version before the fix (extracted from git) and the current
 * code in the same process.
 *
 *   node bench/hostile-text.ts            # baseline: BENCH_BASELINE_REF, else 2114618
 *
 * CPU time of the main thread. The old code gets one run per input (some take
 * seconds); the current code the median of five after a warm-up. An input the old
 * code cannot finish in minutes is not run on it.
 */
import type { KeywordAgentExecutor } from "../src/agents/keyword-executor.ts";
import type { AgentConfig, ExecutorContext } from "../src/agents/types.ts";
import { silentLogger } from "../src/logger.ts";
import type { Job } from "../src/marketplace/schemas.ts";
import { checkoutPrevious } from "./support/previous.ts";

interface Version {
  artefactKindOf(block: { language: string; text: string }): unknown;
  extractFromText(text: string): unknown;
  parseSeries(blocks: { source: string; name: string; language: string; text: string }[]): unknown;
  checkCitedLines(text: string, files: never[]): unknown;
  decide(description: string): void;
  prompt(description: string): string;
}

const agent: AgentConfig = {
  name: "Bench",
  agent_type: "schema_architect",
  managed: true,
  status: "available",
  capabilities: {},
  base_rate_usd: 0.04,
};
const ctx = {
  agent,
  agentId: "agent_bench",
  llm: { configured: false },
  logger: silentLogger(),
  signal: new AbortController().signal,
  defaultModel: "m",
} as unknown as ExecutorContext;
const baseJob = {
  job_id: "job_bench",
  title: "Design the schema",
  status: "posted",
  budget_usd: 1,
  required_capabilities: [],
  attachments: [],
} as unknown as Job;

async function load(root: string): Promise<Version> {
  const tools = `${root}/src/agents/tools`;
  const schema = await import(`${tools}/schema-samples.ts`);
  const inputs = await import(`${tools}/inputs.ts`);
  const series = await import(`${tools}/series.ts`);
  const findings = await import(`${tools}/code-findings.ts`);
  const { SchemaArchitectExecutor } = await import(
    `${root}/src/agents/schema-architect/executor.ts`
  );
  const executor = new SchemaArchitectExecutor(agent) as KeywordAgentExecutor;
  let n = 0;
  return {
    artefactKindOf: schema.artefactKindOf,
    extractFromText: inputs.extractFromText,
    parseSeries: series.parseSeries,
    checkCitedLines: findings.checkCitedLines,
    // A new title each time: the keyword scan is cached per title.
    decide: (description) =>
      void executor.evaluateJob({ ...baseJob, title: `job ${n++}`, description }, ctx),
    prompt: (description) =>
      (executor as unknown as { buildTaskPrompt(job: Job): string }).buildTaskPrompt({
        ...baseJob,
        description,
      }),
  };
}

interface Case {
  name: string;
  run(v: Version): unknown;
  /** Too slow to run on the old code at all. */
  skipOld?: string;
}

const lines = (n: number) => "\n".repeat(n);
const CASES: Case[] = [
  ...[1000, 2000].map((n) => ({
    name: `OpenAPI check of a JSON block of ${n.toLocaleString("en")} newlines`,
    run: (v: Version) => v.artefactKindOf({ language: "json", text: lines(n) }),
  })),
  {
    name: "OpenAPI check of a JSON block of 16,000 newlines",
    run: (v) => v.artefactKindOf({ language: "json", text: lines(16_000) }),
    skipOld: "did not finish in 300 s (issue 28)",
  },
  {
    name: "SchemaArchitect's bid decision: a code fence around 3,000 newlines",
    run: (v) => v.decide(`\`\`\`json\n${lines(3000)}\`\`\``),
  },
  {
    name: "description of 66 KB of unclosed `~~~a` lines",
    run: (v) => v.extractFromText("~~~a\n".repeat(13_200)),
  },
  {
    name: "description with a 64 KB digit token",
    run: (v) => v.extractFromText(`1 2 3 4 5 6 7 8 9 ${"1".repeat(64_000)}x`),
  },
  {
    name: "8 log lines of 8 KB dotted names without a value",
    run: (v) =>
      v.parseSeries([
        {
          source: "log",
          name: "a.log",
          language: "log",
          text: `2024-01-01T00:00 ${"a.".repeat(4000)}\n`.repeat(8),
        },
      ]),
  },
  {
    name: "task prompt of `<` and 20,000 spaces",
    run: (v) => v.prompt(`<${" ".repeat(20_000)}x`),
  },
  {
    name: "cited-line check of 64 KB of `a.`",
    run: (v) => v.checkCitedLines("a.".repeat(32_000), []),
  },
];

/** CPU time: the main thread is blocked for as long as it works, whatever else the machine runs. */
function ms(f: () => unknown): number {
  const started = process.cpuUsage();
  f();
  const { user, system } = process.cpuUsage(started);
  return (user + system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const format = (value: number) =>
  value >= 100 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(2)} ms`;

const previous = checkoutPrevious(process.env.BENCH_BASELINE_REF ?? "2114618");
try {
  const old = await load(previous.dir);
  const current = await load(new URL("..", import.meta.url).pathname.replace(/\/$/, ""));
  console.log(`| input | before (${previous.ref}) | now | |`);
  console.log("| --- | --- | --- | --- |");
  for (const c of CASES) {
    c.run(current); // compiled before it is timed
    const now = median(Array.from({ length: 5 }, () => ms(() => c.run(current))));
    const before = c.skipOld ? undefined : ms(() => c.run(old));
    const cell = before === undefined ? `not run: ${c.skipOld}` : format(before);
    const factor = before === undefined ? "" : `${Math.round(before / Math.max(now, 0.001))}×`;
    console.log(`| ${c.name} | ${cell} | **${format(now)}** | ${factor} |`);
  }
} finally {
  previous.remove();
}
