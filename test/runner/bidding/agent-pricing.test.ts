import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/env.ts";
import {
  agentFloor,
  bidOutcome,
  checkSpendCap,
  learnedBid,
  notePricedBid,
  OutcomeCache,
  priceBid,
  pricedBid,
  priceReason,
  pricingDeps,
} from "../../../src/runner/bidding/agent-pricing.ts";
import { SpendCaps } from "../../../src/runner/bidding/spend-caps.ts";
import type { PlaceDecision } from "../../../src/runner/policy/bid-decision.ts";
import type { Floor } from "../../../src/runner/policy/price-floor.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import { agentConfig, job, telemetryFixture } from "../../support/runner-units.ts";

const place = (priceUsd: number): PlaceDecision => ({
  kind: "bid",
  priceUsd,
  confidence: 0.8,
  estimatedTimeMinutes: 5,
  approach: "review it",
});
const floorAt = (floorUsd: number): Floor => ({
  costUsd: floorUsd / 2,
  floorUsd,
  inputTokens: 100,
  outputTokens: 100,
});
const settings = { llmPrices: { m: 2, d: 1_000_000 }, defaultModel: "d", minMargin: 1.5 };

describe("priceBid", () => {
  it("skips with the cap's sentence when a spend cap is reached, whatever the floor", () => {
    expect(priceBid(job(), place(0.5), "the runner's spend reached $1", floorAt(0.01))).toEqual({
      kind: "skip",
      reason: "spend_cap",
      detail: "the runner's spend reached $1",
    });
  });

  it("skips when 85 % of the budget is below the floor", () => {
    const decision = priceBid(job({ budget_usd: 0.1 }), place(0.05), null, floorAt(0.09));
    expect(decision).toMatchObject({ kind: "skip", reason: "below_floor" });
    expect(decision.kind === "skip" && decision.detail).toContain("$0.09");
  });

  it("raises a price below the floor to it, and keeps the rest of the decision", () => {
    expect(priceBid(job({ budget_usd: 1 }), place(0.02), null, floorAt(0.3))).toEqual({
      ...place(0.02),
      priceUsd: 0.3,
    });
  });

  it("leaves a price at or above the floor as it is", () => {
    expect(priceBid(job({ budget_usd: 1 }), place(0.6), null, floorAt(0.3))).toEqual(place(0.6));
  });
});

describe("agentFloor", () => {
  it("prices the agent's model, its type's output capped by max_tokens, times the margin", () => {
    const capped = agentFloor(
      job(),
      agentConfig({ model: "d", max_tokens: 100 }),
      { expectedOutputTokens: 1200 },
      settings,
    );
    expect(capped.outputTokens).toBe(100);
    expect(capped.costUsd).toBeCloseTo(capped.inputTokens + 100);
    expect(capped.floorUsd).toBeGreaterThanOrEqual(capped.costUsd * 1.5);
    const typed = agentFloor(
      job(),
      agentConfig({ model: "d" }),
      { expectedOutputTokens: 300 },
      settings,
    );
    expect(typed.outputTokens).toBe(300);
  });

  it("uses the default model when the agent names none, and min_price_usd when that is higher", () => {
    const byDefault = agentFloor(job(), agentConfig(), {}, settings);
    expect(byDefault.costUsd).toBeCloseTo(byDefault.inputTokens + byDefault.outputTokens);
    const cheap = agentFloor(
      job(),
      agentConfig({ model: "m", min_price_usd: 0.25 }),
      { expectedOutputTokens: 10 },
      settings,
    );
    expect(cheap.floorUsd).toBe(0.25);
    const unpriced = agentFloor(job(), agentConfig({ model: "unknown" }), {}, settings);
    expect(unpriced).toMatchObject({ costUsd: 0, floorUsd: 0 });
  });
});

describe("checkSpendCap", () => {
  it("says which cap is reached and shows it, and clears when there is room again", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    const { telemetry } = telemetryFixture();
    const caps = new SpendCaps(ledger, { agentCapUsd: 0.5, runnerCapUsd: undefined });
    expect(await checkSpendCap(caps, "file:CodeReviewer", telemetry)).toBeNull();
    expect(telemetry.stats.view.spendCapReached).toBe(false);
    await caps.record("file:CodeReviewer", 0.6);
    expect(await checkSpendCap(caps, "file:CodeReviewer", telemetry)).toContain(
      "AGENT_DAILY_SPEND_USD ($0.5)",
    );
    expect(telemetry.stats.view.spendCapReached).toBe(true);
    expect(await checkSpendCap(caps, "file:Other", telemetry)).toBeNull();
    expect(telemetry.stats.view.spendCapReached).toBe(false);
  });

  it("with no cap set, looks nothing up and leaves the gauge absent", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    let lookups = 0;
    const counting = {
      addSpend: ledger.addSpend,
      spendOn: async (day: string, agent?: string) => {
        lookups++;
        return ledger.spendOn(day, agent);
      },
    };
    const { telemetry, metrics } = telemetryFixture();
    const caps = new SpendCaps(counting, { agentCapUsd: undefined, runnerCapUsd: undefined });
    expect(await checkSpendCap(caps, "file:CodeReviewer", telemetry)).toBeNull();
    expect(lookups).toBe(0);
    expect((await metrics.spendCapReached.get()).values).toEqual([]);
    const capped = new SpendCaps(counting, { agentCapUsd: 1, runnerCapUsd: undefined });
    await checkSpendCap(capped, "file:CodeReviewer", telemetry);
    expect(lookups).toBe(1);
    expect((await metrics.spendCapReached.get()).values).toHaveLength(1);
  });

  it("counts a ledger that cannot answer as room left", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    const failing = {
      addSpend: ledger.addSpend,
      spendOn: async () => Promise.reject(new Error("ledger away")),
    };
    const { telemetry } = telemetryFixture();
    const caps = new SpendCaps(failing, { agentCapUsd: 0.5, runnerCapUsd: 1 });
    expect(await checkSpendCap(caps, "file:CodeReviewer", telemetry)).toBeNull();
  });
});

