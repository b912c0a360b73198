import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import { startMarketplace } from "../../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../../src/pool.ts";
import type { DecidedBids } from "../../../src/runner/bidding/bid-intent.ts";
import { Bidder } from "../../../src/runner/bidding/bidder.ts";
import { placeRound } from "../../../src/runner/bidding/round-placement.ts";
import { JobFeed } from "../../../src/runner/feed/job-feed.ts";
import type { StaleEpochError } from "../../../src/state/fence.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
import { ledgerWith } from "../../support/ledger-with.ts";
import { counterSum, getJob } from "../../support/market-helpers.ts";
import { api, postJob, registerAgent } from "../../support/marketplace-requests.ts";
import { agentConfig, job, recordingRounds, telemetryFixture } from "../../support/runner-units.ts";

/** With replicas, every bid of a batched round is fenced by its agent's lease epoch. */
describe("fenced bid rounds", () => {
  let market: Awaited<ReturnType<typeof startMarketplace>>;
  let pool: ReturnType<typeof createSharedPool>;
  let client: MarketplaceClient;
  let ledger: Ledger;
  let feed: JobFeed;
  let jobId: string;
  let ids: string[];
  const fenced: string[] = [];
  const lifetime = new AbortController();

  beforeEach(async () => {
    market = await startMarketplace({ dbPath: ":memory:", port: 0 });
    const a = api(market.url);
    ids = [await registerAgent(a, { name: "Kept" }), await registerAgent(a, { name: "Lost" })];
    jobId = await postJob(a, { required_capabilities: ["code_review"] });
    pool = createSharedPool();
    client = new MarketplaceClient({ baseUrl: market.url, dispatcher: pool });
    ledger = openSqliteLedger({ path: ":memory:" });
    feed = new JobFeed({ client, logger: silentLogger() });
    fenced.length = 0;
  });
  afterEach(async () => {
    await market.close();
    await ledger.close();
    await pool.close();
  });

  /** One agent's share of a round: its bid on the job, decided under `epoch`, and its bidder as placer. */
  const intent = (agentId: string, epoch: number, fixture = telemetryFixture()): DecidedBids => {
    const bidder = new Bidder({
      client,
      ledger,
      telemetry: fixture.telemetry,
      pollIntervalMs: 1000,
      evaluationTimeoutMs: 1000,
      lifetime: lifetime.signal,
    });
    const placer = bidder.placer(
      {
        agentId,
        config: agentConfig(),
        accepting: () => !fenced.includes(agentId),
        epoch,
        fenced: (error: StaleEpochError) => fenced.push(error.agentId),
        evaluate: async () => undefined,
        price: async (_job, decision) => decision,
      },
      feed,
    );
    const decision = {
      kind: "bid" as const,
      priceUsd: 1,
      confidence: 0.8,
      estimatedTimeMinutes: 5,
      approach: "read it",
    };
    return { placer, intents: [{ agentId, job: job({ job_id: jobId }), decision, epoch }] };
  };

  it("sends no bid for an agent whose fence a newer holder raised, and records the others with their epoch", async () => {
    const [kept, lost] = ids as [string, string];
    await ledger.raiseFence(kept, 2);
    await ledger.raiseFence(lost, 3); // a newer holder took `lost` (epoch 3 > 2)
    const { ledger: counting, rounds } = recordingRounds(ledger);
    expect(await placeRound([intent(kept, 2), intent(lost, 2)], counting)).toBe(1);
    expect(fenced).toEqual([lost]);
    expect(rounds).toEqual([[expect.objectContaining({ agentId: kept, epoch: 2 })]]);
    expect(await ledger.get(kept, jobId)).toMatchObject({ epoch: 2, bidPriceUsd: 1 });
    expect(await ledger.hasBid(lost, jobId)).toBe(false);
    const bids = (await getJob(market.url, jobId)).bids;
    expect(bids.map((b) => b.agent_id)).toEqual([kept]);
  });

  it("drops the agent whose fence rose between its bid and the round's ledger write; the others stay recorded", async () => {
    const [kept, lost] = ids as [string, string];
    const racing = ledgerWith(ledger, {
      // A newer holder takes `lost` while the round's bids are out.
      recordBids: async (bids) => {
        await ledger.raiseFence(lost, 5);
        return ledger.recordBids(bids);
      },
    });
    expect(await placeRound([intent(kept, 1), intent(lost, 4)], racing)).toBe(2);
    expect(fenced).toEqual([lost]);
    expect(await ledger.get(kept, jobId)).toMatchObject({ epoch: 1, bidPriceUsd: 1 });
    expect(await ledger.hasBid(lost, jobId)).toBe(false);
    expect((await getJob(market.url, jobId)).bids).toHaveLength(2);
  });

  it("stamps a round's jobs in one ledger call before any bid goes out; while it cannot, no leased bid goes", async () => {
    const [kept, other] = ids as [string, string];
    const stamped: number[] = [];
    let down = false;
    const counting = ledgerWith(ledger, {
      fenceJobs: async (stamps) => {
        stamped.push(stamps.length);
        if (down) throw new Error("ledger unreachable");
        // Every stamp is on record before the marketplace sees a bid.
        expect((await getJob(market.url, jobId)).bids).toEqual([]);
        return ledger.fenceJobs(stamps);
      },
    });
    down = true;
    const seen = telemetryFixture();
    expect(await placeRound([intent(kept, 1, seen), intent(other, 1)], counting)).toBe(0);
    expect(stamped).toEqual([2]);
    expect((await getJob(market.url, jobId)).bids).toEqual([]);
    expect(fenced).toEqual([]);
    // Counted as a failed attempt: the job stays undecided and is tried at the next poll.
    expect(await counterSum(seen.metrics.bids, { outcome: "error" })).toBe(1);

    down = false;
    expect(await placeRound([intent(kept, 1), intent(other, 1)], counting)).toBe(2);
    expect(stamped).toEqual([2, 2]);
    expect(await ledger.get(kept, jobId)).toMatchObject({ epoch: 1, bidPriceUsd: 1 });
  });
});
