import { KeywordAgentExecutor } from "../keyword-executor.ts";
import { CODE_REVIEWER_KEYWORDS } from "./keywords.ts";
import { CODE_REVIEWER_PROMPT } from "./prompt.ts";

/** `code_reviewer`: code review, security, performance. */
export class CodeReviewerExecutor extends KeywordAgentExecutor {
  static override systemPrompt = CODE_REVIEWER_PROMPT;
  static override expectedOutputTokens = 1500;
  static override keywords = CODE_REVIEWER_KEYWORDS;
  static override temperature = 0.3;
}
