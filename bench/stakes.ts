/**
 * Stakes no listing shows. The service lists only its newest 100 jobs, so a job with 100
 * newer ones behind it is found by `GET /api/jobs/{id}` alone. Here 300 agents hold
 * open bids on 1,000 jobs (three agents a job, in the ledger of a runner that restarts),
 * then 200 newer jobs are posted, and the runner starts again. Measured: marketplace
 * requests per agent per minute while it watches those stakes (target ≤ 15 + 60/N), and,
 * once 30 of the 1,000 jobs are awarded to our agents, how many polls pass until the
 * runner has found every award (target ≤ 2).
 *
 *   npm run bench:stakes -- [--agents 300] [--jobs 1000] [--newer 200] [--awards 30]
 *                           [--poll 30] [--heartbeat 60] [--window 60]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/env.ts";
import { silentLogger } from "../src/logger.ts";
import type { MarketplaceApp } from "../src/marketplace-server/index.ts";
import { createMetrics, type Metrics } from "../src/metrics.ts";
import { lookupBudget } from "../src/runner/feed/stake-watch.ts";
import { Runner } from "../src/runner/runner.ts";
import { openSqliteLedger } from "../src/state/sqlite-ledger.ts";
import type { BidRecord } from "../src/state/types.ts";
import { startCountingMarketplace, waitUntil, writeAgentsFile } from "./support/market.ts";
import { sleep } from "./support/runner-child.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "300" },
    jobs: { type: "string", default: "1000" },
    newer: { type: "string", default: "200" },
    awards: { type: "string", default: "30" },
    poll: { type: "string", default: "30" },
    heartbeat: { type: "string", default: "60" },
    window: { type: "string", default: "60" },
  },
});
const AGENTS = Number(values.agents);
const JOBS = Number(values.jobs);
const NEWER = Number(values.newer);
const AWARDS = Number(values.awards);
const POLL_S = Number(values.poll);
const WINDOW_S = Number(values.window);
const BIDS_PER_JOB = 3;

/** A job no built-in agent bids on (no keyword of theirs): only the bench's bids are on it. */
const QUIET_JOB = {
  title: "Translate our brochure into Finnish",
  description: "Marketing copy, 400 words, for a Finnish audience.",
  required_capabilities: [],
  budget_usd: 2,
  poster_id: "bench",
  poster_wallet: "0x2222222222222222222222222222222222222222",
};

