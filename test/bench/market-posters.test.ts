import { describe, expect, it } from "vitest";
import { award, rubricScore, simulatedDeliverable } from "../../bench/market/posters.ts";
import { CLASSES, marketJob } from "../../bench/market/world.ts";

describe("the market bench's posters", () => {
  it("award the best confidence per dollar among the bids under their limit, none above it", () => {
    const bids = [
      { bidId: "cheap-unsure", priceUsd: 0.02, confidence: 0.5 }, // 25 per dollar
      { bidId: "ours", priceUsd: 0.03, confidence: 0.9 }, // 30 per dollar
      { bidId: "best-but-dear", priceUsd: 0.01, confidence: 0.9 }, // 90, above the limit below
    ];
    expect(award(bids, 0.05)?.bidId).toBe("best-but-dear");
    expect(award(bids.slice(0, 2), 0.05)?.bidId).toBe("ours");
    expect(award(bids.slice(0, 2), 0.025)?.bidId).toBe("cheap-unsure");
    expect(award(bids.slice(0, 2), 0.01)).toBeUndefined();
    // A tie goes to the earliest bid.
    expect(
      award(
        [
          { bidId: "a", priceUsd: 0.02, confidence: 0.4 },
          { bidId: "b", priceUsd: 0.04, confidence: 0.8 },
        ],
        1,
      )?.bidId,
    ).toBe("a");
  });

  it("rate coverage of the asked items and the asked format, less the shortfall below their expectation", () => {
    const job = { ...marketJob("t", 1, 5), asked: ["xss", "csrf"], format: "list" as const };
    const strict = { ...job, poster: { ...job.poster, expectation: 0.9 } };
    const lenient = { ...job, poster: { ...job.poster, expectation: 0.5 } };
    expect(rubricScore(lenient, "1. xss: found\n2. csrf: found")).toBe(1);
    expect(rubricScore(lenient, "1. xss: found")).toBe(0.63); // 0.375 + 0.25
    expect(rubricScore(strict, "1. xss: found")).toBe(0.43); // less half of 0.4
    expect(rubricScore(lenient, JSON.stringify({ xss: 1, csrf: 2 }))).toBe(0.75); // wrong format
  });

  it("deliver the same text for a job whoever bids, and more of it with more skill", () => {
    for (let i = 0; i < 50; i++) {
      const job = marketJob("t", i, 5);
      expect(simulatedDeliverable(job, 0.9)).toBe(simulatedDeliverable(marketJob("t", i, 5), 0.9));
    }
    const scores = (skill: number) =>
      Array.from({ length: 300 }, (_, i) => marketJob("t", i, 5)).reduce(
        (sum, job) => sum + rubricScore(job, simulatedDeliverable(job, skill)),
        0,
      );
    expect(scores(0.95)).toBeGreaterThan(scores(0.6));
  });

  it("draw every class, with competitor prices within the budget and limits at most the budget", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const job = marketJob("t", i, 5);
      seen.add(job.profile.capability);
      expect(job.poster.limitUsd).toBeLessThanOrEqual(job.budgetUsd);
      for (const c of job.competitors) expect(c.priceUsd).toBeLessThanOrEqual(job.budgetUsd);
    }
    expect(seen.size).toBe(CLASSES.length);
  });
});
