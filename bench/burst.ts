/**
 * A burst: 300 agents, 10 new jobs, every agent bids on every job. The time from
 * posting until all 3,000 bids are placed, for the runner (current, with the SQLite
 * ledger and with the MongoDB ledger; the previous version with SQLite), beside a bare
 * HTTP client (undici, concurrency 16) placing the same 3,000 bids against the same
 * marketplace in the same run. Target: ≤ 1.5 × the bare client + one poll interval;
 * the MongoDB ledger within 1.25 × the SQLite one. Each runner takes several bursts and
 * the median is compared: a burst includes the wait for the next poll (0 to one
 * interval), which alone can double one burst's figure, so each burst is also timed from
 * the runner's first listing after the last posting, and the two ledgers are compared on
 * that too. Nine bursts by default: with five, the ratio of the two medians moved by
 * ±0.15 between runs of the same code on a 2-core machine; with nine, by ±0.03. With the
 * stand-in, the MongoDB commands the runner sent during the bursts are printed too.
 *
 *   npm run bench:burst -- [--agents 300] [--jobs 10] [--poll 2] [--bursts 9]
 *
 * MongoDB is MONGODB_TEST_URI when set, else the project's loopback wire-protocol
 * server (test/support/mongo-wire) in a process of its own, as a real server would be
 * (bench/support/mongo-child.ts). It journals nothing: read its figure as the
 * cost of the round trips, not of a real server's disk.
 */
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { mapBounded } from "../src/pool.ts";
import { benchAgents } from "./support/agent-source.ts";
import { postJobTo, waitUntil } from "./support/market.ts";
import type { MongoTarget } from "./support/mongo-child.ts";
import { median, sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "300" },
    jobs: { type: "string", default: "10" },
    poll: { type: "string", default: "2" },
    bursts: { type: "string", default: "9" },
    runs: { type: "string", default: "previous-sqlite,current-sqlite,current-mongo" },
  },
});
const AGENTS = Number(values.agents);
const JOBS = Number(values.jobs);
const POLL_S = Number(values.poll);
const BIDS = AGENTS * JOBS;
const BURSTS = Number(values.bursts);

interface Result {
  name: string;
  /** The median burst. */
  runnerMs: number;
  bursts: number[];
  /** The median burst from the runner's first listing after the last posting. */
  afterListingMs: number;
  /** The median time from that listing to the burst's first bid: deciding (and, with replicas, stamping). */
  toFirstBidMs: number;
  bareMs: number;
  /** MongoDB commands the runner sent during the burst (the stand-in counts them). */
  commands?: string;
}

