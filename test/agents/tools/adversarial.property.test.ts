import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkCitedLines, type ReviewedFile } from "../../../src/agents/tools/code-findings.ts";
import { looksLikeSql, stringLiterals } from "../../../src/agents/tools/code-review.ts";
import { findFences } from "../../../src/agents/tools/fences.ts";
import { classifyParagraph } from "../../../src/agents/tools/inputs.ts";
import { hasOpenApiKey, inferJsonSchema } from "../../../src/agents/tools/schema-samples.ts";
import { logReadings } from "../../../src/agents/tools/series.ts";
import { FACTOR, growthRatio, LIMIT } from "../../support/work/growth.ts";
import { EXTRACTORS, PIECES } from "./hostile-text.ts";
import {
  CITED_FILE_REGEX,
  EMAIL_REGEX,
  FENCE_REGEX,
  OPENAPI_REGEX,
  READING_REGEX,
  SQL_REGEX,
  STRING_LITERAL_REGEX,
} from "./replaced-patterns.ts";

/**
 * Properties over hostile text built from fast-check's strings: (1) the hand-written
 * scanners find exactly what the regular expressions they replace found (those run
 * here on short inputs only, where their backtracking costs nothing), and (2) every
 * extractor's work grows linearly with any repeated unit of text.
 */

/** A string of `pieces`, at most `max` of them. */
const textOf = (pieces: readonly string[], max: number) =>
  fc.string({ unit: fc.constantFrom(...pieces), maxLength: max });

