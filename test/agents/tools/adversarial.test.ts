import { describe, expect, it } from "vitest";
import { SchemaArchitectExecutor } from "../../../src/agents/schema-architect/executor.ts";
import { checkCitedLines } from "../../../src/agents/tools/code-findings.ts";
import { extractFromText } from "../../../src/agents/tools/inputs.ts";
import { artefactKindOf } from "../../../src/agents/tools/schema-samples.ts";
import { parseSeries } from "../../../src/agents/tools/series.ts";
import { FACTOR, growthRatio, LIMIT } from "../../support/work/growth.ts";
import { block, CORPUS, decideOn, EXTRACTORS, taskPrompt } from "./hostile-text.ts";

/**
 * Job text is hostile: everything the runner's main thread runs over it must do work
 * linear in its length. Each check counts an extractor's work (growth.ts: blocks of
 * JavaScript and what the built-ins read) on an adversarial input and on one FACTOR
 * times longer, and requires the ratio to stay well under quadratic growth. The
 * counts are exact, so no check depends on how busy the machine is. Backtracking
 * inside the regular expressions is V8's count (regex-budget.test.ts).
 */

describe("the reported pathological inputs, against a linear baseline", () => {
  it("checks a JSON block of blank lines for an OpenAPI key with linear work (the regex was cubic)", () => {
    const blank = (n: number) => ({ language: "json", text: "\n".repeat(n) });
    expect(growthRatio(artefactKindOf, blank(120), blank(120 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("decides on a job whose description is a code fence around newlines with linear work", () => {
    const decide = decideOn("schema_architect", SchemaArchitectExecutor);
    const fenced = (n: number) => `\`\`\`json\n${"\n".repeat(n)}\`\`\``;
    expect(growthRatio(decide, fenced(120), fenced(120 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("finds fences among unclosed ~~~ lines with linear work (the fence regex was quadratic)", () => {
    const unclosed = (n: number) => "~~~a\n".repeat(n);
    expect(growthRatio(extractFromText, unclosed(300), unclosed(300 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("classifies a paragraph with a long digit token with linear work", () => {
    const token = (n: number) => `1 2 3 4 5 6 7 8 9 ${"1".repeat(n)}x`;
    expect(growthRatio(extractFromText, token(1000), token(1000 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("reads log lines of dotted names without a value with linear work", () => {
    const log = (n: number) => block("log", `2024-01-01T00:00 ${"a.".repeat(n)}\n`.repeat(8));
    expect(growthRatio(parseSeries, log(300), log(300 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("neutralises tags in a description of spaces with linear work", () => {
    const spaces = (n: number) => `<${" ".repeat(n)}x`; // not trimmed away
    expect(growthRatio(taskPrompt, spaces(1000), spaces(1000 * FACTOR))).toBeLessThan(LIMIT);
  });

  it("checks cited lines in a text of dotted names with linear work", () => {
    const names = (n: number) => "a.".repeat(n);
    const check = (text: string) => checkCitedLines(text, []);
    expect(growthRatio(check, names(1000), names(1000 * FACTOR))).toBeLessThan(LIMIT);
  });
});

describe("every extractor on every adversarial input, against a linear baseline", () => {
  // About 512 B and 4 KB: long enough for quadratic work to show (64× rather than 8×).
  const SMALL_CHARS = 512;
  for (const [name, extract] of Object.entries(EXTRACTORS)) {
    it(`${name} stays linear`, () => {
      const slow: string[] = [];
      for (const [input, unit] of Object.entries(CORPUS)) {
        const times = Math.ceil(SMALL_CHARS / unit.length);
        const ratio = growthRatio(extract, unit.repeat(times), unit.repeat(times * FACTOR));
        if (ratio >= LIMIT) slow.push(`${input}: ${ratio.toFixed(1)}× for ${FACTOR}× the text`);
      }
      expect(slow).toEqual([]);
    });
  }
});

describe("own entries only, for names a job chooses", () => {
  it("takes a fence tagged `constructor` or `__proto__` for a language of that name", () => {
    const { blocks } = extractFromText("```constructor\nx\n```\n\n```__proto__\ny\n```");
    expect(blocks.map((b) => [b.name, b.language])).toEqual([
      ["block-1.constructor", "constructor"],
      ["block-2.__proto__", "__proto__"],
    ]);
  });
});