async function inject<T>(
  market: MarketplaceApp,
  method: "GET" | "POST",
  url: string,
  payload?: object,
): Promise<T> {
  const res = await market.app.inject({ method, url, ...(payload ? { payload } : {}) });
  if (res.statusCode !== 200)
    throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body}`);
  return res.json() as T;
}

async function polls(metrics: Metrics): Promise<number> {
  const { values } = await metrics.pollDuration.get();
  return values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
}

let lookups = 0;
/** When each poll began: its `posted` listing (performance.now()). */
const pollStarts: number[] = [];
const { market, counts, url } = await startCountingMarketplace({
  onRequest: (method, path) => {
    if (method !== "GET") return;
    if (/^\/api\/jobs\/job_[0-9a-f]+$/.test(path)) lookups++;
    else if (path.startsWith("/api/jobs?status=posted")) pollStarts.push(performance.now());
  },
});
const dir = await mkdtemp(join(tmpdir(), "bench-stakes-"));
const agentsFile = join(dir, "agents.json");
writeAgentsFile(agentsFile, AGENTS);
const config = loadConfig({
  BAZAAR_API_URL: url,
  AGENTS_FILE: agentsFile,
  AGENT_POLL_INTERVAL: String(POLL_S),
  AGENT_HEARTBEAT_INTERVAL: values.heartbeat,
  RUNNER_STATE_DIR: join(dir, "state"),
});
const start = async (metrics: Metrics) => {
  const runner = await Runner.start({ config, logger: silentLogger(), metrics });
  await waitUntil(
    `${AGENTS} agents running`,
    () => runner.workers.filter((w) => w.state === "running" && w.agentId).length >= AGENTS,
    600_000,
  );
  return runner;
};

// 1. The agents register; the runner stops (its bids below are "from before the restart").
const first = await start(createMetrics({ processMetrics: false }));
const agentIds = first.workers.map((w) => w.agentId!);
await first.stop();

// 2. 1,000 jobs with three of our agents' bids each, in the marketplace and our ledger.
const ledger = openSqliteLedger({ path: join(dir, "state", "ledger.sqlite") });
const bids: BidRecord[] = [];
const jobs: string[] = [];
for (let j = 0; j < JOBS; j++) {
  const { job_id } = await inject<{ job_id: string }>(market, "POST", "/api/jobs", QUIET_JOB);
  jobs.push(job_id);
  for (let b = 0; b < BIDS_PER_JOB; b++) {
    const agentId = agentIds[(j * BIDS_PER_JOB + b) % agentIds.length]!;
    const query = new URLSearchParams({
      agent_id: agentId,
      price_usd: "1",
      estimated_quality: "0.9",
      estimated_time_seconds: "60",
      approach_summary: "bench",
    });
    const { bid_id } = await inject<{ bid_id: string }>(
      market,
      "POST",
      `/api/jobs/${job_id}/bids?${query}`,
    );
    bids.push({ agentId, jobId: job_id, bidId: bid_id, priceUsd: 1 });
  }
}
await ledger.recordBids(bids);
await ledger.close();
// 3. 200 newer jobs: the 1,000 are out of every listing.
for (let j = 0; j < NEWER; j++) await inject(market, "POST", "/api/jobs", QUIET_JOB);

// 4. The runner again: it finds its stakes in the ledger and looks them up.
const metrics = createMetrics({ processMetrics: false });
const runner = await start(metrics);
// Settle: two polls (the first looks up what it can of the 1,000; start-up traffic passes).
const settled = (await polls(metrics)) + 2;
while ((await polls(metrics)) < settled) await sleep(200);

const r0 = counts.total;
const l0 = lookups;
const h0 = counts.heartbeats;
const p0 = await polls(metrics);
const t0 = Date.now();
await sleep(WINDOW_S * 1000);
const minutes = (Date.now() - t0) / 60_000;
const requestsPerAgentMinute = (counts.total - r0) / AGENTS / minutes;
const heartbeatsPerAgentMinute = (counts.heartbeats - h0) / AGENTS / minutes;
const windowPolls = (await polls(metrics)) - p0;
const lookupsPerPoll = (lookups - l0) / Math.max(1, windowPolls);

// 5. Awards on 30 of the 1,000 jobs, each to one of our bids: polls until all are found.
const awarded = bids
  .filter((_, i) => i % BIDS_PER_JOB === 0)
  .filter((_, i) => i % Math.floor(JOBS / AWARDS) === 0)
  .slice(0, AWARDS);
for (const bid of awarded)
  await inject(market, "POST", `/api/jobs/${bid.jobId}/select-bid/${bid.bidId}`);
const awardedAt = performance.now();
const found = async () => {
  let n = 0;
  for (const bid of awarded) if ((await runner.ledger.get(bid.agentId, bid.jobId))?.wonAt) n++;
  return n;
};
const deadline = Date.now() + 10 * POLL_S * 1000;
let foundCount = 0;
while (Date.now() < deadline) {
  foundCount = await found();
  if (foundCount === awarded.length) break;
  await sleep(200);
}
const foundAt = performance.now();
// Polls that began after the awards, up to the moment the last one was found.
const pollsToFind = pollStarts.filter((t) => t > awardedAt && t <= foundAt).length;

await runner.stop();
await market.close();
await rm(dir, { recursive: true, force: true });

const target = 15 + 60 / AGENTS;
console.log(
  `\nstakes out of every listing: ${AGENTS} agents, ${JOBS} jobs with ${BIDS_PER_JOB} bids of ours each, ${NEWER} newer jobs; poll ${POLL_S} s, heartbeat ${values.heartbeat} s; window ${WINDOW_S} s`,
);
console.log("| figure | value | target | met |");
console.log("| --- | ---: | --- | --- |");
console.log(
  `| marketplace requests per agent per minute (heartbeats ${heartbeatsPerAgentMinute.toFixed(2)}) | ${requestsPerAgentMinute.toFixed(2)} | ≤ ${target.toFixed(2)} | ${requestsPerAgentMinute <= target ? "yes" : "no"} |`,
);
console.log(
  `| look-ups per poll (budget ${lookupBudget(AGENTS, POLL_S * 1000)}) | ${lookupsPerPoll.toFixed(0)} | – | |`,
);
console.log(
  `| polls from ${awarded.length} awards until the runner found them all (${foundCount} found) | ${foundCount === awarded.length ? pollsToFind : "not all found"} | ≤ 2 | ${foundCount === awarded.length && pollsToFind <= 2 ? "yes" : "no"} |`,
);
process.exit(0);
