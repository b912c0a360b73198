import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import type { Job } from "../../../src/marketplace/schemas.ts";
import { startMarketplace } from "../../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../../src/pool.ts";
import type { DecidedBids } from "../../../src/runner/bidding/bid-intent.ts";
import { Bidder, type BidderAgent } from "../../../src/runner/bidding/bidder.ts";
import { RoundBids } from "../../../src/runner/bidding/round-bids.ts";
import { placeRound } from "../../../src/runner/bidding/round-placement.ts";
import { JobFeed } from "../../../src/runner/feed/job-feed.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
import { getJob } from "../../support/market-helpers.ts";
import { api, postJob, registerAgent } from "../../support/marketplace-requests.ts";
import { agentConfig, telemetryFixture } from "../../support/runner-units.ts";

/** What the executor makes of each job (by title): its price and confidence, and the LLM cost. */
interface Offer {
  priceUsd: number;
  confidence: number;
  costUsd: number;
}

/**
 * Three jobs in one poll, posted in this order: expected margins (confidence × price −
 * cost) of $0.31, $0.39 and $0.08. The listing gives the newest first, so the worst.
 */
const OFFERS: Record<string, Offer> = {
  "Middle review": { priceUsd: 0.4, confidence: 0.8, costUsd: 0.01 },
  "Rich review": { priceUsd: 0.8, confidence: 0.5, costUsd: 0.01 },
  "Cheap review": { priceUsd: 0.1, confidence: 0.9, costUsd: 0.01 },
};
const LISTED = ["Cheap review", "Rich review", "Middle review"];

