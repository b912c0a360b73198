/** The marketplace of the benches: embedded, in memory, on loopback, counting what reaches it. */

import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import { createMarketplaceApp, type MarketplaceApp } from "../../src/marketplace-server/index.ts";
import { sleep } from "./runner-child.ts";

export interface Counts {
  total: number;
  heartbeats: number;
  bids: number;
  listings: number;
  heartbeatAgents: Set<string>;
  /** Bids the marketplace took (200). */
  bidsOk: number;
  /** When each job got its first bid (performance.now() of the bench process). */
  firstBidAt: Map<string, number>;
  /** When each listing of jobs (`GET /api/jobs`) arrived, in order (performance.now()). */
  listingTimes: number[];
}

export async function startCountingMarketplace(
  options: {
    /** Sees every request first (a bench's own counts). */
    onRequest?: (method: string, url: string) => void;
  } = {},
) {
  const market = await createMarketplaceApp({ dbPath: ":memory:" });
  const counts: Counts = {
    total: 0,
    heartbeats: 0,
    bids: 0,
    listings: 0,
    heartbeatAgents: new Set(),
    bidsOk: 0,
    firstBidAt: new Map(),
    listingTimes: [],
  };
  market.app.addHook("onRequest", async (request) => {
    options.onRequest?.(request.method, request.url);
    counts.total++;
    const path = request.url.split("?")[0] ?? "";
    if (request.method === "POST" && path.endsWith("/heartbeat")) {
      counts.heartbeats++;
      counts.heartbeatAgents.add(path.split("/")[3] ?? "");
    } else if (request.method === "POST" && path.endsWith("/bids")) counts.bids++;
    else if (request.method === "GET" && path === "/api/jobs") {
      counts.listings++;
      counts.listingTimes.push(performance.now());
    }
  });
  market.app.addHook("onResponse", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    if (request.method !== "POST" || !path.endsWith("/bids") || reply.statusCode !== 200) return;
    counts.bidsOk++;
    const jobId = path.split("/")[3] ?? "";
    if (!counts.firstBidAt.has(jobId)) counts.firstBidAt.set(jobId, performance.now());
  });
  await market.app.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(market.app.server.address() as AddressInfo).port}`;
  return { market, counts, url };
}

export async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
  return Date.now() - started;
}

/** An AGENTS_FILE of `n` agents, the three built-in types in turn, bidding on any job. */
export function writeAgentsFile(path: string, n: number): void {
  const defaults = builtinAgentConfigs();
  const agents = Array.from({ length: n }, (_, i) => ({
    ...defaults[i % defaults.length]!,
    name: `Agent-${i}`,
    capabilities: {},
    // Room for every job a bench posts: an agent whose slots are committed (jobs in
    // flight, bids likely to be awarded) bids only on its best jobs (policy/
    // capacity-ranking.ts), and these benches measure placing every bid.
    max_concurrent_jobs: 64,
  }));
  writeFileSync(path, JSON.stringify(agents));
}

/** A job every built-in agent bids on. */
export const JOB_FOR_ALL = {
  title: "Code review, GraphQL schema design and anomaly detection",
  description:
    "Security code review of the service, an OpenAPI and database schema, and anomaly detection on the time series of its metrics.",
  required_capabilities: [],
  budget_usd: 5,
  poster_id: "bench",
  poster_wallet: "0x2222222222222222222222222222222222222222",
};

/** Posts a job through the app (no HTTP round trip of the bench's own); returns its id. */
export async function postJobTo(
  market: MarketplaceApp,
  job: object = JOB_FOR_ALL,
): Promise<string> {
  const res = await market.app.inject({ method: "POST", url: "/api/jobs", payload: job });
  return (res.json() as { job_id: string }).job_id;
}
