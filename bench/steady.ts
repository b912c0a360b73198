/**
 * Memory, CPU and marketplace requests of a steady runner, N agents, poll 2 s and
 * heartbeat 4 s, through each way of starting it (bench/support/doors.ts): `npm start`,
 * the bin (`npx bazaar-runner`, a global install, the image, Railway), node with the
 * runtime flags, and plain node without them, the baseline, each beside the others in
 * the same run on the same machine. Each runner is a child process against a
 * marketplace served by the bench on loopback, which counts its requests. `previous`
 * (the branch point, extracted from git, run from its sources as its `npm start` did)
 * can join as another door.
 *
 *   npm run bench:steady -- [--agents 3,30,300] [--bids-at 300] [--window 30] [--warmup 10]
 *                           [--big 10000] [--big-heartbeat 60] [--doors bare,flags,bin,npm] [--repeats 1]
 *                           (doors also: semi=N, drop=FLAG, node:FLAG+FLAG…, previous)
 *                           [--phases steady,bids] [--startup-timeout 600]
 *
 * With --bids-at N, the N-agent run then gets 10 jobs every agent bids on (N × 10
 * bids) and is measured again. --big N adds a run of N agents from AGENTS_FILE at
 * poll 30 s, heartbeat 60 s (`--big-heartbeat S`). `--phases bids` measures the N-agent run only after its
 * bids (the one-hour flatness run: `--agents 300 --phases bids --warmup 60 --window 3600`).
 * --repeats R runs every door R times, the doors taking turns, and gives each figure's
 * range; the load average beside each run says how busy the machine was.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DOORS, type Door, doorFor } from "./support/doors.ts";
import { type Counts, postJobTo, waitUntil, writeAgentsFile } from "./support/market.ts";
import { median, type RunnerChild, range, sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "3,30,300" },
    "bids-at": { type: "string", default: "300" },
    window: { type: "string", default: "30" },
    warmup: { type: "string", default: "10" },
    big: { type: "string", default: "0" },
    "big-heartbeat": { type: "string", default: "60" },
    doors: { type: "string", default: "bare,flags,bin,npm" },
    repeats: { type: "string", default: "1" },
    phases: { type: "string", default: "steady,bids" },
    "startup-timeout": { type: "string", default: "600" },
  },
});
const WINDOW_S = Number(values.window);
const WARMUP_S = Number(values.warmup);
const BIDS_AT = Number(values["bids-at"]);
const BIG = Number(values.big);
/** The big run's heartbeat in seconds: e.g. 1,000 agents at 6 s send 10,000 agents' heartbeats a second, and start in seconds. */
const BIG_HEARTBEAT_S = Number(values["big-heartbeat"]);
const JOBS_FOR_BIDS = 10;
const PHASES = new Set(values.phases.split(","));
const REPEATS = Number(values.repeats);
/** How long a run may take until all its agents heartbeat (a busy machine needs longer). */
const STARTUP_MS = Number(values["startup-timeout"]) * 1000;

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
  /** RSS of the processes around the runner (npm and its shell), MB. */
  wrappersMb: number;
  /** The machine's 1-minute load average at the window's end. */
  load: number;
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
    wrappersMb: runner.wrappersRssMb(),
    load: loadavg()[0] ?? Number.NaN,
  };
}

interface Row {
  door: string;
  agents: number;
  phase: string;
  startup: string;
  w: Window;
}

/** A door of the bench: the current version through one way in, or the previous version. */
interface Entry {
  key: string;
  name: string;
  version: Version;
  door?: Door["start"];
}

