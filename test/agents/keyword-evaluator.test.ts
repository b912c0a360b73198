import { describe, expect, it } from "vitest";
import {
  compileKeywords,
  evaluateKeywords,
  roundTo,
  scanCacheChars,
} from "../../src/agents/keyword-evaluator.ts";
import { cutCount } from "../../src/agents/keyword-matcher.ts";
import { compileReference } from "./reference-keyword-matcher.ts";

const DEFAULT_RULE = { minMinutes: 3, maxMinutes: 10 };
const ANOMALY_RULE = { minMinutes: 2, maxMinutes: 8 };

function matched(table: Record<string, number>, text: string): string[] {
  return compileKeywords(table)
    .match(text)
    .map((m) => m.keyword)
    .sort();
}

describe("compileKeywords: whole words and phrases", () => {
  it("does not match a keyword inside another word", () => {
    const table = { ci: 0.9 };
    expect(matched(table, "a decision about the circuit")).toEqual([]);
    expect(matched(table, "set up CI for the repo")).toEqual(["ci"]);
    expect(matched(table, "our ci/cd pipeline")).toEqual(["ci"]);
  });

  it("is case-insensitive and ignores surrounding punctuation", () => {
    const table = { api: 0.7 };
    expect(matched(table, "Build an API, please")).toEqual(["api"]);
    expect(matched(table, "a REST API.")).toEqual(["api"]);
    expect(matched(table, "(api)")).toEqual(["api"]);
    expect(matched(table, "rapid capital")).toEqual([]);
  });

  it("accepts a plain -s/-es plural", () => {
    expect(matched({ api: 0.7 }, "three APIs")).toEqual(["api"]);
    expect(matched({ index: 0.5 }, "missing indexes")).toEqual(["index"]);
    expect(matched({ api: 0.7 }, "apiary")).toEqual([]);
  });

  it("matches phrases across runs of spaces, newlines and hyphens, both ways", () => {
    for (const keyword of ["time series", "time-series"]) {
      const table = { [keyword]: 0.9 };
      expect(matched(table, "a Time-Series of prices")).toEqual([keyword]);
      expect(matched(table, "a time   series")).toEqual([keyword]);
      expect(matched(table, "a time\nseries")).toEqual([keyword]);
      expect(matched(table, "timeseries")).toEqual([]);
      expect(matched(table, "the time of the series")).toEqual([]);
    }
  });

  it("handles keywords that start or end with punctuation", () => {
    expect(matched({ "c++": 0.5 }, "review my C++ code")).toEqual(["c++"]);
    expect(matched({ "c++": 0.5 }, "a c program")).toEqual([]);
    expect(matched({ "n+1": 0.8 }, "fix the N+1 queries")).toEqual(["n+1"]);
    expect(matched({ java: 0.4 }, "JavaScript only")).toEqual([]);
  });

  it("merges spellings of one keyword, keeping the higher weight", () => {
    const matcher = compileKeywords({ "time series": 0.6, "Time-Series": 0.9 });
    expect(matcher.keywords).toHaveLength(1);
    expect(matcher.match("time series and time-series")).toEqual([
      { keyword: "time series", weight: 0.9 },
    ]);
  });

  it("caches the compiled matcher per table object", () => {
    const table = { graphql: 0.95 };
    expect(compileKeywords(table)).toBe(compileKeywords(table));
    expect(compileKeywords({ graphql: 0.95 })).not.toBe(compileKeywords(table));
  });
});

