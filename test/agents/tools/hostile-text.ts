import { AnomalyHunterExecutor } from "../../../src/agents/anomaly-hunter/executor.ts";
import { findCredentials } from "../../../src/agents/code-reviewer/credentials.ts";
import { CodeReviewerExecutor } from "../../../src/agents/code-reviewer/executor.ts";
import { maskSecrets, numberedCode } from "../../../src/agents/code-reviewer/report.ts";
import { compileKeywords } from "../../../src/agents/keyword-evaluator.ts";
import { KeywordAgentExecutor } from "../../../src/agents/keyword-executor.ts";
import { predictQuality } from "../../../src/agents/quality/predict.ts";
import { SchemaArchitectExecutor } from "../../../src/agents/schema-architect/executor.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../../src/agents/schema-architect/keywords.ts";
import { checkCitedLines, maskSecret } from "../../../src/agents/tools/code-findings.ts";
import { looksLikeSql, stringLiterals } from "../../../src/agents/tools/code-review.ts";
import { EVALUATION_SCAN_CHARS, extractFromText } from "../../../src/agents/tools/inputs.ts";
import { cell, fence } from "../../../src/agents/tools/markdown.ts";
import { artefactKindOf, sampleSets } from "../../../src/agents/tools/schema-samples.ts";
import { parseSeries } from "../../../src/agents/tools/series.ts";
import type { InputBlock } from "../../../src/agents/tools/types.ts";
import type { Job } from "../../../src/marketplace/schemas.ts";
import { makeAgent, makeContext, makeJob } from "../helpers.ts";

/**
 * Hostile job text and everything the runner's main thread runs over it: the
 * extractors, the keyword matcher, the executors' bid decisions and the prompt and
 * report builders. Shared by the adversarial corpus and the property tests.
 */

const baseJob = makeJob({ title: "job", description: "", budget_usd: 1 });
/**
 * A fresh job object per call: the data's look (toolsCanWork) is cached per object.
 * The keyword scan is cached per title and description, so it runs once per input
 * here (keywords are counted on their own below); fresh titles would fill that cache.
 */
function jobWith(description: string, attachments: unknown[] = []): Job {
  return { ...baseJob, description, attachments };
}

/** One executor's bid decision on a description; evaluateJob does all its work before it returns its promise. */
export function decideOn(
  type: string,
  Executor: new (config: never) => KeywordAgentExecutor,
): (description: string, attachments?: unknown[]) => void {
  const agent = makeAgent({ agent_type: type });
  const executor = new Executor(agent as never);
  const ctx = makeContext(agent);
  return (description, attachments) =>
    void executor.evaluateJob(jobWith(description, attachments), ctx);
}

/** The three executors' bid decisions on a job whose attached file has this name. */
function decideOnAttachment(): (filename: string) => void {
  const decisions = [
    decideOn("schema_architect", SchemaArchitectExecutor),
    decideOn("anomaly_hunter", AnomalyHunterExecutor),
    decideOn("code_reviewer", CodeReviewerExecutor),
  ];
  return (filename) => {
    const attachments = [{ file_id: "file_1", filename, category: "data" }];
    for (const decide of decisions) decide("", attachments);
  };
}

class PromptProbe extends KeywordAgentExecutor {
  prompt(description: string): string {
    return this.buildTaskPrompt(jobWith(description));
  }
}

/** The task prompt of a job with this description (cut as the executor cuts it). */
export function taskPrompt(description: string): string {
  return new PromptProbe(makeAgent({ agent_type: "probe" })).prompt(description);
}

export function block(language: string, text: string): InputBlock[] {
  return [{ source: "description", name: `block-1.${language}`, language, text }];
}

/** Everything the main thread runs over a job's text, by name. */
export const EXTRACTORS: Record<string, (text: string) => unknown> = {
  "extractFromText (bidding)": (text) => extractFromText(text, undefined, EVALUATION_SCAN_CHARS),
  "extractFromText (execution)": (text) => extractFromText(text),
  "artefactKindOf (json)": (text) => artefactKindOf({ language: "json", text }),
  "artefactKindOf (sql)": (text) => artefactKindOf({ language: "sql", text }),
  "sampleSets (csv)": (text) => sampleSets(block("csv", text)),
  "parseSeries (log)": (text) => parseSeries(block("log", text)),
  "parseSeries (text)": (text) => parseSeries(block("text", text)),
  "parseSeries (csv)": (text) => parseSeries(block("csv", text)),
  // The three tables share the matcher; the executors below run each of them.
  "keywords (SchemaArchitect)": (text) => compileKeywords(SCHEMA_ARCHITECT_KEYWORDS).match(text),
  "SchemaArchitect.evaluateJob": decideOn("schema_architect", SchemaArchitectExecutor),
  "AnomalyHunter.evaluateJob": decideOn("anomaly_hunter", AnomalyHunterExecutor),
  "CodeReviewer.evaluateJob": decideOn("code_reviewer", CodeReviewerExecutor),
  "the executors' look at attachment names": decideOnAttachment(),
  "the task prompt": taskPrompt,
  checkCitedLines: (text) =>
    checkCitedLines(text, [{ name: "app.ts", language: "typescript", lines: 10, linted: true }]),
  maskSecrets: (text) => maskSecrets(text, ["AKIAABCDEFGHIJKLMNOP"], maskSecret),
  numberedCode: (text) => numberedCode(block("python", text)),
  "markdown fence and cell": (text) => [fence("text", text), cell(text)],
  // CodeReviewer's hard-coded credential rule and the quality gate's prediction.
  "hard-coded credentials": (text) => findCredentials(block("python", text)[0]!),
  "the quality gate's prediction": (text) =>
    predictQuality(jobWith(text), { success: true, output: text }, "code_reviewer"),
  // In the tools' worker thread, bounded per line, and linear all the same.
  "string literals and SQL of code": (text) => [
    stringLiterals(text).map(({ literal }) => looksLikeSql(literal)),
    looksLikeSql(text),
  ],
};

/**
 * Adversarial inputs by their unit: the input is the unit repeated. Runs of
 * whitespace and newlines, unclosed fences, almost-matching keys and keywords, long
 * tokens and dotted names: each made some pattern backtrack.
 */
export const CORPUS: Record<string, string> = {
  newlines: "\n",
  "blank lines with spaces": " \t\n",
  "carriage returns": "\r",
  "Unicode line and no-break spaces": "\u2028\u00a0",
  spaces: " ",
  "unclosed ~~~ fences with a tag": "~~~a\n",
  "unclosed ``` fences": "```\n",
  "a fence line without a newline": "`",
  "closing-looking lines of mixed fences": "~~~`` \n",
  "almost an openapi key": '{ "openapi" \n',
  "almost a swagger key": "swagger\n  ",
  "a long digit token": "1",
  "dotted names without a value": "a.",
  "dotted names after a log timestamp": "2024-01-01T00:00 a.b.",
  "file-like names without a line": "a.ts.",
  "unclosed quotes and escapes": '"\\"',
  "almost keywords": "time anomal api- c+ sql-i ",
  "SQL without a from": "select ",
  "unclosed SQL literals": "'select ",
  "a tag opening with spaces": "<  ",
  "open brackets": "[{",
  "semicolons and commas": ";,",
};

/** The pieces property tests build hostile text from. */
export const PIECES = [
  ...new Set([...Object.values(CORPUS), "\n", " ", "\t", "`", "~", "{", '"', ":", "1", ".", "="]),
];
