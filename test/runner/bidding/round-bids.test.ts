import { describe, expect, it } from "vitest";
import { RoundBids } from "../../../src/runner/bidding/round-bids.ts";

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
