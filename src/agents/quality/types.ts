/** The quality gate's values: what was checked, what it predicts, what it decided. */

/** One deterministic (or LLM) check of a deliverable. */
export interface QualityCheck {
  /** Short and stable: `format`, `data-used`, `findings-covered`… */
  name: string;
  /** 0..1. */
  score: number;
  /** How much it counts in the weighted mean. */
  weight: number;
  /** One line for the operator (and the honest note): what was seen. */
  reason: string;
}

export interface QualityPrediction {
  /** 0..1, two decimals: the poster's quality score this deliverable is expected to get. */
  predicted: number;
  /** One line per check that applied, `name score: reason`. */
  reasons: string[];
  checks: QualityCheck[];
}

export type QualityAction = "submit" | "repair" | "submit-with-note";

/** What the gate decided for one deliverable, before it goes out. */
export interface QualityDecision {
  predicted: number;
  reasons: string[];
  action: QualityAction;
}

/** The gate's settings (see DEFAULT_QUALITY_SETTINGS). */
export interface QualitySettings {
  /** Below this predicted quality a deliverable is repaired (when worth it) or noted. */
  threshold: number;
  /** A second LLM's review against a rubric made from the job's text, blended in. */
  llmReview: boolean;
  /** Weight of the LLM review's score in the blend (the deterministic score has the rest). */
  reviewWeight: number;
  /** The review's model; the agent's model when unset. */
  reviewModel?: string;
}

export const DEFAULT_QUALITY_SETTINGS: QualitySettings = {
  // The poster's score from which the whole price is paid (payment-rule.ts).
  threshold: 0.7,
  llmReview: false,
  reviewWeight: 0.4,
};
