import { describe, expect, it } from "vitest";
import {
  AWARD_PRIOR,
  awardProbability,
  expectedMarginUsd,
  paymentProbability,
  rankByMargin,
  spareSlots,
} from "../../../src/runner/policy/capacity-ranking.ts";

const bid = (id: string, priceUsd: number, probability: number, costUsd = 0.01) => ({
  id,
  priceUsd,
  probability,
  costUsd,
});
const ids = (cs: readonly { id: string }[]) => cs.map((c) => c.id);

describe("ranking a round's bids when capacity is short", () => {
  const cheap = bid("cheap", 0.1, 0.9); // 0.09 − 0.01 = 0.08
  const rich = bid("rich", 0.8, 0.5); // 0.40 − 0.01 = 0.39
  const middle = bid("middle", 0.4, 0.8); // 0.32 − 0.01 = 0.31

  it("the expected margin is P × price − the expected LLM cost", () => {
    expect(expectedMarginUsd({ priceUsd: 0.8, probability: 0.5, costUsd: 0.01 })).toBeCloseTo(0.39);
    expect(expectedMarginUsd({ priceUsd: 0.1, probability: 0.2, costUsd: 0.05 })).toBeCloseTo(
      -0.03,
    );
  });

  it("P is the decision's win probability when its price basis has one, else its confidence", () => {
    const decision = {
      kind: "bid" as const,
      priceUsd: 0.5,
      confidence: 0.9,
      estimatedTimeMinutes: 1,
      approach: "",
    };
    expect(paymentProbability(decision)).toBe(0.9);
    expect(paymentProbability({ ...decision, basis: { winProbability: 0.35 } })).toBe(0.35);
    expect(paymentProbability({ ...decision, basis: {} })).toBe(0.9);
    expect(paymentProbability({ ...decision, confidence: 1.7 })).toBe(1);
    // The chance of an award: the learner's, else even odds (the confidence says nothing of it).
    expect(awardProbability({ ...decision, basis: { winProbability: 0.35 } })).toBe(0.35);
    expect(awardProbability(decision)).toBe(AWARD_PRIOR);
  });

  it("with room for every candidate, takes them all in the order they came (nothing ranked)", () => {
    const ranking = rankByMargin([cheap, rich, middle], {
      maxConcurrent: 5,
      inFlight: 1,
      openBids: 1,
      expectedAwards: 0.5,
      spendLeftUsd: 1,
    });
    expect(ranking.short).toBe(false);
    expect(ids(ranking.take)).toEqual(["cheap", "rich", "middle"]);
    expect(ranking.rankedOut).toEqual([]);
  });

  it("with fewer slots than candidates, takes the best margins, best first", () => {
    const ranking = rankByMargin([cheap, rich, middle], {
      maxConcurrent: 3,
      inFlight: 1,
      openBids: 0,
      expectedAwards: 0,
    });
    expect(ranking.short).toBe(true);
    expect(ids(ranking.take)).toEqual(["rich", "middle"]);
    expect(ranking.rankedOut).toHaveLength(1);
    const out = ranking.rankedOut[0];
    expect(out).toMatchObject({ candidate: { id: "cheap" }, rank: 3, short: "slots" });
    expect(out?.marginUsd).toBeCloseTo(0.08);
    expect(out?.detail).toBe(
      "expected margin $0.08 (0.9 × $0.1 − $0.01 LLM cost) ranks 3 of 3; room for 2 more (max_concurrent_jobs 3: 1 in flight, 0 bids open expected to bring 0)",
    );
  });

  it("counts bids that may still be awarded at their chance of it; a new job needs a whole slot", () => {
    // Two bids out at even odds hold one slot of three; three hold one and a half: one left.
    expect(spareSlots({ maxConcurrent: 3, inFlight: 0, expectedAwards: 1 })).toBe(2);
    expect(spareSlots({ maxConcurrent: 3, inFlight: 0, expectedAwards: 1.5 })).toBe(1);
    expect(spareSlots({ maxConcurrent: 2, inFlight: 1, expectedAwards: 0.5 })).toBe(0);
    expect(spareSlots({ maxConcurrent: 2, inFlight: 1, expectedAwards: 3 })).toBe(0);
    // Float sums of chances still leave the slot they add up to.
    expect(spareSlots({ maxConcurrent: 1, inFlight: 0, expectedAwards: 0.1 + 0.2 - 0.3 })).toBe(1);
    const ranking = rankByMargin([cheap, rich], {
      maxConcurrent: 2,
      inFlight: 1,
      openBids: 1,
      expectedAwards: 0.5,
    });
    expect(ranking.take).toEqual([]);
    expect(ranking.rankedOut.map((o) => [o.candidate.id, o.rank, o.short])).toEqual([
      ["rich", 1, "slots"],
      ["cheap", 2, "slots"],
    ]);
  });

  it("ties keep the order they came in", () => {
    const a = bid("a", 0.5, 0.5);
    const b = bid("b", 0.5, 0.5);
    const ranking = rankByMargin([a, b], {
      maxConcurrent: 1,
      inFlight: 0,
      openBids: 0,
      expectedAwards: 0,
    });
    expect(ids(ranking.take)).toEqual(["a"]);
  });

  it("with the spend cap near, takes the best margins whose costs fit what it leaves", () => {
    const big = bid("big", 2, 0.9, 0.3); // 1.50
    const small = bid("small", 0.3, 0.9, 0.05); // 0.22
    const mid = bid("mid", 1, 0.9, 0.2); // 0.70
    // $0.4 left covers big ($0.3), then not mid ($0.2 > $0.1 left), but small ($0.05).
    const ranking = rankByMargin([small, mid, big], {
      maxConcurrent: 10,
      inFlight: 0,
      openBids: 0,
      expectedAwards: 0,
      spendLeftUsd: 0.4,
    });
    expect(ranking.short).toBe(true);
    expect(ids(ranking.take)).toEqual(["big", "small"]);
    expect(ranking.rankedOut).toHaveLength(1);
    expect(ranking.rankedOut[0]).toMatchObject({
      candidate: { id: "mid" },
      rank: 2,
      short: "spend",
    });
    expect(ranking.rankedOut[0]?.detail).toContain(
      "does not fit the $0.1 the spend cap leaves after the better jobs ($0.4 left of today's spend cap, $0 of it expected for the bids out)",
    );
  });

  it("counts what the bids out are expected to cost against the spend cap", () => {
    const a = bid("a", 1, 0.9, 0.1); // 0.80
    const b = bid("b", 0.5, 0.9, 0.1); // 0.35
    const capacity = { maxConcurrent: 10, inFlight: 0, openBids: 4, expectedAwards: 2 };
    // $0.25 left covers both ($0.2)...
    expect(rankByMargin([b, a], { ...capacity, spendLeftUsd: 0.25 }).short).toBe(false);
    // ...not once four bids out are expected to cost $0.1 of it.
    const ranking = rankByMargin([b, a], {
      ...capacity,
      spendLeftUsd: 0.25,
      expectedSpendUsd: 0.1,
    });
    expect(ids(ranking.take)).toEqual(["a"]);
    expect(ranking.rankedOut[0]).toMatchObject({ candidate: { id: "b" }, short: "spend" });
  });

  it("lets the best job go while the cap leaves anything, as the cap itself does", () => {
    const a = bid("a", 1, 0.9, 0.1);
    const b = bid("b", 0.5, 0.9, 0.1);
    const capacity = { maxConcurrent: 10, inFlight: 0, openBids: 0, expectedAwards: 0 };
    const ranking = rankByMargin([b, a], { ...capacity, spendLeftUsd: 0.000001 });
    expect(ids(ranking.take)).toEqual(["a"]);
    expect(ids(ranking.rankedOut.map((o) => o.candidate))).toEqual(["b"]);
    // Nothing left: nothing goes (the spend cap's own skip comes first in the runner).
    const none = rankByMargin([b, a], { ...capacity, spendLeftUsd: 0 });
    expect(none.take).toEqual([]);
  });

  it("a spend cap that covers every candidate's cost changes nothing", () => {
    const ranking = rankByMargin([cheap, rich, middle], {
      maxConcurrent: 3,
      inFlight: 0,
      openBids: 0,
      expectedAwards: 0,
      spendLeftUsd: 0.03,
    });
    expect(ranking).toEqual({ short: false, take: [cheap, rich, middle], rankedOut: [] });
  });
});