describe("evaluateKeywords: the design's formula", () => {
  const table = { openapi: 0.95, swagger: 0.9, graphql: 0.95, sql: 0.75, foo: 0.2 };

  it("one match of weight 0.95 at base 0.04", () => {
    // confidence = 0.5 + 0.3*0.95 + 0.03*1 = 0.815 -> 0.82
    // bid = 0.04 * (1 + 0.5*0.82) = 0.0564 -> 0.056 ; minutes = max(3, 10-1) = 9
    const e = evaluateKeywords(
      { title: "Write an OpenAPI spec", description: "" },
      table,
      0.04,
      1,
      DEFAULT_RULE,
    );
    expect(e).toMatchObject({
      canComplete: true,
      confidence: 0.82,
      bidAmountUsd: 0.056,
      estimatedTimeMinutes: 9,
    });
    expect(e.reasoning).toContain("openapi");
  });

  it("two matches: max weight counts, matches add 0.03 each", () => {
    // confidence = 0.5 + 0.3*0.95 + 0.03*2 = 0.845 -> 0.85
    // bid = 0.04 * 1.425 = 0.057 ; minutes = 8
    const e = evaluateKeywords(
      { title: "Swagger to OpenAPI", description: "convert the swagger file" },
      table,
      0.04,
      1,
      DEFAULT_RULE,
    );
    expect(e).toMatchObject({ confidence: 0.85, bidAmountUsd: 0.057, estimatedTimeMinutes: 8 });
    expect(e.reasoning).toContain("swagger");
    expect(e.reasoning).toContain("openapi");
  });

  it("a low weight: rounding is half-up on decimal values", () => {
    // confidence = 0.5 + 0.3*0.2 + 0.03 = 0.59 ; bid = 0.1 * 1.295 = 0.1295 -> 0.13
    const e = evaluateKeywords({ title: "foo", description: "" }, table, 0.1, 10, DEFAULT_RULE);
    expect(e).toMatchObject({ confidence: 0.59, bidAmountUsd: 0.13 });
  });

  it("counts at most 5 matches toward confidence, and never exceeds 0.95", () => {
    const big = { a: 1, b: 0.1, c: 0.1, d: 0.1, e: 0.1, f: 0.1 };
    // 6 matches: 0.5 + 0.3*1 + 0.03*5 = 0.95 ; minutes max(3, 10-6) = 4
    const e = evaluateKeywords(
      { title: "a b c d e f", description: "" },
      big,
      0.04,
      1,
      DEFAULT_RULE,
    );
    expect(e).toMatchObject({ confidence: 0.95, bidAmountUsd: 0.059, estimatedTimeMinutes: 4 });
  });

  it("counts a keyword once however often it occurs", () => {
    const e = evaluateKeywords(
      { title: "GraphQL", description: "graphql GRAPHQL graphql" },
      table,
      0.04,
      1,
      DEFAULT_RULE,
    );
    expect(e).toMatchObject({ confidence: 0.82, estimatedTimeMinutes: 9 });
  });

  it("caps the bid at 85% of the budget", () => {
    // uncapped 0.0564 ; cap 0.85 * 0.04 = 0.034
    const e = evaluateKeywords(
      { title: "OpenAPI", description: "" },
      table,
      0.04,
      0.04,
      DEFAULT_RULE,
    );
    expect(e).toMatchObject({ canComplete: true, bidAmountUsd: 0.034 });
    expect(e.reasoning).toContain("capped");
  });

  it("makes no bid without a match", () => {
    const e = evaluateKeywords(
      { title: "Paint my fence", description: "blue please" },
      table,
      0.04,
      1,
      DEFAULT_RULE,
    );
    expect(e).toEqual({
      canComplete: false,
      confidence: 0,
      bidAmountUsd: 0,
      estimatedTimeMinutes: 0,
      reasoning: "no keyword of this agent's specialty in the job",
    });
  });

  it("makes no bid when the budget is missing or not positive", () => {
    for (const budget of [null, undefined, 0, -1, Number.NaN]) {
      const e = evaluateKeywords(
        { title: "OpenAPI", description: "" },
        table,
        0.04,
        budget,
        DEFAULT_RULE,
      );
      expect(e.canComplete).toBe(false);
      expect(e.bidAmountUsd).toBe(0);
    }
  });

  it("applies the AnomalyHunter minutes rule max(2, 8 - matches)", () => {
    const t = { a: 0.5, b: 0.5, c: 0.5, d: 0.5, e: 0.5, f: 0.5, g: 0.5 };
    const minutes = (title: string) =>
      evaluateKeywords({ title, description: "" }, t, 0.05, 1, ANOMALY_RULE).estimatedTimeMinutes;
    expect(minutes("a")).toBe(7);
    expect(minutes("a b c")).toBe(5);
    expect(minutes("a b c d e f")).toBe(2);
    expect(minutes("a b c d e f g")).toBe(2);
  });

  it("applies the default minutes rule max(3, 10 - matches)", () => {
    const t = { a: 0.5, b: 0.5, c: 0.5, d: 0.5, e: 0.5, f: 0.5, g: 0.5, h: 0.5 };
    const minutes = (title: string) =>
      evaluateKeywords({ title, description: "" }, t, 0.05, 1, DEFAULT_RULE).estimatedTimeMinutes;
    expect(minutes("a b")).toBe(8);
    expect(minutes("a b c d e f g")).toBe(3);
    expect(minutes("a b c d e f g h")).toBe(3);
  });
});

