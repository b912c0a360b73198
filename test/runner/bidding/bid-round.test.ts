import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../../src/metrics.ts";
import { RoundBids } from "../../../src/runner/bidding/bidder.ts";
import { Runner } from "../../../src/runner/runner.ts";
import { createMemoryLedger } from "../../../src/state/memory-ledger.ts";
import { getJob, runningAgents } from "../../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../../support/runner-harness.ts";
import { recordingRounds } from "../../support/runner-units.ts";
import { waitFor } from "../../support/wait.ts";

/** Decisions are made per round; the round's bids go out together and are written down in one ledger call. */
describe("bid rounds", () => {
  let h: Harness | undefined;
  let runner: Runner | undefined;
  afterEach(async () => {
    await runner?.stop();
    await h?.close();
    h = runner = undefined;
  });

  it("places every agent's bids of a poll and records them in one ledger write", async () => {
    h = await startHarness();
    const ledger = createMemoryLedger();
    const { ledger: counting, rounds } = recordingRounds(ledger);
    runner = await Runner.start({
      config: h.config,
      logger: h.logger,
      metrics: createMetrics({ processMetrics: false }),
      ledger: counting,
    });
    const agents = await runningAgents(runner, 3);
    // Two jobs every built-in agent bids on, posted together: one round of six bids.
    const job = {
      title: "Code review, GraphQL schema design and anomaly detection",
      description: "A security code review, an OpenAPI schema, anomaly detection on a time series.",
      budget_usd: 5,
    };
    const [a, b] = [await postJob(h.marketplace.url, job), await postJob(h.marketplace.url, job)];
    const url = h.marketplace.url;
    await waitFor("six bids", async () =>
      (await getJob(url, a!)).bids.length + (await getJob(url, b!)).bids.length === 6
        ? true
        : undefined,
    );
    await waitFor("the ledger write", () => rounds.flat().length === 6);
    expect(rounds.length).toBeLessThanOrEqual(2); // one round, unless the posts straddled a poll
    for (const id of Object.values(agents)) {
      expect(await ledger.hasBid(id, a!)).toBe(true);
      expect(await ledger.hasBid(id, b!)).toBe(true);
    }
  });

  it("leaves out the jobs every agent decided at an earlier poll", async () => {
    h = await startHarness();
    const ledger = createMemoryLedger();
    const asked: string[][] = [];
    runner = await Runner.start({
      config: h.config,
      logger: h.logger,
      metrics: createMetrics({ processMetrics: false }),
      ledger: {
        ...ledger,
        backend: ledger.backend,
        bidsOn: (jobIds) => {
          asked.push([...jobIds]);
          return ledger.bidsOn(jobIds);
        },
      },
    });
    await runningAgents(runner, 3);
    const job = {
      title: "Code review, GraphQL schema design and anomaly detection",
      description: "A security code review, an OpenAPI schema, anomaly detection on a time series.",
      budget_usd: 5,
    };
    const url = h.marketplace.url;
    const first = await postJob(url, job);
    await waitFor("three bids", async () =>
      (await getJob(url, first!)).bids.length === 3 ? true : undefined,
    );
    const second = await postJob(url, job);
    await waitFor("three more bids", async () =>
      (await getJob(url, second!)).bids.length === 3 ? true : undefined,
    );
    // The first job is still listed (`posted`, with bids) when the second comes; every
    // agent decided it, so the second's round looks up the second alone.
    expect(asked.at(-1)).toEqual([second]);
  });
});

describe("a round's look-up of the ledger's bids", () => {
  /** A ledger whose `bidsOn` records the job ids of each call; `fail` makes the next call fail. */
  function lookups(bids: Record<string, string[]> = {}) {
    const calls: string[][] = [];
    let fail = false;
    const ledger = {
      bidsOn: async (jobIds: readonly string[]) => {
        calls.push([...jobIds]);
        if (fail) {
          fail = false;
          throw new Error("ledger unreachable");
        }
        return new Map(
          jobIds.flatMap((id) => (bids[id] ? [[id, new Set(bids[id])] as const] : [])),
        );
      },
    };
    return { ledger, calls, failNext: () => (fail = true) };
  }

  it("looks up once, only the jobs the agents said they would decide", async () => {
    const { ledger, calls } = lookups({ j2: ["a1"] });
    const known = new RoundBids(ledger);
    known.want(["j1", "j2"]);
    known.want(["j2", "j3"]);
    expect(calls).toEqual([]); // nothing asked yet
    expect(await known.hasBid("a1", "j2")).toBe(true);
    expect(await known.hasBid("a2", "j2")).toBe(false);
    expect(await known.hasBid("a1", "j3")).toBe(false);
    expect(calls).toEqual([["j1", "j2", "j3"]]);
    // A job nobody wanted is looked up on its own; one already covered is not again.
    known.want(["j3", "j4"]);
    expect(await known.hasBid("a1", "j4")).toBe(false);
    expect(calls).toEqual([["j1", "j2", "j3"], ["j4"]]);
  });

  it("sends the look-up once every agent of the pass has named its jobs", async () => {
    const { ledger, calls } = lookups({ j2: ["a2"] });
    const known = new RoundBids(ledger);
    // The first agent asks before the second has said what it will decide.
    known.want(["j1"]);
    const first = known.hasBid("a1", "j1");
    known.want(["j2"]);
    const second = known.hasBid("a2", "j2");
    expect(await Promise.all([first, second])).toEqual([false, true]);
    expect(calls).toEqual([["j1", "j2"]]);
  });

  it("asks again after a failed look-up", async () => {
    const { ledger, calls, failNext } = lookups({ j1: ["a1"] });
    const known = new RoundBids(ledger);
    known.want(["j1"]);
    failNext();
    await expect(known.hasBid("a1", "j1")).rejects.toThrow("ledger unreachable");
    expect(await known.hasBid("a1", "j1")).toBe(true);
    expect(calls).toEqual([["j1"], ["j1"]]);
  });
});
