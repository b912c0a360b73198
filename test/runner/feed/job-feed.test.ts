import type { AddressInfo } from "node:net";
import type { Dispatcher } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import {
  createMarketplaceApp,
  type MarketplaceApp,
} from "../../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../../src/pool.ts";
import { JobFeed } from "../../../src/runner/feed/job-feed.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
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
 * The shared feed against the embedded marketplace: which listings a poll asks for.
 * A job with bids stays `posted` (as on the real service), and `assigned` is listed
 * only when it can hold news for one of our agents.
 */
describe("JobFeed listings", () => {
  let market: MarketplaceApp;
  let a: Api;
  let url: string;
  let listings: string[];
  let ours: string;
  let other: string;
  let ledger: Ledger;
  let client: MarketplaceClient;
  let clock: number;
  let pool: Dispatcher;

  beforeEach(async () => {
    market = await createMarketplaceApp({ dbPath: ":memory:" });
    listings = [];
    market.app.addHook("onRequest", async (request) => {
      if (request.method === "GET" && request.url.startsWith("/api/jobs?"))
        listings.push(new URL(request.url, "http://x").searchParams.get("status") ?? "");
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

  const newFeed = () =>
    new JobFeed({
      client,
      logger: silentLogger(),
      ledger,
      ourAgents: () => new Set([ours]),
      now: () => clock,
    });

  /** The listings one poll asked for. */
  async function pollListings(feed: JobFeed) {
    listings = [];
    const page = await feed.poll();
    return { listings, page };
  }

  async function award(jobId: string, bidId: string) {
    const res = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    expect(res.status).toBe(200);
  }

  it("lists posted jobs at every poll, assigned ones only at the first while nothing of ours is pending", async () => {
    const jobId = await postJob(a);
    await placeBidOk(a, jobId, { agent_id: other });
    const feed = newFeed();
    const first = await pollListings(feed);
    expect(first.listings).toEqual(["posted", "assigned"]);
    // A job with a bid is still posted, and still offered for bidding.
    expect(first.page.biddable.map((j) => j.job_id)).toEqual([jobId]);
    for (let i = 0; i < 3; i++) expect((await pollListings(feed)).listings).toEqual(["posted"]);
  });

  it("lists assigned jobs again when an agent becomes ours (a lease claimed after start or in a failover)", async () => {
    const jobId = await postJob(a);
    // Won by `other` before this runner held it: no bid of it is in this runner's ledger.
    await award(jobId, await placeBidOk(a, jobId, { agent_id: other }));
    const agents = new Set([ours]);
    const feed = new JobFeed({ client, logger: silentLogger(), ledger, ourAgents: () => agents });
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    expect((await pollListings(feed)).listings).toEqual(["posted"]);
    agents.add(other);
    const claimed = await pollListings(feed);
    expect(claimed.listings).toEqual(["posted", "assigned"]);
    expect(claimed.page.assigned.map((j) => [j.job_id, j.assigned_agent_id])).toEqual([
      [jobId, other],
    ]);
  });

  it("watches a job we bid on: lists assigned once it leaves posted, until our job is done", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    const bidId = await placeBidOk(a, jobId, { agent_id: ours });
    feed.noteBid(jobId, ours);
    // Still posted: the award cannot have happened, so no assigned listing.
    expect((await pollListings(feed)).listings).toEqual(["posted"]);

    await award(jobId, bidId);
    const won = await pollListings(feed);
    expect(won.listings).toEqual(["posted", "assigned"]);
    expect(won.page.assigned.map((j) => [j.job_id, j.assigned_agent_id])).toEqual([[jobId, ours]]);
    // Ours and still assigned (the worker may be at capacity): listed again.
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);

    await client.submitResult(jobId, {
      success: true,
      output: "done",
      tokens_used: 1,
      model: "m",
      executed_by: ours,
    });
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    expect(feed.watching).toBe(0);
    expect((await pollListings(feed)).listings).toEqual(["posted"]);
  });

  it("says when a job we bid on left posted: a counter-offer moves it to negotiating", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    expect(feed.bidLeftPosted).toBe(false);
    const bidId = await placeBidOk(a, jobId, { agent_id: ours });
    feed.noteBid(jobId, ours);
    await feed.poll();
    // Bid on but still posted: no offer can wait on it, so the money watch lists nothing.
    expect(feed.bidLeftPosted).toBe(false);

    const countered = await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 0.5, message: "Less?", by: "poster" },
      await signIn(a, POSTER),
    );
    expect(countered.status).toBe(200);
    const polled = await pollListings(feed);
    expect(polled.page.biddable).toEqual([]);
    expect(feed.bidLeftPosted).toBe(true);
    expect(polled.listings).toEqual(["posted", "assigned"]);
  });

  it("stops watching a job awarded to another agent after one listing", async () => {
    const jobId = await postJob(a);
    const feed = newFeed();
    await feed.poll();
    await placeBidOk(a, jobId, { agent_id: ours });
    feed.noteBid(jobId, ours);
    await award(jobId, await placeBidOk(a, jobId, { agent_id: other }));
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    expect(feed.watching).toBe(0);
    expect((await pollListings(feed)).listings).toEqual(["posted"]);
  });

  it("finds bids placed before a restart in the ledger, and notices their award", async () => {
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: ours });
    await ledger.recordBid(ours, jobId, { bidId, priceUsd: 1 });
    const restarted = newFeed();
    await restarted.poll();
    expect((await pollListings(restarted)).listings).toEqual(["posted"]);
    await award(jobId, bidId);
    const page = await pollListings(restarted);
    expect(page.listings).toEqual(["posted", "assigned"]);
    expect(page.page.assigned.map((j) => j.job_id)).toEqual([jobId]);
  });

  it("a job of ours that left posted unassigned is looked for at every poll, for an hour", async () => {
    const jobId = await postJob(a, { budget_usd: 50 });
    const feed = newFeed();
    await feed.poll();
    // A bid of $10 or more moves the job to awaiting_approval: neither posted nor assigned.
    const bidId = await placeBidOk(a, jobId, { agent_id: ours, price_usd: 20 });
    feed.noteBid(jobId, ours);
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    await award(jobId, bidId);
    const page = await pollListings(feed);
    expect(page.page.assigned.map((j) => j.job_id)).toEqual([jobId]);
    // Given up on after an hour in limbo.
    const parked = await postJob(a, { budget_usd: 50 });
    await placeBidOk(a, parked, { agent_id: ours, price_usd: 20 });
    feed.noteBid(parked, ours);
    await feed.poll();
    clock += 3_601_000;
    await feed.poll();
    expect(feed.watching).toBe(1); // only the job of ours still assigned
  });

  it("a hint lists assigned jobs at the next poll", async () => {
    const feed = newFeed();
    await feed.poll();
    expect((await pollListings(feed)).listings).toEqual(["posted"]);
    feed.hintAssigned("job_12345678");
    expect((await pollListings(feed)).listings).toEqual(["posted", "assigned"]);
    expect((await pollListings(feed)).listings).toEqual(["posted"]);
  });
});
