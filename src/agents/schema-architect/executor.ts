import { KeywordAgentExecutor } from "../keyword-executor.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "./keywords.ts";
import { SCHEMA_ARCHITECT_PROMPT } from "./prompt.ts";

/** `schema_architect`: API design, OpenAPI, GraphQL, databases. */
export class SchemaArchitectExecutor extends KeywordAgentExecutor {
  static override systemPrompt = SCHEMA_ARCHITECT_PROMPT;
  static override expectedOutputTokens = 2000;
  static override keywords = SCHEMA_ARCHITECT_KEYWORDS;
  static override temperature = 0.4;
}
