import { describe, expect, it } from "vitest";
import {
  armStats,
  choosePrice,
  DEFAULT_LEARNER,
  jobClassOf,
  type LearnerSettings,
  type PriceContext,
  paidShare,
  sampleBeta,
  seededRandom,
} from "../../../src/runner/policy/price-learning.ts";
import type { JobOutcome } from "../../../src/state/outcomes.ts";

const ctx = (fields: Partial<PriceContext> = {}): PriceContext => ({
  agentId: "agent-1",
  jobId: "job-1",
  jobClass: "code_review",
  fixedPriceUsd: 0.1,
  floorUsd: 0.01,
  budgetUsd: 1,
  costUsd: 0.002,
  ...fields,
});

const greedy: LearnerSettings = { ...DEFAULT_LEARNER, exploration: 0 };

let serial = 0;
/** `n` decided bids at `multiplier`, `won` of them won and paid in full. */
function bids(multiplier: number, n: number, won: number, extra: Partial<JobOutcome> = {}) {
  return Array.from(
    { length: n },
    (_, i): JobOutcome => ({
      agentId: "agent-1",
      jobId: `past-${serial++}`,
      jobClass: "code_review",
      multiplier,
      priceUsd: multiplier * 0.1,
      result: i < won ? "won" : "lost",
      ...(i < won ? { paidUsd: multiplier * 0.1 } : {}),
      ...extra,
    }),
  );
}

describe("jobClassOf", () => {
  it("is the required capability the agent scores best on, or any when none is required", () => {
    const caps = { code_review: 0.94, security_analysis: 0.9 };
    expect(jobClassOf(["security_analysis", "code_review"], caps)).toBe("code_review");
    expect(jobClassOf(["security_analysis"], caps)).toBe("security_analysis");
    expect(jobClassOf([], caps)).toBe("any");
    // A name the prototype has is not a capability of the agent.
    expect(jobClassOf(["constructor", "code_review"], caps)).toBe("code_review");
  });
});

describe("paidShare", () => {
  it("reads the payment when known, else the quality score by the service's rule", () => {
    expect(paidShare({ agentId: "a", jobId: "j", priceUsd: 0.2, paidUsd: 0.1 })).toBe(0.5);
    expect(paidShare({ agentId: "a", jobId: "j", qualityScore: 0.7 })).toBe(1);
    expect(paidShare({ agentId: "a", jobId: "j", qualityScore: 0.5 })).toBe(0.5);
    expect(paidShare({ agentId: "a", jobId: "j", qualityScore: 0.48 })).toBe(0);
    expect(paidShare({ agentId: "a", jobId: "j" })).toBeUndefined();
  });
});

