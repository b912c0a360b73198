/**
 * Memory, CPU and marketplace requests of a steady runner, N agents, poll 2 s and
 * heartbeat 4 s, beside the previous version (the branch point, extracted from git by
 * the bench) in the same run on the same machine. Each runner is a child process
 * against a marketplace served by the bench on loopback, which counts its requests.
 * The current version runs compiled (dist/, as `npm start` does); the previous one
 * from its TypeScript sources, as its `npm start` did.
 *
 *   npm run bench:steady -- [--agents 3,30,300] [--bids-at 300] [--window 30] [--warmup 10]
 *                           [--big 10000] [--versions previous,current] [--phases steady,bids]
 *
 * With --bids-at N, the N-agent run then gets 10 jobs every agent bids on (N × 10
 * bids) and is measured again. --big N adds a run of N agents from AGENTS_FILE at
 * poll 30 s, heartbeat 60 s. `--phases bids` measures the N-agent run only after its
 * bids (the one-hour flatness run: `--agents 300 --phases bids --warmup 60 --window 3600`).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Counts, postJobTo, waitUntil, writeAgentsFile } from "./support/market.ts";
import { median, type RunnerChild, sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "3,30,300" },
    "bids-at": { type: "string", default: "300" },
    window: { type: "string", default: "30" },
    warmup: { type: "string", default: "10" },
    big: { type: "string", default: "0" },
    versions: { type: "string", default: "previous,current" },
    phases: { type: "string", default: "steady,bids" },
  },
});
const WINDOW_S = Number(values.window);
const WARMUP_S = Number(values.warmup);
const BIDS_AT = Number(values["bids-at"]);
const BIG = Number(values.big);
const JOBS_FOR_BIDS = 10;
const PHASES = new Set(values.phases.split(","));

interface Window {
  rssMb: number;
  growthPct: number;
  cpuPct: number;
  /** The CPU % of the main thread and of V8's helper threads (collector, compilers). */
  mainPct: number;
  v8WorkersPct: number;
  requestsPerAgentMinute: number;
  heartbeatsPerAgentMinute: number;
  listingsPerMinute: number;
}

async function measure(runner: RunnerChild, counts: Counts, agents: number): Promise<Window> {
  await sleep(WARMUP_S * 1000);
  const start = { ...counts };
  const cpu0 = runner.cpuSeconds();
  const threads0 = runner.cpuSecondsByThread();
  const t0 = Date.now();
  const samples: number[] = [];
  while (Date.now() - t0 < WINDOW_S * 1000) {
    samples.push(runner.rssMb());
    // A long window (the flatness run) shows its course every five minutes.
    if (WINDOW_S >= 600 && samples.length % 300 === 0)
      console.log(
        `  ${samples.length} s into the window: RSS ${median(samples.slice(-10)).toFixed(0)} MB`,
      );
    await sleep(1000);
  }
  const minutes = (Date.now() - t0) / 60_000;
  const cpu = runner.cpuSeconds() - cpu0;
  const threads1 = runner.cpuSecondsByThread();
  const threadPct = (name: string) =>
    (((threads1.get(name) ?? 0) - (threads0.get(name) ?? 0)) / (minutes * 60)) * 100;
  const first = median(samples.slice(0, 3));
  const last = median(samples.slice(-3));
  return {
    rssMb: median(samples),
    growthPct: ((last - first) / first) * 100,
    cpuPct: (cpu / (minutes * 60)) * 100,
    mainPct: threadPct("MainThread"),
    v8WorkersPct: threadPct("V8Worker"),
    requestsPerAgentMinute: (counts.total - start.total) / agents / minutes,
    heartbeatsPerAgentMinute: (counts.heartbeats - start.heartbeats) / agents / minutes,
    listingsPerMinute: (counts.listings - start.listings) / minutes,
  };
}

interface Row {
  version: string;
  agents: number;
  phase: string;
  startup: string;
  w: Window;
}

async function run(version: Version, agents: number, pollS: number, heartbeatS: number) {
  const rows: Row[] = [];
  const env = { AGENT_POLL_INTERVAL: String(pollS), AGENT_HEARTBEAT_INTERVAL: String(heartbeatS) };
  const setup = (dir: string): Record<string, string> => {
    if (agents === 3) return {}; // the built-in agents, as `npm start` runs them
    const file = join(dir, "agents.json");
    writeAgentsFile(file, agents);
    return { AGENTS_FILE: file };
  };
  await withRunner(version, { env, setup }, async ({ market, counts, runner }) => {
    const upMs = await waitUntil(
      `${agents} agents heartbeating`,
      () => counts.heartbeatAgents.size >= agents,
      600_000,
    );
    const startup = `all heartbeating ${(upMs / 1000).toFixed(1)} s after start`;
    const base = { version: version.name, agents };
    if (PHASES.has("steady"))
      rows.push({ ...base, phase: "steady", startup, w: await measure(runner, counts, agents) });
    if (agents !== BIDS_AT || !PHASES.has("bids")) return;
    const before = counts.bidsOk;
    for (let i = 0; i < JOBS_FOR_BIDS; i++) await postJobTo(market);
    const bidMs = await waitUntil(
      `${agents * JOBS_FOR_BIDS} bids`,
      () => counts.bidsOk - before >= agents * JOBS_FOR_BIDS,
      600_000,
    );
    rows.push({
      ...base,
      phase: `after ${agents * JOBS_FOR_BIDS} bids`,
      startup: `bids placed in ${(bidMs / 1000).toFixed(1)} s`,
      w: await measure(runner, counts, agents),
    });
  });
  return rows;
}

await compareVersions(async ({ previous, current }) => {
  const wanted = values.versions.split(",");
  const versions = [previous, current].filter((v) => wanted.some((w) => v.name.startsWith(w)));
  const rows: Row[] = [];
  for (const agents of values.agents.split(",").filter(Boolean).map(Number)) {
    for (const v of versions) rows.push(...(await run(v, agents, 2, 4)));
  }
  if (BIG > 0) for (const v of versions) rows.push(...(await run(v, BIG, 30, 60)));
  console.log(
    `\nsteady runner, window ${WINDOW_S} s after ${WARMUP_S} s warm-up (poll 2 s, heartbeat 4 s; the ${BIG || "big"}-agent run poll 30 s, heartbeat 60 s)`,
  );
  console.log(
    "| agents | phase | version | RSS MB | RSS growth in window | CPU % of a core (main thread / V8 helpers) | requests / agent / min | heartbeats / agent / min | listings / min | note |",
  );
  console.log("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.agents} | ${r.phase} | ${r.version} | ${r.w.rssMb.toFixed(0)} | ${r.w.growthPct.toFixed(1)} % | ${r.w.cpuPct.toFixed(1)} (${r.w.mainPct.toFixed(1)} / ${r.w.v8WorkersPct.toFixed(1)}) | ${r.w.requestsPerAgentMinute.toFixed(1)} | ${r.w.heartbeatsPerAgentMinute.toFixed(1)} | ${r.w.listingsPerMinute.toFixed(1)} | ${r.startup} |`,
    );
  }
  console.log(
    "targets: RSS ≤ 100 MB at 3 agents, ≤ 150 MB at 300 after 3,000 bids; requests ≤ 15 + 60/N per agent per minute",
  );
});
