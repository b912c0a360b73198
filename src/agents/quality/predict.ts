import type { Job } from "../../marketplace/schemas.ts";
import type { TaskResult } from "../types.ts";
import {
  citedLinesCheck,
  DELIVERABLE_SCAN_CHARS,
  dataUsedCheck,
  formatCheck,
  languageModelCheck,
  refusalCheck,
  requirementsCheck,
  substanceCheck,
  toolErrorCheck,
} from "./checks.ts";
import { type JobAsk, readJobAsk, wordsOf } from "./job-text.ts";
import { kindChecks } from "./kind-checks.ts";
import type { QualityCheck, QualityPrediction } from "./types.ts";

/**
 * The deterministic prediction of a deliverable's quality: the weighted mean of the
 * checks that apply (each 0..1),
 *
 *   predicted = Σ weight·score / Σ weight, capped at 0.1 for a refusal,
 *
 * with the weights substance 1, tools-ran 1, language-model 1.5, data-used 1.5,
 * format 2, requirements 2, cited-lines 2, the agent type's own checks 3 (findings
 * covered, validations passed, input found) and refusal 4. A failed result is 0.
 */

export function toPrediction(checks: readonly QualityCheck[], cap = 1): QualityPrediction {
  const weight = checks.reduce((s, c) => s + c.weight, 0);
  const mean = weight > 0 ? checks.reduce((s, c) => s + c.weight * c.score, 0) / weight : 0;
  const predicted = Math.round(Math.min(cap, mean) * 100) / 100;
  return {
    predicted,
    reasons: checks.map((c) => `${c.name} ${c.score.toFixed(2)}: ${c.reason}`),
    checks: [...checks],
  };
}

export function predictQuality(
  job: Job,
  result: Pick<TaskResult, "success" | "output">,
  agentType: string,
  ask: JobAsk = readJobAsk(job),
): QualityPrediction {
  if (!result.success) {
    return toPrediction([
      { name: "delivered", score: 0, weight: 1, reason: "the execution failed: a failure report" },
    ]);
  }
  const output = result.output.slice(0, DELIVERABLE_SCAN_CHARS);
  const outputWords = new Set(wordsOf(output));
  const refusal = refusalCheck(output);
  const checks = [
    substanceCheck(output),
    refusal,
    languageModelCheck(output),
    toolErrorCheck(output),
    formatCheck(output, ask),
    requirementsCheck(outputWords, ask),
    dataUsedCheck(job, outputWords),
    citedLinesCheck(job, output),
    ...kindChecks(agentType, output),
  ].filter((c): c is QualityCheck => c !== undefined);
  return toPrediction(checks, refusal ? 0.1 : 1);
}