describe("roundTo", () => {
  it("rounds half up despite binary representation", () => {
    expect(roundTo(0.815, 2)).toBe(0.82);
    expect(roundTo(0.1295, 3)).toBe(0.13);
    expect(roundTo(0.0564, 3)).toBe(0.056);
  });
});

/** The rule as one regular expression per keyword (the earlier implementation). */
function referenceMatch(table: Record<string, number>, text: string): string[] {
  const word = "[\\p{L}\\p{N}_]";
  const found = new Map<string, string>();
  for (const keyword of Object.keys(table)) {
    const tokens = keyword
      .toLowerCase()
      .split(/[\s-]+/)
      .filter((t) => t.length > 0);
    const canonical = tokens.join(" ");
    if (found.has(canonical) || tokens.length === 0) continue;
    const body = tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("[\\s-]+");
    const plural = /\p{L}$/u.test(canonical) ? "(?:e?s)?" : "";
    if (new RegExp(`(?<!${word})${body}${plural}(?!${word})`, "iu").test(text))
      found.set(canonical, keyword.trim());
  }
  return [...found.values()].sort();
}

describe("compileKeywords: one scan agrees with the per-keyword rule", () => {
  it("on random texts of keywords, plurals, punctuation, hyphens and other scripts", () => {
    const table = {
      api: 0.7,
      apis: 0.6,
      "time series": 0.9,
      "c++": 0.5,
      "n+1": 0.8,
      ".net": 0.4,
      "big-o": 0.7,
      ci: 0.9,
      index: 0.5,
      "rest api": 0.8,
      café: 0.3,
      "ci/cd": 0.6,
      bus: 0.2,
    };
    const pieces = [
      "api",
      "APIs",
      "apies",
      "time",
      "series",
      "Series",
      "c",
      "c++",
      "C++x",
      "n+1",
      "N+12",
      ".net",
      "asp.net",
      ".NETs",
      "big",
      "o",
      "O",
      "bigo",
      "ci",
      "ci/cd",
      "ci_cd",
      "decision",
      "index",
      "indexes",
      "rest",
      "REST",
      "café",
      "cafés",
      "naïve",
      "日本",
      "buses",
      "(",
      ")",
      ",",
      ".",
      "/",
      "_",
      "+",
      "\u00a0",
      "x",
      "1",
      "é",
    ];
    const separators = [" ", "-", "  ", " - ", "\n", "", "", "\t"];
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const matcher = compileKeywords(table);
    for (let round = 0; round < 3000; round++) {
      let text = "";
      const length = 1 + next(8);
      for (let i = 0; i < length; i++) {
        text += pieces[next(pieces.length)] ?? "";
        text += separators[next(separators.length)] ?? "";
      }
      const got = matcher
        .match(text)
        .map((m) => m.keyword)
        .sort();
      expect({ text, got }).toEqual({ text, got: referenceMatch(table, text) });
    }
  });
});

