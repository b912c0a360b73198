import type { MinutesRule } from "../keyword-evaluator.ts";
import { KeywordAgentExecutor } from "../keyword-executor.ts";
import { ANOMALY_HUNTER_KEYWORDS } from "./keywords.ts";
import { ANOMALY_HUNTER_PROMPT } from "./prompt.ts";

/** `anomaly_hunter`: anomaly detection, time series, patterns. Quicker estimates. */
export class AnomalyHunterExecutor extends KeywordAgentExecutor {
  static override systemPrompt = ANOMALY_HUNTER_PROMPT;
  static override expectedOutputTokens = 1200;
  static override keywords = ANOMALY_HUNTER_KEYWORDS;
  static override temperature = 0.3;
  /** `max(2, 8 − matches)` minutes, per the design. */
  static override minutesRule: MinutesRule = { minMinutes: 2, maxMinutes: 8 };
}
