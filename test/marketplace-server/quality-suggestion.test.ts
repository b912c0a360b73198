import { describe, expect, it } from "vitest";
import { parseLlmJson } from "../../src/marketplace-server/llm-json.ts";
import {
  paymentRecommendation,
  qualitySuggestion,
  recommendationFor,
} from "../../src/marketplace-server/quality-suggestion.ts";

/** The deterministic stand-in for the service's LLM quality evaluator, and its JSON reading. */

const TASK = "Find anomalies in last month's sales figures";

describe("qualitySuggestion", () => {
  it("scores a complete, on-topic answer highly and recommends accepting it", () => {
    const s = qualitySuggestion("analysis", TASK, {
      summary: "Sales anomalies last month: three dips in the figures.",
      key_findings: ["dip 1", "dip 2", "dip 3"],
      details: { dips: 3 },
      confidence: 0.9,
      methodology: "weekday means",
    });
    expect(s.scores).toEqual({
      relevance: 0.83, // five of the task's six words (all but "find")
      accuracy: 0.9,
      completeness: 1,
      clarity: 0.9,
      actionability: 1,
    });
    expect(s.suggested_overall).toBe(0.93);
    expect(s.recommendation).toBe("accept");
    expect(s.evaluation_provider).toBe("deterministic");
  });

  it("scores an error result 0 and recommends rejecting it", () => {
    const s = qualitySuggestion("analysis", TASK, { error: "Failed to parse JSON", raw: "x" });
    expect(s.suggested_overall).toBe(0);
    expect(s.recommendation).toBe("reject");
    expect(s.red_flags).toContain("The result is an error, not an answer");
  });

  it("the service's thresholds: accept from 0.7, partial from 0.4; payment from 0.7, half from 0.49", () => {
    expect([0.7, 0.69, 0.4, 0.39].map(recommendationFor)).toEqual([
      "accept",
      "partial",
      "partial",
      "reject",
    ]);
    const base = qualitySuggestion("analysis", TASK, {});
    const at = (score: number, recommendation: "accept" | "partial" | "reject") =>
      paymentRecommendation({ ...base, suggested_overall: score, recommendation });
    expect(at(0.75, "reject")).toMatchObject({
      suggested_action: "release_payment",
      message: "AI suggests FULL PAYMENT (score: 0.75)",
    });
    expect(at(0.5, "reject")).toMatchObject({
      suggested_action: "partial_payment",
      suggested_payment_ratio: 0.5,
    });
    expect(at(0.3, "partial")).toMatchObject({ suggested_action: "partial_payment" });
    expect(at(0.3, "reject")).toMatchObject({
      suggested_action: "refund",
      message: "AI suggests REFUND (score: 0.30)",
    });
  });
});

describe("parseLlmJson", () => {
  it("reads plain JSON, a fenced block, an object inside prose, or a list; else {error, raw}", () => {
    expect(parseLlmJson('{"a": 1}')).toEqual({ a: 1 });
    expect(parseLlmJson('```json\n{"a": {"b": 2}}\n```')).toEqual({ a: { b: 2 } });
    expect(parseLlmJson('Here you are: {"a": 1} — hope it helps')).toEqual({ a: 1 });
    expect(parseLlmJson("The list: [1, [2, 3]] ok")).toEqual([1, [2, 3]]);
    expect(parseLlmJson("no json at all")).toEqual({
      error: "Failed to parse JSON",
      raw: "no json at all",
    });
  });
});
