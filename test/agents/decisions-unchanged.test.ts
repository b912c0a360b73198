import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { compileKeywords, evaluateKeywords } from "../../src/agents/keyword-evaluator.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";
import {
  CORPORA,
  chunkDigests,
  corpusDecisions,
  corpusJobs,
  corpusStream,
  DECISIONS_FIXTURE,
  type DecisionsFixture,
  KEYWORD_TABLE_WORDS,
} from "./evaluation-corpus.ts";
import { compileReference } from "./reference-keyword-matcher.ts";

/**
 * Issue 26 made the bid decision faster (one cut of the text into packed atoms, a trie
 * of atom ids per table); no decision may change. Two proofs:
 * 1. the decisions on both bench corpora are those recorded from the implementation
 *    before the change (decisions-before-issue-26.json);
 * 2. the matcher finds exactly what the matcher before it found
 *    (reference-keyword-matcher.ts) on random keyword-dense text, for the built-in
 *    tables and for random tables.
 */

const fixture = JSON.parse(readFileSync(DECISIONS_FIXTURE, "utf8")) as DecisionsFixture;

describe("bid decisions on the bench corpora are those recorded before issue 26", () => {
  for (const corpus of CORPORA) {
    it(`${corpus}: ${fixture.jobs} jobs, the three built-in agents`, async () => {
      const recorded = fixture.corpora[corpus];
      const lines = await corpusDecisions(corpusJobs(corpus, fixture.jobs));
      expect(lines[0]).toBe(recorded.first);
      const digests = chunkDigests(lines, fixture.chunk);
      const changed = digests.flatMap((digest, i) =>
        digest === recorded.digests[i]
          ? []
          : [`jobs ${i * fixture.chunk}–${(i + 1) * fixture.chunk - 1}`],
      );
      expect(changed).toEqual([]);
      // The corpus is what the fixture was recorded on, and it exercises both outcomes.
      expect(lines.join("\n").match(/"kind":"bid"/g)?.length).toBe(recorded.bids);
      expect(recorded.bids).toBeGreaterThan(0);
      expect(recorded.bids).toBeLessThanOrEqual(3 * fixture.jobs);
    });
    // bench:evaluate takes each round's jobs from a stream: the same jobs, in order.
    it(`${corpus}: the stream taken in parts gives corpusJobs's jobs`, () => {
      const take = corpusStream(corpus);
      const parts = [...take(7), ...take(1), ...take(12)];
      expect(parts).toEqual(corpusJobs(corpus, 20));
      expect(new Set(parts.map((job) => job.title)).size).toBe(20);
    });
  }

  it("the fixture covers bids and declines on prose, and only bids on dense text", () => {
    expect(fixture.corpora.prose.bids).toBeLessThan(3 * fixture.jobs);
    expect(fixture.corpora.dense.bids).toBeGreaterThan(0.9 * 3 * fixture.jobs);
  });
});

/** A keyword's atoms: its word runs and each other character (spaces and hyphens left out). */
function atomsOf(keyword: string): string[] {
  return keyword.split(/([^\p{L}\p{N}_])/u).filter((a) => a !== "" && !/^[\s-]$/.test(a));
}

/** What keyword-dense text about these keywords is made of: them, their parts, near misses. */
function piecesFor(keywords: readonly string[]): string[] {
  return [
    ...new Set(
      keywords.flatMap((k) => [
        k,
        ...k.split(/[\s-]+/),
        ...atomsOf(k),
        `${k}s`,
        `${k}es`,
        k.toUpperCase(),
      ]),
    ),
  ].filter((piece) => piece !== "");
}

/** Between the pieces: gaps of every kind, punctuation, words that touch, Unicode. */
const SEPARATORS = [
  ...[" ", " ", " ", "  ", "-", "--", " - ", "\n", "\t", "\u00a0", "\u2028", "\u2014"],
  ...[",", ".", "(", ")", "/", "+", "'", '"', ":", "#", "…", "_", "x", "1", "s", "es"],
  ...["the", "data", "é", "e\u0301", "İ", "ß", "Σ", "𝐀", "😀", "\ud800"],
];

/** Text of the pieces and separators, joined without spaces of their own (so pieces touch). */
function textOf(pieces: readonly string[]): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof(fc.constantFrom(...pieces), fc.constantFrom(...SEPARATORS)), {
      maxLength: 80,
    })
    .map((parts) => parts.join(""));
}

/** Keywords that begin or end with punctuation, spellings that merge, odd characters. */
const SPECIAL_KEYWORDS = [
  ...["c++", ".net", "n+1", "c#", "(x)", "-api-", " api ", "API", "apis", "index", "e", "a.b"],
  ...["time  series", "time-series", "Time Series", "é", "e\u0301", "İ", "😀", "s", "es", "_"],
  ...["+", "++", "x+", "+x", ".", "c + +", "1", "c++ code", ".net core", "big-o", "n + 1"],
];
const weight = fc.oneof(
  fc.constantFrom(0.3, 0.5, 0.5, 0.7, 0.9, 0.95),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0, -1),
);
const KEYWORD_PIECES = piecesFor(KEYWORD_TABLE_WORDS);
const keyword = fc.oneof(
  fc.constantFrom(...SPECIAL_KEYWORDS),
  fc
    .array(fc.constantFrom(...KEYWORD_PIECES, ...SPECIAL_KEYWORDS), { minLength: 1, maxLength: 3 })
    .chain((words) =>
      fc.constantFrom(words.join(" "), words.join("-"), words.join(""), words.join("  ")),
    ),
);
const table = fc
  .array(fc.tuple(keyword, weight), { minLength: 1, maxLength: 30 })
  .map((entries) => Object.fromEntries(entries) as Record<string, number>);