describe("the linear scanners find what the regular expressions found", () => {
  it("fenced blocks", () => {
    const pieces = ["`", "~", "```", "~~~", "````", " ", "   ", "\t", "\n", "\r", "\u2028"];
    const text = textOf([...pieces, "\n", "\n", "a", "js", "#", "-", "x y"], 40);
    fc.assert(
      fc.property(text, (t) => {
        const expected = [...t.matchAll(FENCE_REGEX)].map((m) => ({
          start: m.index,
          end: m.index + m[0].length,
          tag: m[2],
          body: m[3],
        }));
        expect(findFences(t)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("an OpenAPI or Swagger key at a line's start", () => {
    const pieces = ["{", " ", "\n", "\r", "\u00a0", "\u2028", '"', "'", "openapi", "swagger"];
    const text = textOf([...pieces, ":", "a", "x:"], 20);
    fc.assert(
      fc.property(text, (t) => {
        expect(hasOpenApiKey(t)).toBe(OPENAPI_REGEX.test(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("key=number readings of a log line", () => {
    const text = textOf(["a", "_", "1", "2", ".", "=", ":", " ", "-", "ms", "s", "%", "é"], 20);
    fc.assert(
      fc.property(text, (t) => {
        const expected = [...t.matchAll(READING_REGEX)].map((m) => ({
          key: m[1],
          value: Number(m[2]),
        }));
        expect(logReadings(t)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("string literals of a line of code", () => {
    const pieces = ['"', "'", "`", "\\", "\n", "\r", "\u2028", "f", "r", "$", "@", "a", " ", "+"];
    fc.assert(
      fc.property(textOf(pieces, 24), (t) => {
        const expected = [...t.matchAll(STRING_LITERAL_REGEX)].map((m) => ({
          index: m.index,
          prefix: m[1],
          literal: m[2],
        }));
        expect(stringLiterals(t)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("SQL in a string literal", () => {
    const pieces = [
      "select ",
      "SELECT\t",
      "from",
      " from ",
      "xfrom",
      "insert into t",
      "where a =",
      " ",
    ];
    const text = textOf([...pieces, "update t set", "delete from", "a", "_", "\n"], 8);
    fc.assert(
      fc.property(text, (t) => {
        expect(looksLikeSql(t)).toBe(SQL_REGEX.test(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("the email format of inferred schemas", () => {
    const text = textOf(["a", ".", "@", " ", "-", "b.c", "@."], 12);
    fc.assert(
      fc.property(text, (t) => {
        const schema = inferJsonSchema([{ x: t }], "t") as {
          properties: Record<string, { format?: string }>;
        };
        expect(schema.properties.x?.format === "email").toBe(EMAIL_REGEX.test(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("cited files and lines", () => {
    const files: ReviewedFile[] = [
      { name: "x.py", language: "python", lines: 5, linted: false },
      { name: "a.ts", language: "typescript", lines: 10, linted: true },
    ];
    // The check as it was, with the file citations found by the regex.
    const reference = (text: string): string[] => {
      const invalid: string[] = [];
      const lines = new Map(files.map((f) => [f.name, f.lines]));
      for (const m of text.matchAll(CITED_FILE_REGEX)) {
        const limit = lines.get((m[1] as string).toLowerCase()) ?? 10;
        const ok = (n: string | undefined) => n === undefined || (+n >= 1 && +n <= limit);
        if (!(ok(m[2]) && ok(m[3]))) invalid.push(m[0]);
      }
      return invalid;
    };
    const pieces = ["a", "ts", ".", "/", "-", ":", "1", "12", "-3", " ", "_", "é", "abcdef"];
    fc.assert(
      fc.property(textOf([...pieces, "x.py:2", "a.ts:11"], 20), (t) => {
        const withoutLineWords = t.replace(/[Ll]/g, "");
        expect(checkCitedLines(withoutLineWords, files).invalid).toEqual(
          reference(withoutLineWords),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it("a paragraph's kind (the number-list rule counted in place, issue 26)", () => {
    // classifyParagraph as it was: the lines and the tokens split into arrays.
    const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;
    const reference = (text: string): string | undefined => {
      const trimmed = text.trim();
      if (/^[[{]/.test(trimmed)) {
        try {
          JSON.parse(trimmed);
          return "json";
        } catch {}
      }
      const lines = trimmed.split(/\r?\n/).filter((line) => line.trim() !== "");
      if (lines.length >= 3) return classifyParagraph(text); // unchanged beyond this point
      if (!/\d/.test(trimmed)) return undefined;
      const tokens = trimmed.split(/[\s,;]+/).filter((t) => t !== "");
      if (tokens.length < 8) return undefined;
      let others = 0;
      for (const token of tokens) if (!NUMBER.test(token) && ++others > tokens.length * 0.1) break;
      return others <= tokens.length * 0.1 ? "numbers" : undefined;
    };
    const numbers = ["1", "22", "-3", "+4.5", ".5", "1e5", "2E-3", "1.", "1", "7"];
    const words = ["x", "a1", "é", "1é", "{", "[", '"', ":", "\u1680", "\ud800", "-", "."];
    const separators = [
      " ",
      "  ",
      ",",
      ";",
      ", ",
      "\t",
      "\n",
      "\r\n",
      "\u00a0",
      "\u2028",
      "\ufeff",
    ];
    const token = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...numbers) },
      { weight: 1, arbitrary: fc.constantFrom(...words) },
    );
    const paragraph = fc
      .array(fc.tuple(token, fc.constantFrom(...separators)), { maxLength: 16 })
      .map((parts) => parts.flat().join(""));
    fc.assert(
      fc.property(fc.oneof(paragraph, textOf([...numbers, ...words, ...separators], 40)), (t) => {
        expect(classifyParagraph(t)).toBe(reference(t));
      }),
      { numRuns: 5000 },
    );
  });
});

describe("every extractor's work grows linearly with any repeated hostile unit", () => {
  const names = Object.keys(EXTRACTORS);
  it(`stays under ${LIMIT}× for ${FACTOR}× the text`, () => {
    const unit = fc.string({ unit: fc.constantFrom(...PIECES), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(unit, fc.constantFrom(...names), (piece, name) => {
        const extract = EXTRACTORS[name] as (text: string) => unknown;
        const times = Math.ceil(512 / piece.length);
        const ratio = growthRatio(extract, piece.repeat(times), piece.repeat(times * FACTOR));
        expect(ratio, `${name} on ${JSON.stringify(piece)}`).toBeLessThan(LIMIT);
      }),
      { numRuns: 40 },
    );
  });
});
