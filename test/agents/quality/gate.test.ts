import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  afterRepair,
  expectedPayment,
  REPAIR_LIFT,
  repairGain,
} from "../../../src/agents/quality/economics.ts";
import { decide, type GateInput, runQualityGate } from "../../../src/agents/quality/gate.ts";
import { readReview } from "../../../src/agents/quality/llm-review.ts";
import { ADDENDUM_HEADING } from "../../../src/agents/quality/repair.ts";
import { DEFAULT_QUALITY_SETTINGS } from "../../../src/agents/quality/types.ts";
import type { CompletionRequest } from "../../../src/llm/types.ts";
import { paymentAtQuality } from "../../../src/runner/policy/payment-rule.ts";
import { FakeLlm, makeJob } from "../helpers.ts";
import { PIECES } from "../tools/hostile-text.ts";

/**
 * The gate's decision: submit at or above the threshold; below it one repair round when
 * the payment it is expected to add covers its LLM cost, else the result goes out with
 * an honest note. The optional LLM review blends in; nothing the job or an LLM says
 * makes it throw.
 */

const job = makeJob({
  title: "Extract the invoice fields",
  description: [
    "Return the result as JSON.",
    "- Include the invoice number and the total amount",
    "- List every line item with its quantity",
    "```csv\ninvoice_number,customer,total\nINV-20931,Globex Corporation,1249.50\n```",
  ].join("\n"),
});

/** A deliverable that misses the format, the requirements and the data. */
const WEAK = {
  success: true,
  output: "I have looked at this. Everything seems in order and nothing is wrong with it.",
  tokensUsed: 500,
  model: "m",
  latencyMs: 1,
};
const STRONG_ADDENDUM = [
  ADDENDUM_HEADING,
  "",
  "The invoice number INV-20931 for Globex Corporation, total amount 1249.50, with every line item and its quantity:",
  "```json",
  '{"invoice_number": "INV-20931", "customer": "Globex Corporation", "total": 1249.50, "line_items": [{"item": "widgets", "quantity": 3}]}',
  "```",
  "The result is returned as JSON as asked.",
].join("\n");

function answering(texts: Record<"review" | "repair", string>): FakeLlm {
  return new FakeLlm({
    answer: async (request: CompletionRequest) => ({
      text: request.system.includes("You review") ? texts.review : texts.repair,
      model: request.model,
      usage: { inputTokens: 900, outputTokens: 100, totalTokens: 1000 },
      latencyMs: 1,
      attempts: 1,
    }),
  });
}

function input(fields: Partial<GateInput> & { price: number; usdPerMillion?: number }): GateInput {
  const { price, usdPerMillion = 0.9, ...rest } = fields;
  return {
    job,
    result: WEAK,
    agentType: "keyword_agent",
    settings: DEFAULT_QUALITY_SETTINGS,
    model: "m",
    payout: (q) => paymentAtQuality(q, price),
    usdPerMillionTokens: () => usdPerMillion,
    signal: new AbortController().signal,
    ...rest,
  };
}

describe("the decision", () => {
  it("submits at the threshold, repairs below it when worth it, notes otherwise", () => {
    const worth = { possible: true, gainUsd: 0.5, costUsd: 0.01 };
    expect(decide(0.7, 0.7, worth)).toBe("submit");
    expect(decide(0.69, 0.7, worth)).toBe("repair");
    expect(decide(0.5, 0.7, { ...worth, costUsd: 0.6 })).toBe("submit-with-note");
    expect(decide(0.5, 0.7, { ...worth, possible: false })).toBe("submit-with-note");
  });

  it("expects the payment by the service's rule around the prediction", () => {
    const payout = (q: number) => paymentAtQuality(q, 1);
    expect(expectedPayment(1, payout)).toBe(1);
    expect(expectedPayment(0, payout)).toBe(0);
    // Near the full-payment step both sides count.
    expect(expectedPayment(0.7, payout)).toBeGreaterThan(0.5);
    expect(expectedPayment(0.7, payout)).toBeLessThan(1);
    expect(afterRepair(0.4)).toBeCloseTo(0.4 + REPAIR_LIFT * 0.6);
    expect(repairGain(0.4, payout)).toBeGreaterThan(0);
    expect(repairGain(1, payout)).toBe(0);
  });
});

