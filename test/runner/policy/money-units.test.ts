import { describe, expect, it } from "vitest";
import { type Job, JobSchema } from "../../../src/marketplace/schemas.ts";
import { capReached, SpendCaps, utcDay } from "../../../src/runner/bidding/spend-caps.ts";
import { answerOffer, MAX_ROUNDS } from "../../../src/runner/policy/offer-policy.ts";
import {
  applyFloor,
  estimateInputTokens,
  PROMPT_OVERHEAD_TOKENS,
  priceFloor,
} from "../../../src/runner/policy/price-floor.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";

const job = (fields: Partial<Job> = {}): Job =>
  JobSchema.parse({ job_id: "job_1", title: "t", description: "", status: "posted", ...fields });

describe("price floor", () => {
  const params = {
    expectedOutputTokens: 1000,
    usdPerMillionTokens: 10,
    margin: 1.5,
    minPriceUsd: 0,
  };

  it("is the estimated cost of input and expected output tokens times the margin", () => {
    const j = job({ title: "abcd", description: "x".repeat(396) }); // 400 chars = 100 tokens
    expect(estimateInputTokens(j)).toBe(100 + PROMPT_OVERHEAD_TOKENS);
    const floor = priceFloor(j, params);
    expect(floor.inputTokens).toBe(700);
    expect(floor.costUsd).toBeCloseTo((1700 * 10) / 1e6, 12);
    expect(floor.floorUsd).toBe(0.026); // 0.0255 rounded up to the tenth of a cent
  });

  it("counts attached files and the data context as input", () => {
    const plain = estimateInputTokens(job());
    const withFiles = estimateInputTokens(
      job({
        attachments: [
          { filename: "a.csv", size: 40_000 },
          { filename: "b", size: "?" },
        ],
      }),
    );
    expect(withFiles - plain).toBe(10_000);
    expect(estimateInputTokens(job({ data_context: { collection: "sales" } }))).toBeGreaterThan(
      plain,
    );
  });

  it("is never below min_price_usd, and an unknown model price leaves only that", () => {
    expect(priceFloor(job(), { ...params, minPriceUsd: 0.5 }).floorUsd).toBe(0.5);
    expect(priceFloor(job(), { ...params, usdPerMillionTokens: undefined }).floorUsd).toBe(0);
  });

  it("raises a bid to the floor, and refuses when 85 % of the budget is below it", () => {
    expect(applyFloor(0.05, 1, 0.1)).toEqual({ kind: "bid", priceUsd: 0.1, raised: true });
    expect(applyFloor(0.2, 1, 0.1)).toEqual({ kind: "bid", priceUsd: 0.2, raised: false });
    const tiny = applyFloor(0.001, 0.01, 0.026);
    expect(tiny.kind).toBe("below_floor");
    expect(tiny.kind === "below_floor" && tiny.detail).toMatch(/below the price floor of \$0.026/);
    // Exactly at 85 %: still a bid.
    expect(applyFloor(0.01, 0.1, 0.085).kind).toBe("bid");
  });
});

describe("negotiation answer", () => {
  const offer = (price_usd: number, by: "poster" | "agent") => ({ price_usd, by, message: "m" });
  const bid = (offers: ReturnType<typeof offer>[], status = "counter_offered") => ({
    status,
    counter_offers: offers,
  });

  it("accepts an offer at or above the floor", () => {
    expect(answerOffer(bid([offer(0.5, "poster")]), 0.5)).toMatchObject({
      action: "accept",
      offerIndex: 0,
      priceUsd: 0.5,
    });
  });

  it("counters once at the floor, with a one-sentence reason", () => {
    const answer = answerOffer(bid([offer(0.1, "poster")]), 0.3);
    expect(answer).toMatchObject({ action: "counter", offerIndex: 0, priceUsd: 0.3 });
    expect(
      answer.action === "counter" &&
        answer.message.split(/[.!?](\s|$)/).filter((s) => s.trim()).length,
    ).toBe(1);
  });

  it("lets it lapse after its one counter, at the round limit, or when the bid takes no counter", () => {
    expect(
      answerOffer(bid([offer(0.1, "poster"), offer(0.3, "agent"), offer(0.2, "poster")]), 0.3)
        .action,
    ).toBe("lapse");
    const five = Array.from({ length: MAX_ROUNDS }, () => offer(0.1, "poster"));
    expect(answerOffer(bid(five), 0.3)).toMatchObject({ action: "lapse", offerIndex: 4 });
    expect(answerOffer(bid([offer(0.1, "poster")], "awaiting_approval"), 0.3).action).toBe("lapse");
  });

  it("answers nothing when the last offer is the agent's or the bid is closed", () => {
    expect(answerOffer(bid([offer(0.1, "poster"), offer(0.3, "agent")]), 0.3).action).toBe("none");
    expect(answerOffer(bid([]), 0.3).action).toBe("none");
    expect(answerOffer(bid([offer(1, "poster")], "rejected"), 0.3).action).toBe("none");
  });

  it("never accepts below the floor", () => {
    for (let price = 0; price < 1; price += 0.05) {
      const answer = answerOffer(bid([offer(price, "poster")]), 0.42);
      if (answer.action === "accept") expect(answer.priceUsd).toBeGreaterThanOrEqual(0.42);
      if (answer.action === "counter") expect(answer.priceUsd).toBe(0.42);
    }
  });
});

describe("spend caps", () => {
  it("say which cap is reached", () => {
    const base = { agentSpentUsd: 1, runnerSpentUsd: 3, agentCapUsd: 2, runnerCapUsd: 5 };
    expect(capReached(base)).toBeNull();
    expect(capReached({ ...base, agentSpentUsd: 2 })).toMatch(/AGENT_DAILY_SPEND_USD/);
    expect(capReached({ ...base, runnerSpentUsd: 5 })).toMatch(/RUNNER_DAILY_SPEND_USD/);
    expect(capReached({ ...base, agentCapUsd: undefined, runnerCapUsd: undefined })).toBeNull();
  });

  it("count per UTC day in the ledger: a new day starts from zero", async () => {
    let now = Date.parse("2026-03-01T23:59:00Z");
    const ledger = openSqliteLedger({ path: ":memory:" });
    const caps = new SpendCaps(ledger, { agentCapUsd: 1, runnerCapUsd: 1.5 }, () => now);
    await caps.record("a", 0.6);
    await caps.record("b", 0.6);
    expect(await caps.check("a")).toBeNull();
    await caps.record("a", 0.4);
    expect(await caps.check("a")).toMatch(/RUNNER_DAILY_SPEND_USD|AGENT_DAILY_SPEND_USD/);
    expect(await caps.check("b")).toMatch(/RUNNER_DAILY_SPEND_USD/);
    expect(utcDay(now)).toBe("2026-03-01");
    now = Date.parse("2026-03-02T00:00:01Z");
    expect(await caps.check("a")).toBeNull();
    expect(await ledger.spendOn("2026-03-01")).toBeCloseTo(1.6, 10);
  });
});
