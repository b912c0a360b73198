/**
 * The agents' tools on large inputs: AnomalyHunter on a 10,000-point series,
 * CodeReviewer on a 2,000-line file, SchemaArchitect on 1,000 sample records. For
 * each: the time in a worker thread (as the agents run them, worker start included),
 * the compute time alone (in-process), and the longest event-loop delay while the
 * worker runs, beside two baselines measured in the same run: the loop idle, and the
 * loop while the same tool runs in-process (what a job would cost the runner without
 * the worker). Also the bid decision's bounded parse on the main thread.
 *
 *   npm run bench:tools -- [--repeats 3] [--no-write]
 *
 * Exits 1 when a worker run holds up the event loop for more than 50 ms.
 */
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ANOMALY_HUNTER_DEFAULTS } from "../src/agents/anomaly-hunter/defaults.ts";
import { AnomalyHunterExecutor } from "../src/agents/anomaly-hunter/executor.ts";
import { TOOLS, type ToolInput, type ToolName } from "../src/agents/tools/catalog.ts";
import { runTool } from "../src/agents/tools/run-tool.ts";
import type { InputBlock } from "../src/agents/tools/types.ts";
import type { LlmClient } from "../src/llm/types.ts";
import { silentLogger } from "../src/logger.ts";
import { JobSchema } from "../src/marketplace/schemas.ts";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "3" },
    "no-write": { type: "boolean", default: false },
  },
});
const REPEATS = Math.max(1, Number(values.repeats));
const LOOP_LIMIT_MS = 50;

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** 10,000 hourly points: a daily season, noise, a level shift and a few spikes. */
function seriesCsv(): string {
  const rand = seeded(1);
  const t0 = Date.parse("2025-01-01T00:00:00Z");
  const lines = ["timestamp,requests"];
  for (let i = 0; i < 10_000; i++) {
    let v = 1000 + 300 * Math.sin((2 * Math.PI * (i % 24)) / 24) + 40 * (rand() - 0.5);
    if (i > 6000) v += 250;
    if (i % 2500 === 1234) v += 900;
    lines.push(`${new Date(t0 + i * 3_600_000).toISOString().slice(0, 19)},${v.toFixed(1)}`);
  }
  return lines.join("\n");
}

/** 2,000 lines of ordinary TypeScript with a few planted problems. */
function codeFile(): string {
  const lines: string[] = ['import { readFile } from "node:fs/promises";', ""];
  let n = 0;
  while (lines.length < 2000) {
    n++;
    lines.push(
      `export async function handler${n}(req: { id: string; body: string }, db: { query(q: string, p?: unknown[]): Promise<unknown> }) {`,
      `  const rows = await db.query("SELECT * FROM items WHERE id = $1", [req.id]);`,
      `  const total = [1, 2, 3].reduce((sum, x) => sum + x * ${n}, 0);`,
      n % 40 === 0
        ? "  const result = eval(req.body);"
        : `  const label = \`item-\${req.id}-${n}\`;`,
      n % 50 === 0
        ? '  await db.query("DELETE FROM items WHERE id = " + req.id);'
        : '  const text = await readFile("/etc/hostname", "utf8");',
      "  return { rows, total, text: String(total) };",
      "}",
      "",
    );
  }
  return lines.slice(0, 2000).join("\n");
}

function sampleRecords(): string {
  const rand = seeded(3);
  return JSON.stringify(
    Array.from({ length: 1000 }, (_, i) => ({
      id: i + 1,
      email: `user${i}@example.com`,
      created_at: new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString(),
      total: Number((rand() * 100).toFixed(2)),
      paid: rand() > 0.3,
      customer: { id: 1000 + i, tier: rand() > 0.5 ? "gold" : "basic" },
      items: [{ sku: `SKU-${i % 17}`, qty: 1 + (i % 3) }],
      ...(i % 5 === 0 ? { coupon: "WELCOME" } : {}),
    })),
  );
}

const block = (name: string, language: string, text: string): InputBlock => ({
  source: `file ${name}`,
  name,
  language,
  text,
});

interface Case {
  agent: string;
  input: string;
  tool: ToolName;
  blocks: InputBlock[];
}

const CASES: Case[] = [
  {
    agent: "AnomalyHunter",
    input: "10,000-point series (CSV)",
    tool: "anomalies",
    blocks: [block("series.csv", "csv", seriesCsv())],
  },
  {
    agent: "CodeReviewer",
    input: "2,000-line TypeScript file",
    tool: "codeReview",
    blocks: [block("handlers.ts", "typescript", codeFile())],
  },
  {
    agent: "SchemaArchitect",
    input: "1,000 sample records (JSON)",
    tool: "schemas",
    blocks: [block("orders.json", "json", sampleRecords())],
  },
];

interface LoopRun<T> {
  value: T;
  ms: number;
  maxDelayMs: number;
  p99DelayMs: number;
  /** Time the event loop spent running callbacks (not waiting), measured in a separate run without the sampler. */
  busyMs: number;
}

