import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { sourceFiles } from "../../support/source-files.ts";
import { regexBudgetOf } from "../../support/work/regex-budget.ts";
import { CITED_FILE_REGEX, FENCE_REGEX, OPENAPI_REGEX, SQL_REGEX } from "./replaced-patterns.ts";

/**
 * Backtracking inside the regular expressions that run over job text, counted by V8:
 * every extractor on every adversarial input of CHARS characters, in a child Node where
 * one execution may backtrack BUDGET_PER_CHAR times per character. A linear expression
 * stays far under it; a quadratic one needs about CHARS / 2 per character.
 */

const CHARS = 4096;
const BUDGET_PER_CHAR = 16;
const CHILD = fileURLToPath(new URL("./regex-budget-child.ts", import.meta.url));

/**
 * Expressions on the hostile path that V8 cannot put under a budget (the i or u flag, a
 * backreference), each with why it is linear all the same. A new one fails the test
 * below until it is either rewritten so V8 can budget it, or read and named here.
 */
const ONE_CHARACTER = "one character class: one step per position";
const ANCHORED =
  "anchored at the start without the m flag: one try, each run backtracked over once";
const WHOLE_NAME = "a name or a file name's end: alternatives of a few literal characters";
const WORDS = "alternatives of literal words after \\b: a bounded try at each word start";
const AFTER_WORD =
  "a literal word, then runs that cannot hold the next literal: each run is read once";
const UNBUDGETED = new Map<string, string>([
  ["\\s", ONE_CHARACTER],
  ["[\\p{L}\\p{N}_]", ONE_CHARACTER],
  ["\\p{L}$", ONE_CHARACTER],
  ["^[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:e[-+]?\\d+)?$", ANCHORED],
  ["^[-+]?(\\d+\\.\\d*|\\.\\d+|\\d+)(e[-+]?\\d+)?$", ANCHORED],
  ["^(true|false)$", ANCHORED],
  [
    "^\\s*(?:I'm sorry|I am sorry|I cannot|I can't|I can not|I'm unable|I am unable|As an AI)\\b",
    ANCHORED,
  ],
  [
    "^(time|timestamp|ts|date|datetime|day|hour|minute|period|when|at|created_at|recorded_at|t)$",
    WHOLE_NAME,
  ],
  ["(^id$|_id$|^index$|^idx$|^row$|^seq)", WHOLE_NAME],
  ["\\.(json|jsonl|ndjson|csv|tsv|ya?ml|sql|graphql|gql)$", WHOLE_NAME],
  ["\\.(csv|tsv|json|jsonl|ndjson|log|txt)$", WHOLE_NAME],
  ["\\.(js|mjs|cjs|jsx|ts|tsx|py|java|go|rb|php|cs|c|h|cpp|rs|kt|swift|sql|sh)$", WHOLE_NAME],
  [
    "\\b(must|should|need|needs|include|including|provide|list|explain|describe|identify|return|output|produce|give|suggest|recommend|flag|find|check|review|design|propose|rank|estimate|compare|summari[sz]e)\\b",
    WORDS,
  ],
  ["\\bselect\\s", WORDS],
  ["\\bfrom\\b", WORDS],
  ["\\bcreate\\s+(table|index|type|unique|view)\\b", AFTER_WORD],
  ["\\bopenapi\\b[\"']?\\s*:", AFTER_WORD],
  ["<\\s*(?:(\\/)\\s*)?customer_task\\s*>", AFTER_WORD],
  [
    '\\b(insert\\s+into\\b|update\\s+[\\w."`[\\]]+\\s+set\\b|delete\\s+from\\b|\\bwhere\\s+[\\w."`]+\\s*(=|<|>|like\\b|in\\b))',
    AFTER_WORD,
  ],
]);

/** The runner's own sources (under `folder`), to tell its expressions from Node's and its libraries'. */
const sourceTexts = (folder = "") => sourceFiles(`src/${folder}`).map(({ text }) => text);

/** An expression is ours when a source holds it as a literal (the last test keeps the agents to literals). */
const ours = (pattern: string, texts: string[]) =>
  texts.some((text) => text.includes(`/${pattern}/`));

describe("regular expressions on job text stay within V8's backtrack budget", () => {
  it("every extractor on every adversarial input", async () => {
    const report = await regexBudgetOf(CHILD, ["corpus", String(CHARS)], BUDGET_PER_CHAR * CHARS);
    expect(report.overBudget).toEqual([]);
    const texts = sourceTexts();
    const unnamed = report.unchecked.filter((p) => ours(p, texts) && !UNBUDGETED.has(p));
    expect(unnamed, "expressions without a budget and without a reason").toEqual([]);
  });

  it("condemns the replaced patterns that were superlinear, and names the ones it cannot budget", async () => {
    const report = await regexBudgetOf(CHILD, ["replaced", String(CHARS)], BUDGET_PER_CHAR * CHARS);
    expect(report.overBudget).toEqual(
      expect.arrayContaining([OPENAPI_REGEX.source, CITED_FILE_REGEX.source]),
    );
    // The fence pattern has a backreference and the SQL one the i flag.
    expect(report.unchecked).toEqual(
      expect.arrayContaining([FENCE_REGEX.source, SQL_REGEX.source]),
    );
  });

  it("finds the agents' expressions as literals: they build none from a string", () => {
    expect(sourceTexts("agents/").filter((text) => /\bRegExp\(/.test(text))).toEqual([]);
  });

  it("names no expression that is no longer in the sources", () => {
    const texts = sourceTexts();
    expect([...UNBUDGETED.keys()].filter((p) => !ours(p, texts))).toEqual([]);
  });
});