describe("runQualityGate", () => {
  it("repairs a weak deliverable once when the payment covers it, and keeps the better one", async () => {
    const llm = answering({ review: "", repair: STRONG_ADDENDUM });
    const outcome = await runQualityGate(input({ price: 2, llm }));
    expect(outcome.decision.action).toBe("repair");
    expect(llm.requests).toHaveLength(1);
    expect(outcome.result.output).toContain(ADDENDUM_HEADING);
    expect(outcome.final.predicted).toBeGreaterThan(outcome.decision.predicted);
    expect(outcome.final.reasons.at(-1)).toBe("after one repair round");
    // The repair's 1000 tokens, at 0.9 USD per million.
    expect(outcome).toMatchObject({ tokensUsed: 1000, llmCostUsd: 0.0009 });
    expect(outcome.result.tokensUsed).toBe(1500);
    // The repair prompt carries the gaps and the task's rubric, not its data block.
    expect(llm.requests[0]!.prompt).toMatch(/- asked for json; missing or invalid: json/);
    expect(llm.requests[0]!.prompt).toContain("2. Include the invoice number and the total amount");
    expect(llm.requests[0]!.prompt).not.toContain("Globex");
  });

  it("does not repair when the payment would not cover the LLM: the result goes out with a note", async () => {
    const llm = answering({ review: "", repair: STRONG_ADDENDUM });
    const outcome = await runQualityGate(input({ price: 0.001, usdPerMillion: 50, llm }));
    expect(outcome.decision.action).toBe("submit-with-note");
    expect(llm.requests).toHaveLength(0);
    expect(outcome.result.output.startsWith(WEAK.output)).toBe(true);
    expect(outcome.result.output).toMatch(
      /A note from the runner's check before delivery: this deliverable may fall short of the request \(predicted quality 0\.\d\d of 1\)\. What it may lack: asked for json; missing or invalid: json/,
    );
    expect(outcome.decision.reasons.at(-1)).toMatch(
      /^repair: expected to add .* USD for about .* USD of LLM$/,
    );
  });

  it("without an LLM it cannot repair: a note", async () => {
    const outcome = await runQualityGate(
      input({ price: 5, llm: new FakeLlm({ configured: false }) }),
    );
    expect(outcome.decision.action).toBe("submit-with-note");
    expect(outcome.decision.reasons.at(-1)).toMatch(/no LLM: not possible/);
  });

  it("keeps the deliverable as it was when the repair makes it worse, noted", async () => {
    const llm = answering({ review: "", repair: "I'm sorry, I cannot help with that." });
    const outcome = await runQualityGate(input({ price: 2, llm }));
    expect(outcome.decision.action).toBe("repair");
    expect(outcome.result.output).not.toContain(ADDENDUM_HEADING);
    expect(outcome.result.output).toMatch(/may fall short/);
  });

  it("submits a good deliverable untouched", async () => {
    const llm = answering({ review: "", repair: "" });
    const good = {
      ...WEAK,
      output: `${"Here is the extraction. ".repeat(30)}\n${STRONG_ADDENDUM}`,
    };
    const outcome = await runQualityGate(input({ price: 2, llm, result: good }));
    expect(outcome.decision.action).toBe("submit");
    expect(outcome.result.output).toBe(good.output);
    expect(llm.requests).toHaveLength(0);
  });

  it("blends the LLM review against the job's rubric when configured", async () => {
    const llm = answering({ review: '{"score": 0.2, "gaps": ["no JSON"]}', repair: "" });
    const good = {
      ...WEAK,
      output: `${"Here is the extraction. ".repeat(30)}\n${STRONG_ADDENDUM}`,
    };
    const settings = { ...DEFAULT_QUALITY_SETTINGS, llmReview: true, reviewModel: "judge" };
    const alone = await runQualityGate(input({ price: 0.001, result: good }));
    const blended = await runQualityGate(input({ price: 0.001, llm, result: good, settings }));
    expect(blended.decision.predicted).toBeCloseTo(0.6 * alone.decision.predicted + 0.4 * 0.2, 2);
    expect(blended.decision.reasons).toContainEqual(
      expect.stringMatching(/^llm-review 0\.20: blended with weight 0\.4; gaps: no JSON/),
    );
    const review = llm.requests[0]!;
    expect(review.model).toBe("judge");
    expect(review.prompt).toContain("<rubric>");
    expect(review.prompt).toContain("Include the invoice number and the total amount");
  });

  it("goes on without a review it cannot read or that fails", async () => {
    const problems: string[] = [];
    const settings = { ...DEFAULT_QUALITY_SETTINGS, llmReview: true };
    const unreadable = answering({ review: "great work!", repair: "" });
    const a = await runQualityGate(
      input({
        price: 0.001,
        llm: unreadable,
        settings,
        onProblem: (w, p) => problems.push(`${w}: ${p}`),
      }),
    );
    const failing = new FakeLlm({ answer: async () => Promise.reject(new Error("HTTP 500")) });
    const b = await runQualityGate(
      input({
        price: 0.001,
        llm: failing,
        settings,
        onProblem: (w, p) => problems.push(`${w}: ${p}`),
      }),
    );
    expect(a.decision.predicted).toBe(b.decision.predicted);
    expect(problems).toEqual(["review: the review's answer could not be read", "review: HTTP 500"]);
  });

  it("reads review answers leniently and bounds them", () => {
    expect(readReview('Sure: {"score": 0.85, "gaps": []}')).toEqual({ score: 0.85, gaps: [] });
    expect(readReview('"score": 0.4')).toEqual({ score: 0.4, gaps: [] });
    expect(readReview('{"score": 7}')).toEqual({ score: 1, gaps: [] });
    expect(readReview("no idea").score).toBeUndefined();
  });

  it("never throws on hostile job text, deliverables or LLM answers (fast-check)", async () => {
    const text = fc.string({
      unit: fc.constantFrom(...PIECES, "{", "}", '"score":', "## Findings\n"),
      maxLength: 200,
    });
    await fc.assert(
      fc.asyncProperty(text, text, text, async (description, output, answer) => {
        const llm = answering({ review: answer, repair: answer });
        const outcome = await runQualityGate({
          ...input({ price: 3, llm, settings: { ...DEFAULT_QUALITY_SETTINGS, llmReview: true } }),
          job: makeJob({ title: "t", description }),
          result: { ...WEAK, output },
        });
        expect(outcome.final.predicted).toBeGreaterThanOrEqual(0);
        expect(outcome.final.predicted).toBeLessThanOrEqual(1);
        // At most a review, a repair and the repaired version's review.
        expect(llm.requests.length).toBeLessThanOrEqual(3);
      }),
      { numRuns: 100 },
    );
  });
});