describe("the scan cache", () => {
  it("tells apart texts of the same lengths that differ in a character or two", () => {
    // Same lengths and nearly the same characters: each text keeps its own findings.
    const table = { sql: 0.9, api: 0.5 };
    const a = { title: "Xbcdefghijkl", description: "sql is the thing ok!" };
    const b = { title: "Ybcdefghijkl", description: "api is the thing ok!" };
    for (let round = 0; round < 2; round++) {
      expect(evaluateKeywords({ ...a }, table, 0.04, 1).reasoning).toMatch(/: sql \(0\.9\);/);
      expect(evaluateKeywords({ ...b }, table, 0.04, 1).reasoning).toMatch(/: api \(0\.5\);/);
    }
  });

  it("jobs with few titles, decided agent after agent, each get their own answer", () => {
    // 1,500 texts under 7 titles: the texts of one title take turns, and are cut again.
    const words = ["api", "schema", "sql", "anomaly", "outlier", "code review", "the", "data"];
    const jobs = Array.from({ length: 1500 }, (_, i) => ({
      title: `job ${i % 7}`,
      description: `${words[i % 8]} ${words[(i >> 3) % 8]} ${words[(i >> 6) % 8]} #${i}`,
    }));
    const tables: Record<string, number>[] = [
      { api: 0.9, sql: 0.5 },
      { anomaly: 0.8, outlier: 0.6 },
      { "code review": 0.7 },
    ];
    for (const table of tables) {
      for (const job of jobs) {
        const expected = compileReference(table)
          .match(`${job.title}\n${job.description}`)
          .map((k) => `${k.keyword} (${k.weight})`)
          .join(", ");
        const evaluation = evaluateKeywords(job, table, 0.04, 1, DEFAULT_RULE);
        if (expected === "") expect(evaluation.canComplete).toBe(false);
        else expect(evaluation.reasoning).toContain(`: ${expected}; `);
      }
    }
  });

  it("cuts each job's text at most once per table when agents decide a listing agent after agent", () => {
    // The runner's order: each agent over the whole listing, then the next agent. With
    // one slot per text, two texts of a slot took turns and were cut again for every agent.
    const words = ["api", "schema", "sql", "anomaly", "outlier", "code review", "the", "data"];
    const jobs = Array.from({ length: 400 }, (_, i) => ({
      title: `Job ${i}: ${words[i % 8]} work`,
      description: `${words[(i >> 3) % 8]} and ${words[(i >> 6) % 8]} for team ${i * 7919}`,
    }));
    const tables: Record<string, number>[] = [
      { api: 0.9, sql: 0.5 },
      { anomaly: 0.8, outlier: 0.6 },
      { "code review": 0.7 },
    ];
    const before = cutCount();
    for (let agent = 0; agent < 30; agent++) {
      const table = tables[agent % 3] as Record<string, number>;
      for (const job of jobs) evaluateKeywords(job, table, 0.04, 1, DEFAULT_RULE);
    }
    expect(cutCount() - before).toBeLessThanOrEqual(jobs.length * tables.length);
  });

  it("holds a bounded amount of job text, however long the descriptions (issue 28)", () => {
    const long = "x ".repeat(128 * 1024); // 256 KB, the longest description a listing keeps
    for (let i = 0; i < 200; i++) {
      const e = evaluateKeywords(
        { title: `job ${i}`, description: `sql ${i} ${long}` },
        { sql: 0.75 },
        0.04,
        1,
        DEFAULT_RULE,
      );
      expect(e.canComplete).toBe(true);
    }
    // 200 × 256 KB = 51 M characters offered; the cache keeps at most 16 M.
    expect(scanCacheChars()).toBeLessThanOrEqual(16_000_000);
    expect(scanCacheChars()).toBeGreaterThan(0);
  });
});