describe("learnedBid", () => {
  const agent = { agentId: "agent-1", config: agentConfig({ capabilities: { code_review: 0.9 } }) };
  const won = (jobId: string, multiplier: number) => ({
    agentId: "agent-1",
    jobId,
    jobClass: "code_review",
    multiplier,
    priceUsd: multiplier * 0.1,
    paidUsd: multiplier * 0.1,
    result: "won" as const,
  });

  it("with fixed pricing keeps the executor's price and records ×1 of it", () => {
    const priced = learnedBid(job(), place(0.1), floorAt(0.01), agent, [won("j0", 2)], "fixed");
    expect(priced.priceUsd).toBe(0.1);
    expect(priced.basis).toEqual({
      jobClass: "code_review",
      fixedPriceUsd: 0.1,
      multiplier: 1,
      explored: false,
      reason: "fixed pricing",
    });
  });

  it("with adaptive pricing bids the learned multiplier of the executor's price, with its reason", () => {
    const outcomes = Array.from({ length: 8 }, (_, i) => won(`j${i}`, 2));
    const priced = learnedBid(job(), place(0.1), floorAt(0.01), agent, outcomes, "adaptive");
    expect(priced.basis.multiplier).toBe(2);
    expect(priced.priceUsd).toBe(0.2);
    expect(priced.basis.reason).toMatch(/^×2\.00 \(\$0\.200\): won 8 of 8 at this level/);
    // The rest of the decision is the executor's.
    expect(priced).toMatchObject({ kind: "bid", confidence: 0.8, approach: "review it" });
  });

  it("stays within the floor and 85 % of the budget, and priceBid keeps the basis", () => {
    const outcomes = Array.from({ length: 8 }, (_, i) => won(`j${i}`, 2));
    const capped = learnedBid(
      job({ budget_usd: 0.2 }),
      place(0.1),
      floorAt(0.01),
      agent,
      outcomes,
      "adaptive",
    );
    expect(capped.priceUsd).toBe(0.17);
    const placed = priceBid(job({ budget_usd: 0.2 }), capped, null, floorAt(0.01));
    // ×1.75 and ×2 both come to the cap: the tie goes to the level nearer today's formula.
    expect(placed).toMatchObject({ kind: "bid", priceUsd: 0.17, basis: { multiplier: 1.75 } });
  });
});

describe("bidOutcome", () => {
  it("records the multiplier the placed price came to, after the floor raised it", () => {
    const basis = {
      jobClass: "code_review",
      fixedPriceUsd: 0.1,
      multiplier: 0.6,
      explored: false,
      reason: "",
    };
    expect(bidOutcome(basis, 0.08, new Date("2026-12-01T00:00:00Z"))).toEqual({
      jobClass: "code_review",
      multiplier: 0.8,
      priceUsd: 0.08,
      bidAt: "2026-12-01T00:00:00.000Z",
      result: "pending",
    });
  });
});

describe("OutcomeCache", () => {
  it("reads an agent's outcomes once per max age, again after forget, and none from a failing ledger", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    await ledger.noteOutcome("a", "j1", { jobClass: "code_review", multiplier: 1, result: "won" });
    let reads = 0;
    let now = 0;
    const cache = new OutcomeCache(
      {
        outcomes: (agentId: string) => {
          reads++;
          return ledger.outcomes(agentId);
        },
      },
      1000,
      () => now,
    );
    expect(await cache.outcomes("a")).toHaveLength(1);
    await ledger.noteOutcome("a", "j2", { jobClass: "code_review", multiplier: 1, result: "lost" });
    expect(await cache.outcomes("a")).toHaveLength(1);
    expect(reads).toBe(1);
    cache.forget("a");
    expect(await cache.outcomes("a")).toHaveLength(2);
    now = 1000;
    await cache.outcomes("a");
    expect(reads).toBe(3);
    const failing = new OutcomeCache({ outcomes: () => Promise.reject(new Error("away")) }, 1000);
    expect(await failing.outcomes("a")).toEqual([]);
  });
});

