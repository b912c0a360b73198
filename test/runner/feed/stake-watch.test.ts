import type { AddressInfo } from "node:net";
import type { Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import {
  createMarketplaceApp,
  type MarketplaceApp,
} from "../../../src/marketplace-server/index.ts";
import { createMetrics } from "../../../src/metrics.ts";
import { createSharedPool } from "../../../src/pool.ts";
import { JobFeed } from "../../../src/runner/feed/job-feed.ts";
import { lookupBudget, QUIET_SPELL_MS } from "../../../src/runner/feed/stake-watch.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
import { ledgerWith } from "../../support/ledger-with.ts";
import { counterSum } from "../../support/market-helpers.ts";
import {
  type Api,
  api,
  POSTER,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
} from "../../support/marketplace-requests.ts";

/**
 * The service lists only its newest 100 jobs: a job with 100 newer ones behind it is
 * found by `GET /api/jobs/{id}` alone. The feed looks such jobs up (a budget a poll,
 * least recently checked first) while the runner has a stake in them.
 */
describe("stakes no listing shows", () => {
  let market: MarketplaceApp;
  let a: Api;
  let url: string;
  /** Job ids looked up one by one (`GET /api/jobs/{id}`), in order. */
  let lookups: string[];
  let ours: string;
  let other: string;
  let ledger: Ledger;
  let client: MarketplaceClient;
  let pool: Dispatcher;
  let clock: number;

  beforeEach(async () => {
    market = await createMarketplaceApp({ dbPath: ":memory:" });
    lookups = [];
    market.app.addHook("onRequest", async (request) => {
      const path = request.url.split("?")[0] ?? "";
      const m = /^\/api\/jobs\/(job_[0-9a-f]+)$/.exec(path);
      if (request.method === "GET" && m?.[1]) lookups.push(m[1]);
    });
    await market.app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(market.app.server.address() as AddressInfo).port}`;
    a = api(url);
    ours = await registerAgent(a, { name: "Ours" });
    other = await registerAgent(a, { name: "Other" });
    ledger = openSqliteLedger({ path: ":memory:" });
    pool = createSharedPool();
    client = new MarketplaceClient({ baseUrl: url, dispatcher: pool });
    clock = Date.now();
  });
  afterEach(async () => {
    await market.close();
    await ledger.close();
    await pool.close();
  });

  const newFeed = (pollIntervalMs = 30_000) =>
    new JobFeed({
      client,
      logger: silentLogger(),
      ledger,
      ourAgents: () => new Set([ours]),
      pollIntervalMs,
      now: () => clock,
    });

  /** Posts `n` newer jobs nobody bids on, pushing older ones out of every listing. */
  async function bury(n = 100): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await market.app.inject({
        method: "POST",
        url: "/api/jobs",
        payload: {
          title: `Filler ${i}`,
          description: "nothing for anyone",
          required_capabilities: ["translation"],
          budget_usd: 1,
          poster_id: "filler",
          poster_wallet: "0x2222222222222222222222222222222222222222",
        },
      });
      expect(res.statusCode).toBe(200);
    }
  }

  async function award(jobId: string, bidId: string) {
    const res = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    expect(res.status).toBe(200);
  }

  /** A bid of ours, placed and recorded as the bidder does. */
  async function bidOurs(jobId: string, feed?: JobFeed): Promise<string> {
    const bidId = await placeBidOk(a, jobId, { agent_id: ours });
    await ledger.recordBid(ours, jobId, { bidId, priceUsd: 1 });
    feed?.noteBid(jobId, ours, bidId);
    return bidId;
  }

  it("finds the award of a job with 100 newer jobs behind it, at the next poll", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    const bidId = await bidOurs(jobId, feed);
    await bury();
    await award(jobId, bidId);
    // Out of every listing: the assigned listing does not show it any more.
    const listed = await client.listJobs({ status: "assigned" });
    expect(listed.jobs.map((j) => j.job_id)).not.toContain(jobId);

    const page = await feed.poll();
    expect(page.assigned.map((j) => [j.job_id, j.assigned_agent_id])).toEqual([[jobId, ours]]);
    expect(lookups).toEqual([jobId]);
  });

  it("after a restart, finds the ledger's bids on jobs no listing shows", async () => {
    const jobId = await postJob(a);
    const bidId = await bidOurs(jobId);
    await bury();
    await award(jobId, bidId);
    const restarted = newFeed();
    const page = await restarted.poll();
    expect(page.assigned.map((j) => j.job_id)).toEqual([jobId]);
  });

  it("looks up at most the budget a poll, least recently checked first, each stake in turn", async () => {
    const jobs: string[] = [];
    for (let i = 0; i < 12; i++) jobs.push(await postJob(a));
    for (const jobId of jobs) await bidOurs(jobId);
    await bury();
    // One agent, polls 10 s apart: (6 + 20) look-ups a minute, 5 a poll.
    const budget = lookupBudget(1, 10_000);
    expect(budget).toBe(5);
    const feed = newFeed(10_000);
    const perPoll: string[][] = [];
    for (let poll = 0; poll < 6; poll++) {
      lookups = [];
      await feed.poll();
      perPoll.push(lookups);
    }
    for (const polled of perPoll) expect(polled).toHaveLength(budget);
    // Every stake once within ceil(12 / 5) = 3 polls, none twice before all were looked
    // at; then round again in the same order: the least recently checked first.
    const all = perPoll.flat();
    const cycle = all.slice(0, 12);
    expect(new Set(cycle).size).toBe(12);
    all.forEach((jobId, i) => {
      expect(jobId).toBe(cycle[i % 12]);
    });
  });

  it("gives up on a job whose bid lost, and on a job closed, and never looks them up again", async () => {
    const lost = await postJob(a);
    const gone = await postJob(a);
    const pending = await postJob(a);
    await bidOurs(lost);
    await bidOurs(gone);
    await bidOurs(pending);
    await award(lost, await placeBidOk(a, lost, { agent_id: other }));
    await a.req("DELETE", `/api/jobs/${gone}`);
    await bury();
    const feed = newFeed();
    await feed.poll();
    expect(lookups.sort()).toEqual([lost, gone, pending].sort());
    expect((await ledger.get(ours, lost))?.stakeEndedReason).toMatch(/another agent/);
    expect((await ledger.get(ours, gone))?.stakeEndedReason).toMatch(/404/);
    expect((await ledger.get(ours, pending))?.stakeEndedAt).toBeUndefined();
    lookups = [];
    await feed.poll();
    await feed.poll();
    expect(lookups).toEqual([pending, pending]);
    // After a restart too: the ledger has ended them.
    lookups = [];
    await newFeed().poll();
    expect(lookups).toEqual([pending]);
  });

  it("a stake whose check fails (the ledger unreadable a moment) fails no poll; it is checked again", async () => {
    const jobId = await postJob(a);
    const bidId = await bidOurs(jobId);
    await bury();
    await award(jobId, bidId);
    let broken = true;
    const flaky = ledgerWith(ledger, {
      get: (agentId, job) =>
        broken ? Promise.reject(new Error("ledger away")) : ledger.get(agentId, job),
    });
    const metrics = createMetrics({ processMetrics: false });
    const feed = new JobFeed({
      client,
      logger: silentLogger(),
      ledger: flaky,
      metrics,
      ourAgents: () => new Set([ours]),
      now: () => clock,
    });
    const first = await feed.poll();
    expect(first.assigned).toEqual([]);
    expect(await counterSum(metrics.stakeLookups, { outcome: "error" })).toBe(1);
    broken = false;
    const second = await feed.poll();
    expect(second.assigned.map((j) => j.job_id)).toEqual([jobId]);
  });

  it("a counter-offer on a bid of ours on a job no listing shows is handed on for an answer", async () => {
    const jobId = await postJob(a);
    const bidId = await bidOurs(jobId);
    const countered = await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 0.8, message: "Less?", by: "poster" },
      await signIn(a, POSTER),
    );
    expect(countered.status).toBe(200);
    await bury();
    const page = await newFeed().poll();
    expect(page.negotiating?.map((j) => j.job_id)).toEqual([jobId]);
    expect(page.negotiating?.[0]?.bids.find((b) => b.bid_id === bidId)?.status).toBe(
      "counter_offered",
    );
  });

  it("a stake of an agent that moved to another replica is dropped here, not ended", async () => {
    const jobId = await postJob(a);
    await bidOurs(jobId);
    const agents = new Set([ours]);
    const feed = new JobFeed({
      client,
      logger: silentLogger(),
      ledger,
      ourAgents: () => agents,
      now: () => clock,
    });
    await feed.poll();
    expect(feed.stakes).toBe(1);
    // The agent's lease went to another replica; then the job went to another agent.
    agents.delete(ours);
    await award(jobId, await placeBidOk(a, jobId, { agent_id: other }));
    await bury();
    lookups = [];
    await feed.poll();
    expect(lookups).toEqual([jobId]);
    expect(feed.stakes).toBe(0);
    // The stake is the new holder's to settle: this replica wrote nothing.
    expect((await ledger.get(ours, jobId))?.stakeEndedAt).toBeUndefined();
  });

  it("a job a listing shows is not looked up, until a quiet spell: then its cancelled bid is ended once and the job offered again", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    const bidId = await bidOurs(jobId, feed);
    lookups = [];
    for (let i = 0; i < 3; i++) await feed.poll();
    expect(lookups).toEqual([]);

    // The runner was silent for five minutes: the service's sweep cancelled our bid.
    expect(market.store.cancelPendingBids(ours)).toBe(1);
    clock += QUIET_SPELL_MS + 60_000;
    const page = await feed.poll();
    expect(lookups).toEqual([jobId]);
    expect(await ledger.hasBid(ours, jobId)).toBe(false);
    expect((await ledger.get(ours, jobId))?.stakeEndedReason).toMatch(/cancelled/);
    expect(page.biddable.map((j) => j.job_id)).toEqual([jobId]);
    expect([...(feed.takeReopened(ours) ?? [])]).toEqual([jobId]);
    expect(feed.takeReopened(ours)).toBeUndefined();
    // The marketplace's bid list no longer counts the cancelled bid as ours.
    expect((await feed.bidders(jobId)).has(ours)).toBe(false);

    // Noticed once: later polls neither look it up nor reopen it.
    lookups = [];
    await feed.poll();
    expect(lookups).toEqual([]);
    expect(feed.hasReopened).toBe(false);
    expect(bidId).toMatch(/^bid_/);
  });

  it("a cancelled bid on a job no listing shows is found by its look-up, and the job offered for a new bid", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    await bidOurs(jobId, feed);
    await bury();
    market.store.cancelPendingBids(ours);
    const page = await feed.poll();
    expect(page.biddable.map((j) => j.job_id)).toContain(jobId);
    expect([...(feed.takeReopened(ours) ?? [])]).toEqual([jobId]);
    // Offered for a few polls (a busy bidder decides it at the next), then no more.
    expect((await feed.poll()).biddable.map((j) => j.job_id)).toContain(jobId);
    await feed.poll();
    expect((await feed.poll()).biddable.map((j) => j.job_id)).not.toContain(jobId);
  });
});