/** The event-loop delay while `work` runs, sampled every 5 ms. */
async function withLoopDelay<T>(work: () => Promise<T>): Promise<LoopRun<T>> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  // The sampler's first turn must pass before the work, or a block at once goes unseen.
  await new Promise((resolve) => setTimeout(resolve, 15));
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  // Let the sampler run once more: a synchronous block is recorded when the loop resumes.
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  return {
    value,
    ms,
    maxDelayMs: histogram.max / 1e6,
    p99DelayMs: histogram.percentile(99) / 1e6,
    busyMs: Number.NaN,
  };
}

/**
 * The time the loop spent running callbacks while `work` ran, measured without the
 * delay sampler (whose own callbacks, preempted on a loaded machine, would count).
 */
async function withBusyTime<T>(
  work: () => Promise<T>,
): Promise<{ value: T; ms: number; busyMs: number }> {
  const started = performance.now();
  const utilization = performance.eventLoopUtilization();
  const value = await work();
  const busyMs = performance.eventLoopUtilization(utilization).active;
  return { value, ms: performance.now() - started, busyMs };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(200, ms)));
const idleFor = (ms: number) => withLoopDelay(() => pause(ms));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) =>
  ms >= 100 ? `${Math.round(ms).toLocaleString("en-US")} ms` : `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const rows: string[][] = [];
  let failed = false;

  for (const c of CASES) {
    const input = { blocks: c.blocks } as ToolInput<typeof c.tool>;
    const workerRuns: LoopRun<unknown>[] = [];
    const idleRuns: LoopRun<unknown>[] = [];
    let summary = "";
    for (let r = 0; r < REPEATS; r++) {
      const run = await withLoopDelay(() =>
        runTool(c.tool, input, { budget: { timeoutMs: 120_000 } }),
      );
      if (!run.value.ok) throw new Error(`${c.tool}: ${run.value.error}`);
      summary = describe(c.tool, run.value.value);
      // The baseline, interleaved: the idle loop for as long as the run took.
      const idle = await idleFor(run.ms);
      // Busy time, again without the sampler: the tool's run, then the idle loop as long.
      const busy = await withBusyTime(() =>
        runTool(c.tool, input, { budget: { timeoutMs: 120_000 } }),
      );
      const idleBusy = await withBusyTime(() => pause(busy.ms));
      workerRuns.push({ ...run, busyMs: busy.busyMs });
      idleRuns.push({ ...idle, busyMs: idleBusy.busyMs });
    }
    // In-process: warm once (module loading), then measure the compute alone.
    const direct = TOOLS[c.tool] as (i: typeof input) => Promise<unknown>;
    await direct(input);
    const inline: LoopRun<unknown>[] = [];
    for (let r = 0; r < REPEATS; r++) inline.push(await withLoopDelay(() => direct(input)));

    const workerMs = median(workerRuns.map((r) => r.ms));
    const workerMax = Math.max(...workerRuns.map((r) => r.maxDelayMs));
    const workerP99 = Math.max(...workerRuns.map((r) => r.p99DelayMs));
    const idleMax = Math.max(...idleRuns.map((r) => r.maxDelayMs));
    const idleP99 = Math.max(...idleRuns.map((r) => r.p99DelayMs));
    const computeMs = median(inline.map((r) => r.ms));
    const inlineMax = Math.max(...inline.map((r) => r.maxDelayMs));
    const workerBusy = Math.max(...workerRuns.map((r) => r.busyMs));
    const idleBusy = Math.max(...idleRuns.map((r) => r.busyMs));
    // The loop cannot have been blocked longer than it was busy in all. Busy time beyond
    // the idle loop's (its sampling timer, the machine's load) is the tools' cost; when
    // that is under 50 ms, so is every block it caused.
    if (workerBusy - idleBusy > LOOP_LIMIT_MS && workerMax > Math.max(LOOP_LIMIT_MS, idleMax)) {
      failed = true;
    }
    console.log(
      `${c.agent}: ${c.input}: worker ${fmt(workerMs)}, loop busy ${fmt(workerBusy)} (idle ${fmt(idleBusy)}), loop p99/max ${fmt(workerP99)}/${fmt(workerMax)} (idle baseline ${fmt(idleP99)}/${fmt(idleMax)}); compute ${fmt(computeMs)}, in-process loop max ${fmt(inlineMax)}; ${summary}`,
    );
    rows.push([
      c.agent,
      c.input,
      fmt(workerMs),
      fmt(computeMs),
      `**${fmt(workerBusy)}** (idle: ${fmt(idleBusy)})`,
      `${fmt(workerP99)} / ${fmt(workerMax)}`,
      `${fmt(idleP99)} / ${fmt(idleMax)}`,
      fmt(inlineMax),
      summary,
    ]);
  }

  // The bid decision parses the description on the main thread, bounded to 64 KB.
  const executor = new AnomalyHunterExecutor(structuredClone(ANOMALY_HUNTER_DEFAULTS) as never);
  const bigJob = JobSchema.parse({
    job_id: "job_bench",
    status: "posted",
    title: "Find anomalies in this time series",
    description: `\`\`\`csv\n${seriesCsv()}\n\`\`\``,
    budget_usd: 1,
  });
  const ctx = {
    agent: structuredClone(ANOMALY_HUNTER_DEFAULTS) as never,
    agentId: "agent_bench",
    llm: { configured: false } as LlmClient,
    logger: silentLogger(),
    signal: new AbortController().signal,
    defaultModel: "none",
  };
  await executor.evaluateJob(bigJob, ctx);
  const evals: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    await executor.evaluateJob(bigJob, ctx);
    evals.push(performance.now() - t);
  }
  const evalMs = median(evals);
  console.log(
    `bid decision on a job with a 10,000-point series in its description: ${fmt(evalMs)}`,
  );

  if (!values["no-write"]) await writeResults(rows, evalMs);
  if (failed) {
    console.error(`a worker run held up the event loop for more than ${LOOP_LIMIT_MS} ms`);
    process.exit(1);
  }
}

