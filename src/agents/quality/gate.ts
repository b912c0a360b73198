import type { LlmClient } from "../../llm/types.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { errorMessage } from "../../secrets.ts";
import type { TaskResult } from "../types.ts";
import { refusalCheck } from "./checks.ts";
import { type Payout, repairGain } from "./economics.ts";
import { readJobAsk } from "./job-text.ts";
import { REVIEW_DELIVERABLE_CHARS, REVIEW_MAX_TOKENS, reviewDeliverable } from "./llm-review.ts";
import { predictQuality } from "./predict.ts";
import {
  ADDENDUM_HEADING,
  gapsOf,
  REPAIR_MAX_TOKENS,
  repairDeliverable,
  repairPromptChars,
} from "./repair.ts";
import type {
  QualityAction,
  QualityDecision,
  QualityPrediction,
  QualitySettings,
} from "./types.ts";

/**
 * The quality gate before a deliverable is submitted: its predicted quality (the
 * deterministic checks, blended with an LLM review when configured), then the action.
 * At or above the threshold it goes out as it is. Below, one repair round runs when the
 * payment it is expected to add covers its LLM cost; otherwise, or when the repair still
 * falls short, it goes out with an honest note of what it lacks.
 */

/** Characters per token, for cost estimates before a call. */
const CHARS_PER_TOKEN = 4;

export interface GateInput {
  job: Job;
  result: TaskResult;
  agentType: string;
  settings: QualitySettings;
  /** The LLM for the review and the repair; none (or unconfigured): no review, no repair. */
  llm?: LlmClient;
  /** The agent's model: the repair's, and the review's unless settings name one. */
  model: string;
  /** USD paid for a score (the marketplace's rule at the agreed price). */
  payout: Payout;
  /** USD per million tokens of a model. */
  usdPerMillionTokens: (model: string) => number;
  signal: AbortSignal;
  /** Told about a review or repair call that failed (the gate goes on without it). */
  onProblem?: (what: string, problem: string) => void;
}

export interface GateOutcome {
  /** The decision on the deliverable as the executor made it. */
  decision: QualityDecision;
  /** The prediction of what goes out (after the repair round, if one ran). */
  final: QualityPrediction;
  /** What goes out: the executor's result, with an addendum and/or a note. */
  result: TaskResult;
  /** The gate's own LLM use (review and repair). */
  tokensUsed: number;
  llmCostUsd: number;
}

/** The decision for a predicted quality, given what a repair would earn and cost. */
export function decide(
  predicted: number,
  threshold: number,
  repair: { possible: boolean; gainUsd: number; costUsd: number },
): QualityAction {
  if (predicted >= threshold) return "submit";
  if (repair.possible && repair.gainUsd > repair.costUsd) return "repair";
  return "submit-with-note";
}

/** The honest note appended to a deliverable expected to fall short. */
export function honestNote(prediction: QualityPrediction): string {
  const gaps = gapsOf(prediction.checks)
    .slice(0, 3)
    .map((gap) => (gap.length > 160 ? `${gap.slice(0, 160)}…` : gap));
  return [
    "",
    "---",
    "",
    `_A note from the runner's check before delivery: this deliverable may fall short of the request (predicted quality ${prediction.predicted.toFixed(2)} of 1).${gaps.length > 0 ? ` What it may lack: ${gaps.join("; ")}.` : ""}_`,
  ].join("\n");
}

