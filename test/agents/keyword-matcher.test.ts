import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { evaluateKeywords } from "../../src/agents/keyword-evaluator.ts";
import {
  compileTable,
  jobAtoms,
  type TableMatcher,
  textAtoms,
} from "../../src/agents/keyword-matcher.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";
import { KEYWORD_TABLE_WORDS } from "./evaluation-corpus.ts";
import { compileReference } from "./reference-keyword-matcher.ts";

/**
 * The cut's fast path (issue 26): ASCII text is lower-cased as it is cut, with no
 * lower-cased copy, and any other code unit sends the whole text to the Unicode cut.
 * Both must find exactly what the matcher before issue 26 found
 * (reference-keyword-matcher.ts). Cut texts live in a ring that later texts overwrite.
 */

const BUILT_IN = [SCHEMA_ARCHITECT_KEYWORDS, ANOMALY_HUNTER_KEYWORDS, CODE_REVIEWER_KEYWORDS];

/** A keyword's text in any mix of capitals, as people write it. */
const anyCase = (word: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) =>
      [...word].map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase())).join(""),
    );

const ASCII_PIECES = [
  ...KEYWORD_TABLE_WORDS,
  ...KEYWORD_TABLE_WORDS.flatMap((k) => k.split(/[\s-]+/)),
  ...["s", "es", "S", "ES", "_", "x", "1", "42", "c++", ".net", "n+1", "z_1"],
];
/** Between pieces: every ASCII kind of gap, punctuation, word characters that join words. */
const ASCII_SEPARATORS = [
  ...[" ", " ", "  ", "-", "--", " - ", "\n", "\t", "\r\n", "\f", "\v"],
  ...[",", ".", "(", ")", "/", "+", "'", '"', ":", "#", "_", "0", "s", "es", "~", "\u007f"],
];
const asciiText = fc
  .array(
    fc.oneof(fc.constantFrom(...ASCII_PIECES).chain(anyCase), fc.constantFrom(...ASCII_SEPARATORS)),
    {
      maxLength: 60,
    },
  )
  .map((parts) => parts.join(""));

/** What `matcher` finds in the job, through the cut the evaluator uses. */
function jobMatch(matcher: TableMatcher, title: string, description: string): string[] {
  return matcher
    .scan(jobAtoms(title, description, matcher))
    .map((rank) => matcher.ranked[rank]!.keyword);
}

function referenceMatch(table: Readonly<Record<string, number>>, text: string): string[] {
  return compileReference(table)
    .match(text)
    .map((m) => m.keyword);
}

