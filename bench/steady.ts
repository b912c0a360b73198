/**
 * Memory, CPU and marketplace requests of a steady runner, N agents, poll 2 s and
 * heartbeat 4 s, beside the previous version (the branch point, extracted from git by
 * the bench) in the same run on the same machine. Each runner is a child process
 * against a marketplace served by the bench on loopback, which counts its requests.
 * The current version runs compiled (dist/, as `npm start` does); the previous one
 * from its TypeScript sources, as its `npm start` did.
 *
 *   npm run bench:steady -- [--agents 3,30,300] [--bids-at 300] [--window 30] [--warmup 10]
 *                           [--big 10000] [--versions previous,current]
 *
 * With --bids-at N, the N-agent run then gets 10 jobs every agent bids on (N × 10
 * bids) and is measured again. --big N adds a run of N agents from AGENTS_FILE at
 * poll 30 s, heartbeat 60 s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type Counts,
  postJobTo,
  startCountingMarketplace,
  waitUntil,
  writeAgentsFile,
} from "./support/market.ts";
import { checkoutPrevious } from "./support/previous.ts";
import {
  buildCurrent,
  entryOf,
  median,
  ROOT,
  RunnerChild,
  sleep,
  startFlags,
} from "./support/runner-child.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "3,30,300" },
    "bids-at": { type: "string", default: "300" },
    window: { type: "string", default: "30" },
    warmup: { type: "string", default: "10" },
    big: { type: "string", default: "0" },
    versions: { type: "string", default: "previous,current" },
  },
});
const WINDOW_S = Number(values.window);
const WARMUP_S = Number(values.warmup);
const BIDS_AT = Number(values["bids-at"]);
const BIG = Number(values.big);
const JOBS_FOR_BIDS = 10;

interface Window {
  rssMb: number;
  growthPct: number;
  cpuPct: number;
  requestsPerAgentMinute: number;
  heartbeatsPerAgentMinute: number;
  listingsPerMinute: number;
}

async function measure(runner: RunnerChild, counts: Counts, agents: number): Promise<Window> {
  await sleep(WARMUP_S * 1000);
  const start = { ...counts };
  const cpu0 = runner.cpuSeconds();
  const t0 = Date.now();
  const samples: number[] = [];
  while (Date.now() - t0 < WINDOW_S * 1000) {
    samples.push(runner.rssMb());
    await sleep(1000);
  }
  const minutes = (Date.now() - t0) / 60_000;
  const cpu = runner.cpuSeconds() - cpu0;
  const first = median(samples.slice(0, 3));
  const last = median(samples.slice(-3));
  return {
    rssMb: median(samples),
    growthPct: ((last - first) / first) * 100,
    cpuPct: (cpu / (minutes * 60)) * 100,
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

async function run(
  version: { name: string; root: string; compiled: boolean },
  agents: number,
  pollS: number,
  heartbeatS: number,
): Promise<Row[]> {
  const { market, counts, url } = await startCountingMarketplace();
  const dir = mkdtempSync(join(tmpdir(), "bench-steady-"));
  const env: Record<string, string> = {
    BAZAAR_API_URL: url,
    AGENT_POLL_INTERVAL: String(pollS),
    AGENT_HEARTBEAT_INTERVAL: String(heartbeatS),
    RUNNER_STATE_DIR: join(dir, "state"),
    HOST: "127.0.0.1",
    PORT: "0",
  };
  if (agents !== 3) {
    env.AGENTS_FILE = join(dir, "agents.json");
    writeAgentsFile(env.AGENTS_FILE, agents);
  }
  const runner = new RunnerChild(
    entryOf(version.root, version.compiled),
    env,
    dir,
    version.compiled ? startFlags() : [],
  );
  const rows: Row[] = [];
  try {
    const upMs = await waitUntil(
      `${agents} agents heartbeating`,
      () => counts.heartbeatAgents.size >= agents,
      600_000,
    );
    const startup = `all heartbeating ${(upMs / 1000).toFixed(1)} s after start`;
    rows.push({
      version: version.name,
      agents,
      phase: "steady",
      startup,
      w: await measure(runner, counts, agents),
    });
    if (agents === BIDS_AT) {
      const before = counts.bids;
      for (let i = 0; i < JOBS_FOR_BIDS; i++) await postJobTo(market);
      const bidMs = await waitUntil(
        `${agents * JOBS_FOR_BIDS} bids`,
        () => counts.bids - before >= agents * JOBS_FOR_BIDS,
        600_000,
      );
      rows.push({
        version: version.name,
        agents,
        phase: `after ${agents * JOBS_FOR_BIDS} bids`,
        startup: `bids placed in ${(bidMs / 1000).toFixed(1)} s`,
        w: await measure(runner, counts, agents),
      });
    }
  } catch (error) {
    process.stderr.write(`${version.name}, ${agents} agents: ${String(error)}\n${runner.output}\n`);
  } finally {
    await runner.stop();
    await market.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const previous = checkoutPrevious();
try {
  buildCurrent();
  const all = [
    { name: `previous (${previous.ref})`, root: previous.dir, compiled: false },
    { name: "current", root: ROOT, compiled: true },
  ];
  const wanted = values.versions.split(",");
  const versions = all.filter((v) => wanted.some((w) => v.name.startsWith(w)));
  const rows: Row[] = [];
  for (const agents of values.agents.split(",").map(Number)) {
    for (const v of versions) rows.push(...(await run(v, agents, 2, 4)));
  }
  if (BIG > 0) for (const v of versions) rows.push(...(await run(v, BIG, 30, 60)));
  console.log(
    `\nsteady runner, window ${WINDOW_S} s after ${WARMUP_S} s warm-up (poll 2 s, heartbeat 4 s; the ${BIG || "big"}-agent run poll 30 s, heartbeat 60 s)`,
  );
  console.log(
    "| agents | phase | version | RSS MB | RSS growth in window | CPU % of a core | requests / agent / min | heartbeats / agent / min | listings / min | note |",
  );
  console.log("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.agents} | ${r.phase} | ${r.version} | ${r.w.rssMb.toFixed(0)} | ${r.w.growthPct.toFixed(1)} % | ${r.w.cpuPct.toFixed(1)} | ${r.w.requestsPerAgentMinute.toFixed(1)} | ${r.w.heartbeatsPerAgentMinute.toFixed(1)} | ${r.w.listingsPerMinute.toFixed(1)} | ${r.startup} |`,
    );
  }
  console.log(
    "targets: RSS ≤ 100 MB at 3 agents, ≤ 150 MB at 300 after 3,000 bids; requests ≤ 15 + 60/N per agent per minute",
  );
} finally {
  previous.remove();
}