export async function runQualityGate(input: GateInput): Promise<GateOutcome> {
  const { job, settings } = input;
  const ask = readJobAsk(job);
  const llm = input.llm?.configured ? input.llm : undefined;
  let tokensUsed = 0;
  let llmCostUsd = 0;
  const spend = (model: string, tokens: number) => {
    tokensUsed += tokens;
    llmCostUsd += (input.usdPerMillionTokens(model) * tokens) / 1e6;
  };
  const reviewModel = settings.reviewModel ?? input.model;

  const assess = async (
    output: string,
  ): Promise<{ prediction: QualityPrediction; gaps: string[] }> => {
    const deterministic = predictQuality(job, { success: true, output }, input.agentType, ask);
    if (!settings.llmReview || !llm) return { prediction: deterministic, gaps: [] };
    try {
      const review = await reviewDeliverable(
        llm,
        reviewModel,
        job.title,
        ask,
        output,
        input.signal,
      );
      spend(review.model, review.tokensUsed);
      if (review.score === undefined) {
        input.onProblem?.("review", "the review's answer could not be read");
        return { prediction: deterministic, gaps: [] };
      }
      const w = settings.reviewWeight;
      const blended =
        Math.round(((1 - w) * deterministic.predicted + w * review.score) * 100) / 100;
      return {
        prediction: {
          predicted: blended,
          reasons: [
            ...deterministic.reasons,
            `llm-review ${review.score.toFixed(2)}: blended with weight ${w}${review.gaps.length > 0 ? `; gaps: ${review.gaps.join("; ")}` : ""}`,
          ],
          checks: deterministic.checks,
        },
        gaps: review.gaps,
      };
    } catch (error) {
      if (input.signal.aborted) throw error;
      input.onProblem?.("review", errorMessage(error));
      return { prediction: deterministic, gaps: [] };
    }
  };

  if (!input.result.success) {
    const prediction = predictQuality(job, input.result, input.agentType, ask);
    return {
      decision: { predicted: prediction.predicted, reasons: prediction.reasons, action: "submit" },
      final: prediction,
      result: input.result,
      tokensUsed: 0,
      llmCostUsd: 0,
    };
  }

  const first = await assess(input.result.output);
  const price = input.usdPerMillionTokens(input.model) / 1e6;
  const reviewTokens = settings.llmReview
    ? (Math.min(REVIEW_DELIVERABLE_CHARS, input.result.output.length) + 1_500) / CHARS_PER_TOKEN +
      REVIEW_MAX_TOKENS
    : 0;
  const repairTokens =
    repairPromptChars(job, input.result.output) / CHARS_PER_TOKEN + REPAIR_MAX_TOKENS;
  const repair = {
    possible: llm !== undefined,
    gainUsd: repairGain(first.prediction.predicted, input.payout),
    costUsd: (repairTokens + reviewTokens) * price,
  };
  const action = decide(first.prediction.predicted, settings.threshold, repair);
  const decision: QualityDecision = {
    predicted: first.prediction.predicted,
    reasons: [
      ...first.prediction.reasons,
      ...(action === "submit"
        ? []
        : [
            `repair: expected to add ${repair.gainUsd.toFixed(4)} USD for about ${repair.costUsd.toFixed(4)} USD of LLM${repair.possible ? "" : " (no LLM: not possible)"}`,
          ]),
    ],
    action,
  };

  let output = input.result.output;
  let final = first.prediction;
  if (action === "repair" && llm) {
    try {
      const fixed = await repairDeliverable(
        llm,
        input.model,
        job,
        ask,
        output,
        gapsOf(first.prediction.checks, first.gaps),
        input.signal,
      );
      spend(input.model, fixed.tokensUsed);
      const body = fixed.addendum.slice(ADDENDUM_HEADING.length);
      if (fixed.addendum && !refusalCheck(body)) {
        const repaired = `${output.trimEnd()}\n\n${fixed.addendum}\n`;
        const second = await assess(repaired);
        // The repair is kept only when it makes the deliverable better.
        if (second.prediction.predicted > final.predicted) {
          output = repaired;
          final = {
            ...second.prediction,
            reasons: [...second.prediction.reasons, "after one repair round"],
          };
        }
      }
    } catch (error) {
      if (input.signal.aborted) throw error;
      input.onProblem?.("repair", errorMessage(error));
    }
  }
  if (final.predicted < settings.threshold) output = `${output.trimEnd()}\n${honestNote(final)}\n`;
  return {
    decision,
    final,
    result: { ...input.result, output, tokensUsed: input.result.tokensUsed + tokensUsed },
    tokensUsed,
    llmCostUsd,
  };
}