function describe(tool: ToolName, value: unknown): string {
  if (tool === "anomalies") {
    const v = value as { analyses: { anomalies: { kind: string }[]; period: number | null }[] };
    const a = v.analyses[0]!;
    return `${a.anomalies.length} flagged (${a.anomalies.filter((x) => x.kind === "level shift").length} level shift), period ${a.period}`;
  }
  if (tool === "codeReview") {
    const v = value as { findings: { rule: string }[] };
    return `${v.findings.length} findings`;
  }
  const v = value as { inferred: { samplesValid: boolean; ddlValid: boolean | null }[] };
  return `schema inferred, samples valid: ${v.inferred[0]?.samplesValid}, DDL valid: ${v.inferred[0]?.ddlValid}`;
}

async function writeResults(rows: string[][], evalMs: number): Promise<void> {
  const path = join(import.meta.dirname, "RESULTS.md");
  const current = await readFile(path, "utf8");
  const heading = "## `npm run bench:tools` — the agents' tools on large inputs";
  const section = [
    heading,
    "",
    `Measured ${new Date().toISOString().slice(0, 10)} on the project's machine (2 cores, Node ${process.versions.node}), with other work running beside it (load average ${loadavg()[0]!.toFixed(1)} at the end). ${REPEATS} runs each; times are medians, delays the maximum of the runs.`,
    "",
    "| agent | input | in a worker (as run) | compute alone | event loop busy in all while it runs in its worker | event-loop delay p99 / max, worker run | baseline: idle loop delay p99 / max, same run | the same tool in-process: loop delay max |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.slice(0, 8).join(" | ")} |`),
    "",
    `- Results: ${rows.map((r) => `${r[0]}: ${r[8]}`).join("; ")}.`,
    '- "Busy in all" is the time the main thread spent running callbacks during a worker run (performance.eventLoopUtilization, measured in a second run of each repeat without the delay sampler, whose own callbacks would count), beside the same figure for the idle loop over the same time. No block the tools cause can be longer than the difference, so it bounds their cost to the event loop whatever the machine\'s load; the delay columns include that load.',
    `- The baseline is the idle event loop (nothing but the delay sampler, every 5 ms), measured after each worker run for as long as that run took. Delays at or above it come from the machine (other processes on the 2 cores), not from the tools. The bench fails when a worker run keeps the loop busy ${LOOP_LIMIT_MS} ms longer than the idle loop and its delay exceeds both ${LOOP_LIMIT_MS} ms and the idle baseline; the last column is what the same work blocks the loop for when run in-process, which the worker avoids.`,
    "- The worker thread lowers its own priority (nice 10, Linux threads have their own) before loading anything, so on a busy 2-core machine the event loop stays first in line for the CPU. Before that change, with the machine's load average near 18, worker runs showed loop delays up to 286 ms where the idle loop showed 177 ms, though the main thread itself was busy only a few milliseconds: the worker was competing for the cores, not blocking the loop.",
    "- \"In a worker\" includes starting the thread and loading the tool's libraries (ESLint with typescript-eslint and secretlint, or the OpenAPI parser and ajv), which is most of the CodeReviewer's and SchemaArchitect's time.",
    `- The bid decision (AnomalyHunter's evaluateJob on a job whose description holds the whole 10,000-point CSV) parses only the first 64 KB on the main thread: ${fmt(evalMs)}.`,
    "",
    "Command: `npm run bench:tools`.",
    "",
  ].join("\n");
  const start = current.indexOf(heading);
  let next: string;
  if (start === -1) next = `${current.trimEnd()}\n\n${section}`;
  else {
    const end = current.indexOf("\n## ", start + heading.length);
    next = current.slice(0, start) + section + (end === -1 ? "" : current.slice(end + 1));
  }
  await writeFile(path, next);
}

await main();