describe("choosePrice", () => {
  it("takes the level of the best expected profit and says why, in counts", () => {
    // Won 9 of 10 at ×1.5, lost every bid at ×1.75 and ×2: ×1.5 earns most.
    const outcomes = [...bids(1.5, 10, 9), ...bids(1.75, 6, 0), ...bids(2, 6, 0)];
    const choice = choosePrice(outcomes, ctx(), greedy);
    expect(choice.multiplier).toBe(1.5);
    expect(choice.priceUsd).toBe(0.15);
    expect(choice.explored).toBe(false);
    expect(choice.reason).toMatch(/^×1\.50 \(\$0\.150\): won 9 of 10 at this level; P\(win\)/);
  });

  it("counts a bid won at a higher price as a win at each lower one, and a loss below as a loss above", () => {
    const { arms } = armStats([...bids(1.5, 4, 4), ...bids(0.8, 3, 0)], ctx(), greedy);
    const at = (m: number) => arms.find((a) => a.multiplier === m);
    // ×1: the four wins at ×1.5 and the three losses at ×0.8, over the Beta(0.5, 0.5) prior.
    expect(at(1)).toMatchObject({ won: 0, lost: 0, alpha: 4.5, beta: 3.5 });
    expect(at(2)).toMatchObject({ alpha: 0.5, beta: 3.5 });
    expect(at(0.6)).toMatchObject({ alpha: 4.5, beta: 0.5 });
  });

  it("learns only from the job's class, decided bids, and the newest `window`", () => {
    const other = bids(2, 20, 20, { jobClass: "schema_design" });
    const pending = bids(2, 20, 0, { result: "pending" });
    const { decided } = armStats([...other, ...pending], ctx(), greedy);
    expect(decided).toBe(0);
    const newest = bids(1, 5, 5);
    const older = bids(1, 50, 0);
    const windowed = armStats([...newest, ...older], ctx(), { ...greedy, window: 5 });
    expect(windowed.decided).toBe(5);
    expect(windowed.arms.find((a) => a.multiplier === 1)).toMatchObject({ won: 5, lost: 0 });
  });

  it("counts counter-offers as part of a loss: a price the posters counter at is chosen less", () => {
    const plain = [...bids(1.3, 10, 10), ...bids(1.15, 10, 8)];
    const countered = [...bids(1.3, 10, 10, { counterOffers: 1 }), ...bids(1.15, 10, 8)];
    expect(choosePrice(plain, ctx(), greedy).multiplier).toBe(1.3);
    const choice = choosePrice(countered, ctx(), greedy);
    expect(choice.multiplier).toBe(1.15);
  });

  it("expects less payment when posters paid less, and prices up when wins are worth less than their cost", () => {
    const unpaid = bids(1, 20, 20).map((o) => ({ ...o, paidUsd: 0 }));
    // Work that is never paid only costs: the learner bids where it wins least.
    const choice = choosePrice(unpaid, ctx({ costUsd: 0.05 }), greedy);
    expect(choice.multiplier).toBe(2);
    expect(choice.reason).toContain("paid 9 % of the price");
  });

  it("never bids below the floor nor above 85 % of the budget, whatever it learned", () => {
    const random = seededRandom("bounds");
    for (let i = 0; i < 300; i++) {
      const floorUsd = Math.round(random() * 50) / 1000;
      const budgetUsd = floorUsd / 0.85 + random() * 0.3;
      const c = ctx({ jobId: `j${i}`, floorUsd, budgetUsd, fixedPriceUsd: random() * 0.4 });
      const learned = [...bids(0.6, 3, 3), ...bids(2, 3, 3)];
      const choice = choosePrice(learned, c, { ...DEFAULT_LEARNER, exploration: 1 });
      expect(choice.priceUsd).toBeGreaterThanOrEqual(floorUsd);
      expect(choice.priceUsd).toBeLessThanOrEqual(0.85 * budgetUsd + 1e-12);
    }
  });

  it("is a function of the outcomes and the seed: two replicas choose alike", () => {
    const outcomes = [...bids(1.15, 5, 3), ...bids(1.3, 5, 2)];
    const settings = { ...DEFAULT_LEARNER, exploration: 1 };
    const a = Array.from({ length: 40 }, (_, i) =>
      choosePrice(outcomes, ctx({ jobId: `j${i}` }), settings),
    );
    const b = Array.from({ length: 40 }, (_, i) =>
      choosePrice(outcomes, ctx({ jobId: `j${i}` }), settings),
    );
    expect(b).toEqual(a);
    const reseeded = Array.from({ length: 40 }, (_, i) =>
      choosePrice(outcomes, ctx({ jobId: `j${i}` }), { ...settings, seed: "other" }),
    );
    expect(reseeded.map((c) => c.multiplier)).not.toEqual(a.map((c) => c.multiplier));
  });

  it("explores in at most the share it is given, and never with exploration 0", () => {
    const outcomes = [...bids(1, 10, 7), ...bids(1.3, 10, 4)];
    const share = (exploration: number) => {
      let explored = 0;
      for (let i = 0; i < 2000; i++)
        if (
          choosePrice(outcomes, ctx({ jobId: `j${i}` }), { ...DEFAULT_LEARNER, exploration })
            .explored
        )
          explored++;
      return explored / 2000;
    };
    expect(share(0)).toBe(0);
    expect(share(0.1)).toBeGreaterThan(0.07);
    expect(share(0.1)).toBeLessThan(0.13);
    const exploring = choosePrice(outcomes, ctx({ jobId: "j" }), {
      ...DEFAULT_LEARNER,
      exploration: 1,
    });
    expect(exploring.reason).toContain("exploring");
  });

  it("with no outcomes says so", () => {
    expect(choosePrice([], ctx(), greedy).reason).toContain("no decided bids yet for code_review");
  });

  it("finds a market's price: posters who take up to ×1.3 of the fixed price make it bid ×1.3", () => {
    // A stationary market: every bid at or under 1.3 × the fixed price wins, every bid above loses.
    const outcomes: JobOutcome[] = [];
    let earned = 0;
    for (let i = 0; i < 300; i++) {
      const c = ctx({ jobId: `m${i}` });
      const choice = choosePrice(outcomes, c, DEFAULT_LEARNER);
      const won = choice.multiplier <= 1.3;
      if (won) earned += choice.priceUsd - c.costUsd;
      outcomes.unshift({
        agentId: "agent-1",
        jobId: c.jobId,
        jobClass: c.jobClass,
        multiplier: choice.multiplier,
        priceUsd: choice.priceUsd,
        result: won ? "won" : "lost",
        ...(won ? { paidUsd: choice.priceUsd } : {}),
      });
    }
    const last50 = outcomes.slice(0, 50).filter((o) => o.multiplier === 1.3).length;
    expect(last50).toBeGreaterThanOrEqual(45);
    // Fixed pricing wins every job at ×1: 300 × (0.1 − 0.002); the best level earns 30 % more.
    expect(earned).toBeGreaterThan(300 * 0.098 * 1.2);
  });
});

describe("sampleBeta", () => {
  it("draws with the Beta distribution's mean", () => {
    const random = seededRandom("beta");
    let sum = 0;
    for (let i = 0; i < 4000; i++) sum += sampleBeta(3, 7, random);
    expect(sum / 4000).toBeCloseTo(0.3, 1);
    const small = sampleBeta(0.5, 0.5, random);
    expect(small).toBeGreaterThanOrEqual(0);
    expect(small).toBeLessThanOrEqual(1);
  });
});