/** What was added to the stand-in's command counts since `before`, e.g. "find 12, update 4". */
function commandsSince(
  before: Record<string, number> | undefined,
  after: Record<string, number> | undefined,
): string | undefined {
  if (!before || !after) return undefined;
  return Object.entries(after)
    .map(([name, count]) => [name, count - (before[name] ?? 0)] as const)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${count}`)
    .join(", ");
}

/** The bare client: the same bids, 16 at a time, over one keep-alive pool. */
async function bareClient(url: string, jobIds: string[], agentIds: string[]): Promise<number> {
  const pool = new Agent({ connections: 16 });
  const work = jobIds.flatMap((jobId) => agentIds.map((agentId) => ({ jobId, agentId })));
  const started = performance.now();
  await mapBounded(work, 16, async ({ jobId, agentId }) => {
    const query = new URLSearchParams({
      agent_id: agentId,
      price_usd: "0.05",
      estimated_quality: "0.8",
      estimated_time_seconds: "300",
      approach_summary: "bare client",
    });
    const res = await request(`${url}/api/jobs/${jobId}/bids?${query}`, {
      method: "POST",
      dispatcher: pool,
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`bare bid answered ${res.statusCode}`);
  });
  const elapsed = performance.now() - started;
  await pool.close();
  return elapsed;
}

async function run(name: string, version: Version, ledger: "sqlite" | "mongo") {
  let mongo: MongoTarget | undefined;
  const setup = async (dir: string): Promise<Record<string, string>> => {
    const agents = await benchAgents(ledger === "sqlite" ? "file" : "mongo", dir, AGENTS, "burst");
    mongo = agents.mongo;
    return agents.env;
  };
  const env = { AGENT_POLL_INTERVAL: String(POLL_S), AGENT_HEARTBEAT_INTERVAL: "4" };
  try {
    return await withRunner(version, { env, setup }, async ({ market, counts, url, runner }) => {
      await waitUntil("agents heartbeating", () => counts.heartbeatAgents.size >= AGENTS, 600_000);
      await sleep(2 * POLL_S * 1000);
      // Each burst waits for a poll at a different moment of its interval: the median
      // of several is read, not one draw of that wait.
      const commandsBefore = await mongo?.counts();
      const bursts: number[] = [];
      const afterListing: number[] = [];
      const toFirstBid: number[] = [];
      for (let b = 0; b < BURSTS; b++) {
        const before = counts.bidsOk;
        const started = performance.now();
        const posted: string[] = [];
        for (let i = 0; i < JOBS; i++) posted.push(await postJobTo(market));
        const postedAt = performance.now();
        await waitUntil(`${BIDS} bids`, () => counts.bidsOk - before >= BIDS, 600_000);
        const done = performance.now();
        bursts.push(done - started);
        const listed = counts.listingTimes.find((at) => at > postedAt) ?? postedAt;
        afterListing.push(done - listed);
        const firstBid = Math.min(...posted.map((id) => counts.firstBidAt.get(id) ?? done));
        toFirstBid.push(firstBid - listed);
        await sleep(Math.random() * POLL_S * 1000);
      }
      const commands = commandsSince(commandsBefore, await mongo?.counts());
      await runner.stop();

      const agentIds = market.store.listAgents().map((a) => a.agent_id);
      const jobIds: string[] = [];
      for (let i = 0; i < JOBS; i++) jobIds.push(await postJobTo(market));
      const bareMs = await bareClient(url, jobIds, agentIds.slice(0, AGENTS));
      return {
        name,
        runnerMs: median(bursts),
        bursts,
        afterListingMs: median(afterListing),
        toFirstBidMs: median(toFirstBid),
        bareMs,
        commands,
      };
    });
  } finally {
    await mongo?.close();
  }
}

await compareVersions(async ({ previous, current }) => {
  const wanted = values.runs.split(",");
  const results: Result[] = [];
  const plans = [
    { key: "previous-sqlite", version: previous, ledger: "sqlite" as const },
    { key: "previous-mongo", version: previous, ledger: "mongo" as const },
    { key: "current-sqlite", version: current, ledger: "sqlite" as const },
    { key: "current-mongo", version: current, ledger: "mongo" as const },
  ];
  for (const plan of plans.filter((p) => wanted.includes(p.key))) {
    const name = `${plan.version.name}, ${plan.ledger === "sqlite" ? "SQLite" : "MongoDB"} ledger`;
    const result = await run(name, plan.version, plan.ledger);
    if (result) results.push(result);
  }
  console.log(
    `\nburst: ${AGENTS} agents, ${JOBS} new jobs, ${BIDS} bids, ${BURSTS} times per runner (median; each waits for a poll at another moment); poll ${POLL_S} s; bare client = undici at concurrency 16, same marketplace, same run`,
  );
  console.log(
    "| runner | posting → all bids placed (median) | each burst | first listing after posting → all bids (median) | … → first bid (median) | bare client | target (1.5 × bare + poll) | ratio to bare |",
  );
  console.log("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const target = 1.5 * r.bareMs + POLL_S * 1000;
    console.log(
      `| ${r.name} | ${(r.runnerMs / 1000).toFixed(2)} s | ${r.bursts.map((ms) => (ms / 1000).toFixed(2)).join(", ")} | ${(r.afterListingMs / 1000).toFixed(2)} s | ${(r.toFirstBidMs / 1000).toFixed(2)} s | ${(r.bareMs / 1000).toFixed(2)} s | ${(target / 1000).toFixed(2)} s | ${(r.runnerMs / r.bareMs).toFixed(2)} |`,
    );
  }
  for (const r of results)
    if (r.commands) console.log(`MongoDB commands during the burst (${r.name}): ${r.commands}`);
  const sqlite = results.find((r) => r.name === "current, SQLite ledger");
  const mongo = results.find((r) => r.name === "current, MongoDB ledger");
  if (sqlite && mongo)
    console.log(
      `MongoDB / SQLite ledger (current): ${(mongo.runnerMs / sqlite.runnerMs).toFixed(2)} posting → all bids; ${(mongo.afterListingMs / sqlite.afterListingMs).toFixed(2)} from the first listing, without the wait for a poll (target ≤ 1.25)`,
    );
});
