import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import { startMarketplace } from "../../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../../src/pool.ts";
import { Bidder, type BidderAgent } from "../../../src/runner/bidding/bidder.ts";
import { RoundBids } from "../../../src/runner/bidding/round-bids.ts";
import { placeRound } from "../../../src/runner/bidding/round-placement.ts";
import { JobFeed } from "../../../src/runner/feed/job-feed.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
import { getJob } from "../../support/market-helpers.ts";
import { api, postJob, registerAgent } from "../../support/marketplace-requests.ts";
import { agentConfig, telemetryFixture } from "../../support/runner-units.ts";

/** One agent's bidder: its decisions are values; placing them goes through its placer. */
describe("an agent's bidder", () => {
  let market: Awaited<ReturnType<typeof startMarketplace>>;
  let pool: ReturnType<typeof createSharedPool>;
  let client: MarketplaceClient;
  let ledger: Ledger;
  let feed: JobFeed;
  const lifetime = new AbortController();

  beforeEach(async () => {
    market = await startMarketplace({ dbPath: ":memory:", port: 0 });
    pool = createSharedPool();
    client = new MarketplaceClient({ baseUrl: market.url, dispatcher: pool });
    ledger = openSqliteLedger({ path: ":memory:" });
    feed = new JobFeed({ client, logger: silentLogger() });
  });
  afterEach(async () => {
    await market.close();
    await ledger.close();
    await pool.close();
  });

  it("decides a round as plain values (no live object), placed through the bidder's placer", async () => {
    const a = api(market.url);
    const agentId = await registerAgent(a, { name: "Plain" });
    const jobId = await postJob(a, { required_capabilities: ["code_review"] });
    const config = agentConfig();
    const fixture = telemetryFixture(config);
    const bidder = new Bidder({
      client,
      ledger,
      telemetry: fixture.telemetry,
      pollIntervalMs: 5_000,
      evaluationTimeoutMs: 5_000,
      lifetime: lifetime.signal,
    });
    const agent: BidderAgent = {
      agentId,
      config,
      accepting: () => true,
      epoch: 3,
      evaluate: async () => ({
        canComplete: true,
        confidence: 0.8,
        bidAmountUsd: 0.5,
        estimatedTimeMinutes: 2,
        reasoning: "a careful read",
      }),
      price: async (_job, decision) => decision,
    };
    const page = await feed.poll();
    const decided = await bidder.decide(page.biddable, feed, () => agent, new RoundBids(ledger));
    expect(decided?.intents).toHaveLength(1);
    const intents = decided?.intents ?? [];
    // A structured clone refuses functions and keeps no class: the intents come through
    // whole only when they hold nothing but data (ids, the job as listed, the decision).
    expect(structuredClone(intents)).toEqual(intents);
    expect(intents[0]).toMatchObject({
      agentId,
      epoch: 3,
      job: { job_id: jobId },
      decision: { kind: "bid", priceUsd: 0.5, confidence: 0.8 },
    });

    await ledger.raiseFence(agentId, 3);
    expect(await placeRound(decided ? [decided] : [], ledger)).toBe(1);
    expect((await getJob(market.url, jobId)).bids.map((b) => b.agent_id)).toEqual([agentId]);
    expect(await ledger.get(agentId, jobId)).toMatchObject({ epoch: 3, bidPriceUsd: 0.5 });
    // Placed, so decided: the next poll's round has nothing to decide.
    expect(bidder.decide(page.biddable, feed, () => agent, new RoundBids(ledger))).toBeUndefined();
  });
});