/** An agent at capacity when ranking: how busy it is, and what its spend cap leaves. */
describe("an agent's bidder when capacity is short", () => {
  let market: Awaited<ReturnType<typeof startMarketplace>>;
  let pool: ReturnType<typeof createSharedPool>;
  let client: MarketplaceClient;
  let ledger: Ledger;
  let feed: JobFeed;
  let agentId: string;
  /** Job id by title. */
  let ids: Record<string, string>;
  const lifetime = new AbortController();

  beforeEach(async () => {
    market = await startMarketplace({ dbPath: ":memory:", port: 0 });
    pool = createSharedPool();
    client = new MarketplaceClient({ baseUrl: market.url, dispatcher: pool });
    ledger = openSqliteLedger({ path: ":memory:" });
    feed = new JobFeed({ client, logger: silentLogger() });
    const a = api(market.url);
    agentId = await registerAgent(a, { name: "Busy" });
    ids = {};
    for (const title of Object.keys(OFFERS))
      ids[title] = await postJob(a, { title, required_capabilities: ["code_review"] });
  });
  afterEach(async () => {
    await market.close();
    await ledger.close();
    await pool.close();
  });

  function setUp(
    load: { maxConcurrent: number; inFlight: number },
    spendLeftUsd?: number,
    /** The learner's win probability each price comes with (adaptive pricing), if any. */
    winProbability?: number,
  ) {
    const config = agentConfig({ max_concurrent_jobs: load.maxConcurrent });
    const fixture = telemetryFixture(config);
    const bidder = new Bidder({
      client,
      ledger,
      telemetry: fixture.telemetry,
      pollIntervalMs: 5_000,
      evaluationTimeoutMs: 5_000,
      lifetime: lifetime.signal,
    });
    const offer = (job: Job): Offer => {
      const o = OFFERS[job.title];
      if (!o) throw new Error(`no offer for ${job.title}`);
      return o;
    };
    const agent: BidderAgent = {
      agentId,
      config,
      accepting: () => true,
      evaluate: async (job) => ({
        canComplete: true,
        confidence: offer(job).confidence,
        bidAmountUsd: offer(job).priceUsd,
        estimatedTimeMinutes: 2,
        reasoning: "a careful read",
      }),
      price: async (_job, decision) =>
        winProbability === undefined ? decision : { ...decision, basis: { winProbability } },
      capacity: {
        load: () => load,
        spendLeftUsd: async () => spendLeftUsd,
        costUsd: (job) => offer(job).costUsd,
      },
    };
    return { bidder, agent, decisions: fixture.decisions };
  }

  const titlesOf = (decided: DecidedBids | undefined) => {
    const byId = new Map(Object.entries(ids).map(([title, id]) => [id, title]));
    return (decided?.intents ?? []).map((intent) => byId.get(intent.job.job_id));
  };

  it("with max_concurrent_jobs 1, bids on the job of the best expected margin, not the first listed", async () => {
    const { bidder, agent, decisions } = setUp({ maxConcurrent: 1, inFlight: 0 });
    const page = await feed.poll();
    // The listing gives the newest first: the worst job, then the best.
    expect(page.biddable.map((job) => job.title)).toEqual(LISTED);

    const decided = await bidder.decide(page.biddable, feed, () => agent, new RoundBids(ledger));
    expect(titlesOf(decided)).toEqual(["Rich review"]);
    expect(await placeRound(decided ? [decided] : [], ledger)).toBe(1);
    expect((await getJob(market.url, ids["Rich review"] ?? "")).bids).toHaveLength(1);
    expect((await getJob(market.url, ids["Cheap review"] ?? "")).bids).toHaveLength(0);

    // The others are skips with their margin and rank, in the decision log like any skip.
    const skipped = decisions.forJob(ids["Middle review"] ?? "");
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ outcome: "skip", reason: "capacity_ranked_out" });
    expect(skipped[0]?.detail).toBe(
      "expected margin $0.31 (0.8 × $0.4 − $0.01 LLM cost) ranks 2 of 3; room for 1 more (max_concurrent_jobs 1: 0 in flight, 0 bids open expected to bring 0)",
    );
    expect(decisions.forJob(ids["Cheap review"] ?? "")[0]?.detail).toContain("ranks 3 of 3");

    // The bid placed (even odds of an award) leaves no whole slot: the next poll decides nothing.
    const again = await feed.poll();
    expect(bidder.decide(again.biddable, feed, () => agent, new RoundBids(ledger))).toBeUndefined();

    // Once that job leaves the listing (awarded or closed) the slot is free: the jobs
    // ranked out for want of it are decided again, and the better one gets the bid.
    const rest = again.biddable.filter((job) => job.job_id !== ids["Rich review"]);
    const listed = new Set(rest.map((job) => job.job_id));
    const freed = await bidder.decide(rest, feed, () => agent, new RoundBids(ledger), listed);
    expect(titlesOf(freed)).toEqual(["Middle review"]);
  });

  it("counts its bids out at their chance of an award: best first, the rest once that leaves a slot", async () => {
    const placeAll = async (bidder: Bidder, agent: BidderAgent, listed?: ReadonlySet<string>) => {
      const page = await feed.poll();
      const jobs = listed ? page.biddable.filter((job) => listed.has(job.job_id)) : page.biddable;
      const decided = await bidder.decide(jobs, feed, () => agent, new RoundBids(ledger), listed);
      await placeRound(decided ? [decided] : [], ledger);
      return titlesOf(decided);
    };
    // Two slots, three jobs: the two best now. Two bids at even odds are expected to
    // bring one job, which leaves a slot: the third job at the next poll.
    const even = setUp({ maxConcurrent: 2, inFlight: 0 });
    expect(await placeAll(even.bidder, even.agent)).toEqual(["Rich review", "Middle review"]);
    expect(await placeAll(even.bidder, even.agent)).toEqual(["Cheap review"]);

    // Bids the learner gives a 0.9 chance each are expected to bring 1.8 jobs: no whole
    // slot for the third.
    const a = api(market.url);
    const other = await registerAgent(a, { name: "Likely" });
    const likely = setUp({ maxConcurrent: 2, inFlight: 0 }, undefined, 0.9);
    const agent = { ...likely.agent, agentId: other };
    expect(await placeAll(likely.bidder, agent)).toEqual(["Rich review", "Middle review"]);
    const page = await feed.poll();
    expect(
      likely.bidder.decide(page.biddable, feed, () => agent, new RoundBids(ledger)),
    ).toBeUndefined();
    // Ranked out once, at the first poll; not decided again.
    expect(likely.decisions.forJob(ids["Cheap review"] ?? "")).toHaveLength(1);
  });

  it("with the spend cap near, bids on the best margins whose LLM costs fit what it leaves", async () => {
    // $0.025 left covers two of the three $0.01 executions: the two best margins.
    const { bidder, agent, decisions } = setUp({ maxConcurrent: 10, inFlight: 0 }, 0.025);
    const page = await feed.poll();
    const decided = await bidder.decide(page.biddable, feed, () => agent, new RoundBids(ledger));
    expect(titlesOf(decided)).toEqual(["Rich review", "Middle review"]);
    const [skip] = decisions.forJob(ids["Cheap review"] ?? "");
    expect(skip).toMatchObject({ outcome: "skip", reason: "capacity_ranked_out" });
    expect(skip?.detail).toContain("ranks 3 of 3; its cost does not fit the $0.005");
  });

  it("with room for every job, bids on all of them in the order listed, as without a ranking", async () => {
    const roomy = setUp({ maxConcurrent: 4, inFlight: 1 }, 1);
    const page = await feed.poll();
    const ranked = await roomy.bidder.decide(
      page.biddable,
      feed,
      () => roomy.agent,
      new RoundBids(ledger),
    );
    expect(titlesOf(ranked)).toEqual(LISTED);
    expect(roomy.decisions.recent().filter((d) => d.outcome === "skip")).toEqual([]);

    // The same round from an agent that gives no capacity at all (nothing is ranked).
    const plain = setUp({ maxConcurrent: 1, inFlight: 0 });
    const { capacity: _none, ...unranked } = plain.agent;
    const same = await plain.bidder.decide(
      page.biddable,
      feed,
      () => unranked,
      new RoundBids(ledger),
    );
    expect(same?.intents).toEqual(ranked?.intents);
  });
});