async function run(entry: Entry, agents: number, pollS: number, heartbeatS: number) {
  const rows: Row[] = [];
  const env = { AGENT_POLL_INTERVAL: String(pollS), AGENT_HEARTBEAT_INTERVAL: String(heartbeatS) };
  const setup = (dir: string): Record<string, string> => {
    if (agents === 3) return {}; // the built-in agents, as `npm start` runs them
    const file = join(dir, "agents.json");
    writeAgentsFile(file, agents);
    return { AGENTS_FILE: file };
  };
  const options = { env, setup, ...(entry.door ? { door: entry.door } : {}) };
  await withRunner(entry.version, options, async ({ market, counts, runner }) => {
    const upMs = await waitUntil(
      `${agents} agents heartbeating`,
      () => counts.heartbeatAgents.size >= agents,
      STARTUP_MS,
    );
    const startup = `all heartbeating ${(upMs / 1000).toFixed(1)} s after start`;
    const base = { door: entry.key, agents };
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
  for (const r of rows)
    console.log(
      `${entry.key} ${r.agents} agents ${r.phase}: RSS ${r.w.rssMb.toFixed(0)} MB, CPU ${r.w.cpuPct.toFixed(1)} %, load ${r.w.load.toFixed(1)}`,
    );
  return rows;
}

await compareVersions(async ({ previous, current }) => {
  const entries: Entry[] = values.doors.split(",").map((key) => {
    if (key === "previous") return { key, name: previous.name, version: previous };
    const door = doorFor(key);
    if (!door)
      throw new Error(
        `unknown door ${key} (${Object.keys(DOORS).join(", ")}, semi=N, drop=FLAG, node:FLAG+FLAG…, previous)`,
      );
    return { key, name: door.name, version: current, door: door.start };
  });
  const rows: Row[] = [];
  const loads = [loadavg()[0] ?? Number.NaN];
  for (let repeat = 1; repeat <= REPEATS; repeat++) {
    for (const agents of values.agents.split(",").filter(Boolean).map(Number)) {
      for (const e of entries) rows.push(...(await run(e, agents, 2, 4)));
    }
    if (BIG > 0) for (const e of entries) rows.push(...(await run(e, BIG, 30, BIG_HEARTBEAT_S)));
  }
  loads.push(...rows.map((r) => r.w.load));
  console.log(
    `\nsteady runner, window ${WINDOW_S} s after ${WARMUP_S} s warm-up (poll 2 s, heartbeat 4 s; the ${BIG || "big"}-agent run poll 30 s, heartbeat ${BIG_HEARTBEAT_S} s), ${REPEATS} run(s) of each door; load average ${range(loads, 1)}`,
  );
  for (const e of entries) console.log(`  ${e.key}: ${e.name}`);
  console.log(
    "| agents | phase | door | RSS MB | RSS growth in window | CPU % of a core (main thread / V8 helpers) | requests / agent / min | heartbeats / agent / min | listings / min | npm + sh MB | load | note |",
  );
  console.log("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.agents} | ${r.phase} | ${r.door} | ${r.w.rssMb.toFixed(0)} | ${r.w.growthPct.toFixed(1)} % | ${r.w.cpuPct.toFixed(1)} (${r.w.mainPct.toFixed(1)} / ${r.w.v8WorkersPct.toFixed(1)}) | ${r.w.requestsPerAgentMinute.toFixed(1)} | ${r.w.heartbeatsPerAgentMinute.toFixed(1)} | ${r.w.listingsPerMinute.toFixed(1)} | ${r.w.wrappersMb.toFixed(0)} | ${r.w.load.toFixed(1)} | ${r.startup} |`,
    );
  }
  // Each figure through each door, the range over the repeats, the baseline first.
  console.log(`\n| figure | ${entries.map((e) => e.key).join(" | ")} |`);
  console.log(`| --- | ${entries.map(() => "---:").join(" | ")} |`);
  const cases = [...new Set(rows.map((r) => `${r.agents}|${r.phase}`))];
  for (const c of cases) {
    const of = (key: string) =>
      rows.filter((r) => `${r.agents}|${r.phase}` === c && r.door === key);
    const [agents, phase] = c.split("|");
    console.log(
      `| RSS MB, ${agents} agents, ${phase} | ${entries
        .map((e) =>
          range(
            of(e.key).map((r) => r.w.rssMb),
            0,
          ),
        )
        .join(" | ")} |`,
    );
    console.log(
      `| CPU % of a core, ${agents} agents, ${phase} | ${entries
        .map((e) =>
          range(
            of(e.key).map((r) => r.w.cpuPct),
            1,
          ),
        )
        .join(" | ")} |`,
    );
  }
  console.log(
    "targets: RSS ≤ 100 MB at 3 agents, ≤ 150 MB at 300 after 3,000 bids, ≤ 300 MB and ≤ 5 % of a core at 10,000; requests ≤ 15 + 60/N per agent per minute",
  );
});
