import { describe, expect, it } from "vitest";
import {
  decideBid,
  decideFromEvaluation,
  screenJob,
} from "../../../src/runner/policy/bid-decision.ts";
import { agentConfig, job } from "../../support/runner-units.ts";

const evaluation = {
  canComplete: true,
  confidence: 0.8,
  bidAmountUsd: 0.05,
  estimatedTimeMinutes: 7,
  reasoning: "Matches: code review, security.",
};
const never = new AbortController().signal;

describe("screenJob", () => {
  it("skips a job without a positive budget", () => {
    for (const budget_usd of [null, 0, -1]) {
      expect(screenJob(job({ budget_usd }), agentConfig())).toMatchObject({
        kind: "skip",
        reason: "budget_missing",
      });
    }
  });

  it("skips a job needing a capability below its minimum, naming it", () => {
    const decision = screenJob(
      job({ required_capabilities: ["code_review"], min_capability_score: 0.95 }),
      agentConfig(),
    );
    expect(decision).toEqual({
      kind: "skip",
      reason: "capability",
      detail: "capability code_review is 0.9, below the job's minimum of 0.95",
    });
  });

  it("counts only the agent's own capabilities: a job requiring constructor, toString or __proto__ is skipped", () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const decision = screenJob(
        job({ required_capabilities: [name], min_capability_score: 0.5 }),
        agentConfig(),
      );
      expect(decision).toEqual({
        kind: "skip",
        reason: "capability",
        detail: `capability ${name} is 0, below the job's minimum of 0.5`,
      });
    }
  });

  it("lets a job through that the agent is able to take", () => {
    expect(screenJob(job(), agentConfig())).toBeUndefined();
  });
});

describe("decideFromEvaluation", () => {
  it("bids the evaluated price, never above the budget", () => {
    expect(decideFromEvaluation(job(), { kind: "ok", value: evaluation }, 1000)).toEqual({
      kind: "bid",
      priceUsd: 0.05,
      confidence: 0.8,
      estimatedTimeMinutes: 7,
      approach: "Matches: code review, security.",
    });
    const capped = decideFromEvaluation(
      job({ budget_usd: 0.02 }),
      { kind: "ok", value: evaluation },
      1000,
    );
    expect(capped).toMatchObject({ kind: "bid", priceUsd: 0.02 });
  });

  it("tells a job that matched no keyword from another decline", () => {
    const noMatch = { ...evaluation, canComplete: false, bidAmountUsd: 0, noMatch: true };
    expect(decideFromEvaluation(job(), { kind: "ok", value: noMatch }, 1000)).toMatchObject({
      kind: "skip",
      reason: "no_keyword",
    });
    const declined = { ...evaluation, canComplete: false, reasoning: "too small" };
    expect(decideFromEvaluation(job(), { kind: "ok", value: declined }, 1000)).toEqual({
      kind: "skip",
      reason: "declined",
      detail: "too small",
    });
  });

  it("gives up on a job whose evaluation failed, saying how", () => {
    expect(
      decideFromEvaluation(job(), { kind: "failed", reason: "timeout", detail: "" }, 2000),
    ).toEqual({ kind: "skip", reason: "evaluation_failed", detail: "no decision within 2 s" });
    expect(
      decideFromEvaluation(job(), { kind: "failed", reason: "malformed", detail: "x: bad" }, 1),
    ).toMatchObject({ detail: "malformed evaluation (x: bad)" });
  });

  it("decides nothing when the worker is stopping", () => {
    expect(decideFromEvaluation(job(), { kind: "interrupted" }, 1000)).toBeUndefined();
  });
});

describe("decideBid", () => {
  it("does not evaluate a job the ledger says was bid on", async () => {
    let evaluated = 0;
    const decision = await decideBid({
      job: job(),
      config: agentConfig(),
      hasBid: async () => true,
      evaluate: async () => {
        evaluated++;
        return evaluation;
      },
      evaluationTimeoutMs: 1000,
      lifetime: never,
    });
    expect(decision).toMatchObject({ kind: "skip", reason: "already_bid" });
    expect(evaluated).toBe(0);
  });

  it("checks the executor's answer against its shape", async () => {
    const decision = await decideBid({
      job: job(),
      config: agentConfig(),
      hasBid: async () => false,
      evaluate: async () => ({ canComplete: "yes" }),
      evaluationTimeoutMs: 1000,
      lifetime: never,
    });
    expect(decision).toMatchObject({ kind: "skip", reason: "evaluation_failed" });
  });

  it("bids when every gate passes", async () => {
    const decision = await decideBid({
      job: job(),
      config: agentConfig(),
      hasBid: async () => false,
      evaluate: async () => evaluation,
      evaluationTimeoutMs: 1000,
      lifetime: never,
    });
    expect(decision).toMatchObject({ kind: "bid", priceUsd: 0.05, confidence: 0.8 });
  });
});
