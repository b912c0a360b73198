/**
 * A burst: 300 agents, 10 new jobs, every agent bids on every job. The time from
 * posting until all 3,000 bids are placed, for the runner (current, with the SQLite
 * ledger and with the MongoDB ledger; the previous version with SQLite), beside a bare
 * HTTP client (undici, concurrency 16) placing the same 3,000 bids against the same
 * marketplace in the same run. Target: ≤ 1.5 × the bare client + one poll interval;
 * the MongoDB ledger within 1.25 × the SQLite one.
 *
 *   npm run bench:burst -- [--agents 300] [--jobs 10] [--poll 2]
 *
 * MongoDB is MONGODB_TEST_URI when set, else the project's loopback wire-protocol
 * server (test/support/mongo-wire), which journals nothing: read its figure as the
 * cost of the round trips, not of a real server's disk.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { Agent, request } from "undici";
import { mapBounded } from "../src/pool.ts";
import { mongoTestUri, uniqueDbName } from "../test/support/mongo-wire/index.ts";
import { postJobTo, waitUntil, writeAgentsFile } from "./support/market.ts";
import { sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "300" },
    jobs: { type: "string", default: "10" },
    poll: { type: "string", default: "2" },
    runs: { type: "string", default: "previous-sqlite,current-sqlite,current-mongo" },
  },
});
const AGENTS = Number(values.agents);
const JOBS = Number(values.jobs);
const POLL_S = Number(values.poll);
const BIDS = AGENTS * JOBS;

interface Result {
  name: string;
  runnerMs: number;
  bareMs: number;
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
  let mongo: Awaited<ReturnType<typeof mongoTestUri>> | undefined;
  const setup = async (dir: string): Promise<Record<string, string>> => {
    const file = join(dir, "agents.json");
    writeAgentsFile(file, AGENTS);
    if (ledger === "sqlite") return { AGENTS_FILE: file };
    // With MONGODB_URI the agents come from bazaar.agents, and the ledger goes there too.
    mongo = await mongoTestUri();
    const db = uniqueDbName("burst");
    const client = new MongoClient(mongo.uri);
    const docs = JSON.parse(readFileSync(file, "utf8")) as object[];
    await client
      .db(db)
      .collection("agents")
      .insertMany(docs.map((d) => ({ ...d, managed: true })));
    await client.close();
    return { MONGODB_URI: mongo.uri, MONGODB_DB: db };
  };
  const env = { AGENT_POLL_INTERVAL: String(POLL_S), AGENT_HEARTBEAT_INTERVAL: "4" };
  try {
    return await withRunner(version, { env, setup }, async ({ market, counts, url, runner }) => {
      await waitUntil("agents heartbeating", () => counts.heartbeatAgents.size >= AGENTS, 600_000);
      await sleep(2 * POLL_S * 1000);
      const before = counts.bidsOk;
      const started = performance.now();
      for (let i = 0; i < JOBS; i++) await postJobTo(market);
      await waitUntil(`${BIDS} bids`, () => counts.bidsOk - before >= BIDS, 600_000);
      const runnerMs = performance.now() - started;
      await runner.stop();

      const agentIds = market.store.listAgents().map((a) => a.agent_id);
      const jobIds: string[] = [];
      for (let i = 0; i < JOBS; i++) jobIds.push(await postJobTo(market));
      const bareMs = await bareClient(url, jobIds, agentIds.slice(0, AGENTS));
      return { name, runnerMs, bareMs };
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
    `\nburst: ${AGENTS} agents, ${JOBS} new jobs, ${BIDS} bids; poll ${POLL_S} s; bare client = undici at concurrency 16, same marketplace, same run`,
  );
  console.log(
    "| runner | posting → all bids placed | bare client | target (1.5 × bare + poll) | ratio to bare |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const target = 1.5 * r.bareMs + POLL_S * 1000;
    console.log(
      `| ${r.name} | ${(r.runnerMs / 1000).toFixed(2)} s | ${(r.bareMs / 1000).toFixed(2)} s | ${(target / 1000).toFixed(2)} s | ${(r.runnerMs / r.bareMs).toFixed(2)} |`,
    );
  }
  const sqlite = results.find((r) => r.name === "current, SQLite ledger");
  const mongo = results.find((r) => r.name === "current, MongoDB ledger");
  if (sqlite && mongo)
    console.log(
      `MongoDB / SQLite ledger (current): ${(mongo.runnerMs / sqlite.runnerMs).toFixed(2)} (target ≤ 1.25)`,
    );
});
