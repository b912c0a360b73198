import { QUALITY_THRESHOLD } from "./payments.ts";

/**
 * The AI quality suggestion a hosted execution leaves for the human reviewer, in the
 * shape of the service's execution/quality.py. The service asks an LLM to score the
 * result; here the scores are computed from the result itself, so the same result always
 * gets the same suggestion (`evaluation_provider: "deterministic"`). The recommendation
 * and the payment recommendation follow the service's own rules.
 */

export interface QualitySuggestion {
  scores: {
    relevance: number;
    accuracy: number;
    completeness: number;
    clarity: number;
    actionability: number;
  };
  suggested_overall: number;
  recommendation: "accept" | "partial" | "reject";
  feedback: string;
  strengths: string[];
  improvements: string[];
  red_flags: string[];
  is_ai_suggestion: true;
  awaiting_human_review: true;
  evaluation_provider: "deterministic";
  [key: string]: unknown;
}

/** The parts of the executor's answer format (runner.py's system prompt) a result should have. */
const EXPECTED_PARTS = ["summary", "key_findings", "details", "confidence", "methodology"];

const clamp01 = (n: number) => Math.max(0, Math.min(1, n));
const round2 = (n: number) => Math.round(n * 100) / 100;

function filled(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "string") return value.trim() !== "";
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** Lower-case words of four letters or more: the task's vocabulary. */
function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[\p{L}\p{N}]{4,}/gu) ?? []);
}

/** The service's `_get_recommendation_from_score`. */
export function recommendationFor(score: number): "accept" | "partial" | "reject" {
  if (score >= 0.7) return "accept";
  if (score >= 0.4) return "partial";
  return "reject";
}

/**
 * Scores a hosted result against its task:
 * - relevance: the share of the task description's words the result uses;
 * - accuracy: the result's own `confidence` (0.5 when it gives none);
 * - completeness: the share of the expected parts (summary, key_findings, details,
 *   confidence, methodology) that are present and not empty;
 * - clarity: a non-empty summary of reasonable length;
 * - actionability: key findings, three or more for full marks.
 * A result that is an error (the LLM's JSON could not be read) scores 0 throughout.
 */
export function qualitySuggestion(
  taskType: string,
  taskDescription: string,
  result: Record<string, unknown>,
): QualitySuggestion {
  const failed = typeof result.error === "string" && !filled(result.summary);
  const text = JSON.stringify(result);
  const taskWords = words(taskDescription);
  const resultWords = words(text);
  let shared = 0;
  for (const w of taskWords) if (resultWords.has(w)) shared += 1;
  const relevance = taskWords.size === 0 ? 0.5 : shared / taskWords.size;
  const confidence = typeof result.confidence === "number" ? result.confidence : 0.5;
  const completeness =
    EXPECTED_PARTS.filter((p) => filled(result[p])).length / EXPECTED_PARTS.length;
  const summary = typeof result.summary === "string" ? result.summary.trim() : "";
  const clarity = summary === "" ? 0.3 : summary.length <= 1500 ? 0.9 : 0.6;
  const findings = Array.isArray(result.key_findings) ? result.key_findings.length : 0;
  const actionability = Math.min(1, findings / 3);

  const scores = failed
    ? { relevance: 0, accuracy: 0, completeness: 0, clarity: 0, actionability: 0 }
    : {
        relevance: round2(clamp01(relevance)),
        accuracy: round2(clamp01(confidence)),
        completeness: round2(clamp01(completeness)),
        clarity: round2(clarity),
        actionability: round2(clamp01(actionability)),
      };
  const values = Object.values(scores);
  const overall = round2(values.reduce((a, b) => a + b, 0) / values.length);

  const strengths: string[] = [];
  const improvements: string[] = [];
  const redFlags: string[] = [];
  if (scores.relevance >= 0.7) strengths.push("Addresses the task's own terms");
  else improvements.push("Address more of what the task asks");
  if (scores.completeness >= 0.8) strengths.push("Covers every part of the expected answer");
  else improvements.push("Provide more complete response");
  if (scores.actionability >= 1) strengths.push("Several concrete findings");
  else improvements.push("List more concrete findings");
  if (failed) redFlags.push("The result is an error, not an answer");
  if (overall < 0.3) redFlags.push("Very low overall quality score");

  return {
    scores,
    suggested_overall: overall,
    recommendation: recommendationFor(overall),
    feedback:
      `Deterministic evaluation of the ${taskType} result. Overall quality: ${Math.round(overall * 100)}%. ` +
      `Relevance ${pct(scores.relevance)}, completeness ${pct(scores.completeness)}, ` +
      `findings ${findings}. Please review the work itself before deciding.`,
    strengths,
    improvements,
    red_flags: redFlags,
    is_ai_suggestion: true,
    awaiting_human_review: true,
    evaluation_provider: "deterministic",
  };
}

const pct = (n: number) => `${Math.round(n * 100)}%`;

/** The service's `get_payment_recommendation`: what the suggestion would pay, for the reviewer. */
export function paymentRecommendation(suggestion: QualitySuggestion) {
  const score = suggestion.suggested_overall;
  const shown = score.toFixed(2);
  const common = { suggested_score: score, threshold: QUALITY_THRESHOLD };
  if (suggestion.recommendation === "accept" || score >= QUALITY_THRESHOLD) {
    return {
      suggested_action: "release_payment",
      suggested_payment_ratio: 1.0,
      ...common,
      message: `AI suggests FULL PAYMENT (score: ${shown})`,
      requires_human_approval: true,
    };
  }
  if (suggestion.recommendation === "partial" || score >= QUALITY_THRESHOLD * 0.7) {
    return {
      suggested_action: "partial_payment",
      suggested_payment_ratio: 0.5,
      ...common,
      message: `AI suggests PARTIAL PAYMENT (score: ${shown})`,
      requires_human_approval: true,
    };
  }
  return {
    suggested_action: "refund",
    suggested_payment_ratio: 0.0,
    ...common,
    message: `AI suggests REFUND (score: ${shown})`,
    requires_human_approval: true,
  };
}