describe("pricedBid and notePricedBid", () => {
  const agent = { agentId: "agent-1", config: agentConfig({ capabilities: { code_review: 0.9 } }) };

  it("learns from the ledger's outcomes, and the placed bid's record is what the next decision reads", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    let reads = 0;
    const store = {
      outcomes: (agentId: string) => {
        reads++;
        return ledger.outcomes(agentId);
      },
    };
    for (let i = 0; i < 6; i++) {
      await ledger.noteOutcome("agent-1", `j${i}`, {
        jobClass: "code_review",
        multiplier: 1.5,
        priceUsd: 0.15,
        result: "won",
        paidUsd: 0.15,
      });
    }
    const pricing = pricingDeps(
      { pricing: "adaptive", priceExploration: 0, pollIntervalMs: 30_000 },
      store,
    );
    const decision = await pricedBid(job(), place(0.1), null, floorAt(0.01), agent, pricing);
    expect(decision).toMatchObject({ kind: "bid", priceUsd: 0.15, basis: { multiplier: 1.5 } });
    expect(reads).toBe(1);
    if (decision.kind !== "bid") throw new Error("no bid");
    await notePricedBid(ledger, "agent-1", "job_00000001", decision, () => {});
    const [newest] = await ledger.outcomes("agent-1", 1);
    expect(newest).toMatchObject({
      jobId: "job_00000001",
      jobClass: "code_review",
      multiplier: 1.5,
      priceUsd: 0.15,
      result: "pending",
    });
  });

  it("skips at a reached spend cap without reading the ledger; fixed pricing never reads it", async () => {
    let reads = 0;
    const store = {
      outcomes: async () => {
        reads++;
        return [];
      },
    };
    const adaptive = pricingDeps(
      { pricing: "adaptive", priceExploration: 0.1, pollIntervalMs: 1 },
      store,
    );
    expect(
      await pricedBid(job(), place(0.1), "cap reached", floorAt(0.01), agent, adaptive),
    ).toMatchObject({
      kind: "skip",
      reason: "spend_cap",
    });
    const fixed = pricingDeps(
      { pricing: "fixed", priceExploration: 0.1, pollIntervalMs: 1 },
      store,
    );
    expect(await pricedBid(job(), place(0.1), null, floorAt(0.01), agent, fixed)).toMatchObject({
      kind: "bid",
      priceUsd: 0.1,
      basis: { multiplier: 1, reason: "fixed pricing" },
    });
    expect(reads).toBe(0);
    // No pricing given: the executor's price, as before.
    expect(await pricedBid(job(), place(0.1), null, floorAt(0.01), agent, undefined)).toEqual(
      place(0.1),
    );
  });

  it("gives the decision log the price's reason", () => {
    const basis = {
      jobClass: "any",
      fixedPriceUsd: 0.1,
      multiplier: 1.15,
      explored: false,
      reason: "×1.15: won 7 of 9",
    };
    expect(priceReason({ ...place(0.115), basis })).toBe("; ×1.15: won 7 of 9");
    expect(priceReason(place(0.1))).toBe("");
  });

  it("writes nothing for a decision priced without a basis, and reports a failed write", async () => {
    const written: string[] = [];
    const errors: unknown[] = [];
    const store = {
      noteOutcome: async (_agentId: string, jobId: string) => {
        written.push(jobId);
        throw new Error("ledger away");
      },
    };
    await notePricedBid(store, "agent-1", "j1", place(0.1), (e) => errors.push(e));
    expect(written).toEqual([]);
    const basis = {
      jobClass: "any",
      fixedPriceUsd: 0.1,
      multiplier: 1,
      explored: false,
      reason: "",
    };
    await notePricedBid(store, "agent-1", "j2", { ...place(0.1), basis }, (e) => errors.push(e));
    expect(written).toEqual(["j2"]);
    expect(errors).toHaveLength(1);
  });
});

describe("AGENT_PRICING and AGENT_PRICE_EXPLORATION", () => {
  const store = { outcomes: async () => [] };

  it("default to adaptive pricing exploring in a tenth of the bids, and reach the pricing", () => {
    const pricing = pricingDeps(loadConfig({}), store);
    expect(pricing.mode).toBe("adaptive");
    expect(pricing.learner.exploration).toBe(0.1);
    const fixed = pricingDeps(
      loadConfig({ AGENT_PRICING: "fixed", AGENT_PRICE_EXPLORATION: "0.25" }),
      store,
    );
    expect(fixed).toMatchObject({ mode: "fixed", learner: { exploration: 0.25 } });
  });

  it("refuse another mode, and an exploration outside 0..1, naming the variable", () => {
    expect(() => loadConfig({ AGENT_PRICING: "auction" })).toThrow(
      /^AGENT_PRICING: must be fixed or adaptive/,
    );
    expect(() => loadConfig({ AGENT_PRICE_EXPLORATION: "1.5" })).toThrow(
      /^AGENT_PRICE_EXPLORATION: must be between 0 and 1/,
    );
  });
});