describe("the ASCII cut, lower-cased as it goes", () => {
  it("finds what the reference finds, in a text and in a job's title and description", () => {
    fc.assert(
      fc.property(asciiText, asciiText, fc.constantFrom(0, 1, 2), (title, description, which) => {
        const table = BUILT_IN[which]!;
        const matcher = compileTable(table);
        expect(matcher.match(description).map((m) => m.keyword)).toEqual(
          referenceMatch(table, description),
        );
        expect(jobMatch(matcher, title, description)).toEqual(
          referenceMatch(table, `${title}\n${description}`),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it("a code unit past ASCII anywhere sends the whole job to the Unicode cut, with the same answer", () => {
    const outside = [
      "é",
      "E\u0301",
      "İ",
      "ß",
      "Σ",
      "ς",
      "\u00a0",
      "\u2028",
      "\u2014",
      "😀",
      "\ud800",
      "\u0080",
    ];
    fc.assert(
      fc.property(
        asciiText,
        asciiText,
        fc.constantFrom(...outside),
        fc.nat(),
        fc.boolean(),
        fc.constantFrom(0, 1, 2),
        (title, description, char, at, inTitle, which) => {
          const into = (text: string) => {
            const i = text.length === 0 ? 0 : at % (text.length + 1);
            return `${text.slice(0, i)}${char}${text.slice(i)}`;
          };
          const t = inTitle ? into(title) : title;
          const d = inTitle ? description : into(description);
          const table = BUILT_IN[which]!;
          expect(jobMatch(compileTable(table), t, d)).toEqual(referenceMatch(table, `${t}\n${d}`));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("upper-case keywords and words of digits and underscores", () => {
    const table = { API: 0.9, "Time-Series": 0.8, c_2: 0.7, "42": 0.6, "N+1": 0.5, _: 0.4 };
    const text = "APIs for TIME SERIES, c_2 and C_2s, 42 42s, n+1 N+1, _ and __";
    expect(compileTable(table).match(text)).toEqual(compileReference(table).match(text));
    expect(
      compileTable(table)
        .match(text)
        .map((m) => m.keyword),
    ).toEqual(["API", "Time-Series", "c_2", "42", "N+1", "_"]);
  });
});

describe("an atom's spelling, checked after its hash", () => {
  it("texts whose words hash alike but are spelled otherwise do not match", () => {
    // h = 31·h + c: "c0" and "an" hash alike (99·31 + 48 = 97·31 + 110), and so does
    // anything that follows them alike ("c0tail", "antail"), last four code units and all.
    const table = { an: 0.9, antail: 0.8, tailan: 0.7, "x c0tail": 0.6 };
    const matcher = compileTable(table);
    for (const text of [
      "c0 c0tail tailc0 x antail",
      "AN ANTAIL TAILAN x C0TAIL",
      "c0s c0tails antails tailc0es anes",
      "é c0tail an",
    ]) {
      expect(matcher.match(text)).toEqual(compileReference(table).match(text));
    }
    expect(matcher.match("c0 c0tail tailc0")).toEqual([]);
    expect(matcher.match("AN, ANTAILS and TAILAN").map((m) => m.keyword)).toEqual([
      "an",
      "antail",
      "tailan",
    ]);
  });
});

describe("the ring the cut texts are written into", () => {
  it("a cut overwritten by later texts is no longer read, and the job is cut again", () => {
    const first = compileTable(SCHEMA_ARCHITECT_KEYWORDS);
    const job = { title: "ring: a job", description: "a REST API and its database schema" };
    const atoms = jobAtoms(job.title, job.description, first);
    expect(first.reads(atoms)).toBe(true);
    const expected = first.scan(atoms);
    expect(expected.map((rank) => first.ranked[rank]!.keyword)).toEqual(
      referenceMatch(SCHEMA_ARCHITECT_KEYWORDS, `${job.title}\n${job.description}`),
    );
    expect(expected.length).toBeGreaterThan(0);
    // Two long texts, each most of the ring: the second starts it again, over the job's atoms.
    const long = "word ".repeat(4_000);
    for (let i = 0; i < 2; i++) textAtoms(`${i} ${long}`, first);
    expect(first.reads(atoms)).toBe(false);
    expect(() => first.scanRanks(atoms)).toThrow(/cut before/);
    expect(first.scan(jobAtoms(job.title, job.description, first))).toEqual(expected);
  });

  it("agents deciding agent after agent, past a lap of the ring, still decide right", () => {
    const jobs = Array.from({ length: 40 }, (_, i) => ({
      title: `ring job ${i}`,
      description: `${"filler text ".repeat(400 + i)} the API schema, anomaly detection and code review ${i}`,
    }));
    for (const table of BUILT_IN) {
      for (const job of jobs) {
        const evaluation = evaluateKeywords(job, table, 0.04, 1);
        const names = compileReference(table)
          .match(`${job.title}\n${job.description}`)
          .map((k) => `${k.keyword} (${k.weight})`)
          .join(", ");
        expect(names).not.toBe("");
        expect(evaluation.reasoning).toContain(`: ${names}; `);
      }
    }
  });

  it("a text longer than the ring is cut into an array of its own, read as long as it is kept", () => {
    const matcher = compileTable(CODE_REVIEWER_KEYWORDS);
    const text = `code review ${"x ".repeat(150_000)} sql injection`;
    const atoms = textAtoms(text, matcher);
    for (let i = 0; i < 3; i++) textAtoms(`${i} ${"word ".repeat(4_000)}`, matcher);
    expect(matcher.reads(atoms)).toBe(true);
    expect(matcher.scan(atoms).map((rank) => matcher.ranked[rank]!.keyword)).toEqual(
      referenceMatch(CODE_REVIEWER_KEYWORDS, text),
    );
  });
});

describe("each table's bit in the atom dictionary", () => {
  it("tables past the bits of their own share one, and still find only their keywords", () => {
    const tables = Array.from({ length: 40 }, (_, t) => ({
      [`bitword${t}`]: 0.5 + (t % 5) / 10,
      "shared phrase": 0.3,
      [`c${t}++`]: 0.4,
    }));
    const text = `${tables.map((_, t) => `bitword${t}s and c${t}++`).join(", ")} in a shared-phrase`;
    for (const table of tables) {
      expect(compileTable(table).match(text)).toEqual(compileReference(table).match(text));
    }
  });
});
