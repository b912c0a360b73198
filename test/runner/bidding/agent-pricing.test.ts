import { describe, expect, it } from "vitest";
import { agentFloor, checkSpendCap, priceBid } from "../../../src/runner/bidding/agent-pricing.ts";
import { SpendCaps } from "../../../src/runner/bidding/spend-caps.ts";
import type { PlaceDecision } from "../../../src/runner/policy/bid-decision.ts";
import type { Floor } from "../../../src/runner/policy/price-floor.ts";
import { createMemoryLedger } from "../../../src/state/memory-ledger.ts";
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
    const ledger = createMemoryLedger();
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
    const ledger = createMemoryLedger();
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
    const ledger = createMemoryLedger();
    const failing = {
      addSpend: ledger.addSpend,
      spendOn: async () => Promise.reject(new Error("ledger away")),
    };
    const { telemetry } = telemetryFixture();
    const caps = new SpendCaps(failing, { agentCapUsd: 0.5, runnerCapUsd: 1 });
    expect(await checkSpendCap(caps, "file:CodeReviewer", telemetry)).toBeNull();
  });
});