describe("the shared cut of a job's text", () => {
  it("serves a table compiled after the text was cut (its words were unknown then)", () => {
    const job = { title: "a job for two tables", description: "zyxwv and qwerty and an API" };
    const first = evaluateKeywords(job, { api: 0.7 }, 0.04, 1);
    expect(first.canComplete).toBe(true);
    // A table compiled now, whose words the dictionary did not hold at the cut.
    const later = evaluateKeywords(job, { zyxwv: 0.9, "qwerty and": 0.5 }, 0.04, 1);
    expect(later.reasoning).toMatch(/^matched 2 keywords: zyxwv \(0.9\), qwerty and \(0.5\);/);
  });

  it("stays right when the atom dictionary is renewed (tables compiled again and again with new words)", () => {
    const job = { title: "renewal", description: "graphql and an api and word7 here" };
    const builtIn = compileKeywords(SCHEMA_ARCHITECT_KEYWORDS);
    const before = evaluateKeywords(job, SCHEMA_ARCHITECT_KEYWORDS, 0.04, 1);
    // 60,000 new atoms: past the dictionary's bound, so a new one starts.
    for (let t = 0; t < 60; t++) {
      const table: Record<string, number> = {};
      for (let w = 0; w < 1000; w++) table[`word${t}x${w}`] = 0.5;
      compileKeywords(table);
    }
    const fresh = evaluateKeywords(job, { word7: 0.9, api: 0.6 }, 0.04, 1);
    expect(fresh.reasoning).toMatch(/^matched 2 keywords: word7 \(0.9\), api \(0.6\);/);
    // The built-in table is compiled again into the new dictionary, with the same answer.
    expect(evaluateKeywords(job, SCHEMA_ARCHITECT_KEYWORDS, 0.04, 1)).toEqual(before);
    expect(compileKeywords(SCHEMA_ARCHITECT_KEYWORDS)).not.toBe(builtIn);
    expect(builtIn.match(job.description)).toEqual(
      compileReference(SCHEMA_ARCHITECT_KEYWORDS).match(job.description),
    );
  });
});

describe("a job's title and description, cut without joining them", () => {
  it("match what the text `title\\ndescription` matched (final sigma, dotted İ, the scan limit)", () => {
    const table = {
      "ας api": 0.9,
      ας: 0.8,
      σ: 0.7,
      ς: 0.6,
      "i\u0307": 0.5,
      "x api": 0.4,
      api: 0.3,
    };
    const reference = compileReference(table);
    const pieces = ["ΑΣ", "Σ", "σ", "ς", "Α", "İ", "I", "x", "API", " ", "\n", "-", ".", "'", "é"];
    const part = textOf(pieces);
    let n = 0;
    fc.assert(
      fc.property(part, part, fc.integer({ min: 0, max: 19 }), (title, description, roll) => {
        const long = roll === 0;
        // Past MAX_SCAN_CHARS the joined text is cut first: the slow path, taken sometimes.
        const padded = long ? `${description}${" ".repeat(200_000)}api` : description;
        n++;
        const job = { title: `${n}: ${title}`, description: padded };
        const expected = reference.match(`${job.title}\n${padded}`);
        const evaluation = evaluateKeywords(job, table, 0.04, 1);
        const names = expected.map((k) => `${k.keyword} (${k.weight})`).join(", ");
        if (expected.length === 0) expect(evaluation.canComplete).toBe(false);
        else expect(evaluation.reasoning).toContain(`: ${names}; `);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the keyword matcher finds what the matcher before issue 26 found", () => {
  const builtIn = [SCHEMA_ARCHITECT_KEYWORDS, ANOMALY_HUNTER_KEYWORDS, CODE_REVIEWER_KEYWORDS];

  it("the built-in tables, on random keyword-dense text", () => {
    const matchers = builtIn.map((t) => [compileKeywords(t), compileReference(t)] as const);
    fc.assert(
      fc.property(textOf(KEYWORD_PIECES), fc.constantFrom(0, 1, 2), (text, which) => {
        const [fast, reference] = matchers[which] as (typeof matchers)[number];
        expect(fast.match(text)).toEqual(reference.match(text));
      }),
      { numRuns: 5000 },
    );
  });

  it("random tables, on random text of their own keywords", () => {
    const tableAndText = table.chain((t) =>
      fc.tuple(fc.constant(t), textOf(piecesFor(Object.keys(t)))),
    );
    fc.assert(
      fc.property(tableAndText, ([t, text]) => {
        expect(compileKeywords(t).match(text)).toEqual(compileReference(t).match(text));
        expect(compileKeywords(t).keywords).toEqual(compileReference(t).keywords);
      }),
      { numRuns: 5000 },
    );
  });

  it("the bench corpora's jobs, every table", () => {
    const matchers = builtIn.map((t) => [compileKeywords(t), compileReference(t)] as const);
    for (const corpus of CORPORA) {
      for (const job of corpusJobs(corpus, 2000)) {
        const text = `${job.title}\n${job.description}`;
        for (const [fast, reference] of matchers) {
          expect(fast.match(text)).toEqual(reference.match(text));
        }
      }
    }
  });
});
