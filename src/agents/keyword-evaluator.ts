import type { Evaluation } from "./types.ts";

/**
 * The built-in evaluator of the seed's agents: a job's title and description scored
 * against a weighted keyword table (design.md, "Executors").
 *
 * Matching rule, per keyword:
 * - case-insensitive;
 * - whole words only: the keyword may not be preceded or followed by a letter, digit
 *   or underscore, so `ci` does not match "decision" but `api` matches "API," and
 *   "REST API"; keywords that begin or end with punctuation (`c++`, `.net`) work too;
 * - inside a phrase, any run of spaces and hyphens matches any other, so `time series`
 *   and `time-series` both match "time series", "time-series" and "time  series";
 * - an optional plural `s`/`es` may follow a keyword that ends in a letter, so `api`
 *   matches "APIs" (irregular plurals like "anomalies" need their own entry);
 * - keywords that differ only by those rules are one keyword (the higher weight wins),
 *   so a table cannot count one word twice.
 */

export interface CompiledKeyword {
  /** The keyword as written in the table (the first spelling, when merged). */
  keyword: string;
  weight: number;
  pattern: RegExp;
}

export interface KeywordMatch {
  keyword: string;
  weight: number;
}

export interface KeywordMatcher {
  readonly keywords: readonly CompiledKeyword[];
  /** The distinct keywords found in the text, heaviest first. */
  match(text: string): KeywordMatch[];
}

/** Long descriptions are only scanned this far: the bid decision needs no more. */
const MAX_SCAN_CHARS = 200_000;
const WORD_CHAR = "[\\p{L}\\p{N}_]";

const cache = new WeakMap<Readonly<Record<string, number>>, KeywordMatcher>();

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The canonical form two spellings share when they match the same text. */
function tokensOf(keyword: string): string[] {
  return keyword
    .toLowerCase()
    .split(/[\s-]+/)
    .filter((token) => token.length > 0);
}

function compileOne(tokens: string[]): RegExp {
  const body = tokens.map(escapeRegExp).join("[\\s-]+");
  const last = tokens.at(-1) ?? "";
  const plural = /\p{L}$/u.test(last) ? "(?:e?s)?" : "";
  return new RegExp(`(?<!${WORD_CHAR})${body}${plural}(?!${WORD_CHAR})`, "iu");
}

/**
 * Compiles a `{keyword: weight}` table into a matcher. Compiled once per table
 * object (cached weakly), so the same table is never compiled twice.
 */
export function compileKeywords(table: Readonly<Record<string, number>>): KeywordMatcher {
  const cached = cache.get(table);
  if (cached) return cached;

  const byCanonical = new Map<string, CompiledKeyword>();
  for (const [keyword, weight] of Object.entries(table)) {
    if (!Number.isFinite(weight)) continue;
    const tokens = tokensOf(keyword);
    if (tokens.length === 0) continue;
    const canonical = tokens.join(" ");
    const existing = byCanonical.get(canonical);
    if (existing) {
      existing.weight = Math.max(existing.weight, weight);
      continue;
    }
    byCanonical.set(canonical, { keyword: keyword.trim(), weight, pattern: compileOne(tokens) });
  }
  const keywords = [...byCanonical.values()];

  const matcher: KeywordMatcher = {
    keywords,
    match(text: string): KeywordMatch[] {
      const scanned = text.length > MAX_SCAN_CHARS ? text.slice(0, MAX_SCAN_CHARS) : text;
      return keywords
        .filter((k) => k.pattern.test(scanned))
        .map((k) => ({ keyword: k.keyword, weight: k.weight }))
        .sort((a, b) => b.weight - a.weight || a.keyword.localeCompare(b.keyword));
    },
  };
  cache.set(table, matcher);
  return matcher;
}

/** Rounds half away from zero, immune to binary artefacts like 0.815 → 0.81499…. */
export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(Number((value * factor).toPrecision(12))) / factor;
}

export interface MinutesRule {
  /** The floor of the estimate (3 by default; AnomalyHunter 2). */
  minMinutes: number;
  /** The estimate with no matches, reduced by one per match (10; AnomalyHunter 8). */
  maxMinutes: number;
}

export const DEFAULT_MINUTES_RULE: MinutesRule = { minMinutes: 3, maxMinutes: 10 };

function noBid(reasoning: string): Evaluation {
  return { canComplete: false, confidence: 0, bidAmountUsd: 0, estimatedTimeMinutes: 0, reasoning };
}

function usd(value: number): string {
  return `$${value.toFixed(3).replace(/0$/, "")}`;
}

/** Extra confidence when the agent's tools can already read the job's data. */
export interface ConfidenceBoost {
  confidence: number;
  /** Said in the bid's reasoning, e.g. "its tools can parse 2 series in the job". */
  reason: string;
}

/**
 * The design's formula:
 * `confidence = min(0.95, 0.5 + 0.3 × maxWeight + 0.03 × min(matches, 5) [+ boost])` (2 decimals),
 * `bid = min(base_rate_usd × (1 + 0.5 × confidence), 0.85 × budget_usd)` (3 decimals,
 * using the rounded confidence), `estimatedTimeMinutes = max(min, max − matches)`.
 * No match, or no positive budget: no bid.
 */
export function evaluateKeywords(
  job: { title: string; description?: string | null },
  table: Readonly<Record<string, number>>,
  baseRateUsd: number,
  budgetUsd: number | null | undefined,
  rule: MinutesRule = DEFAULT_MINUTES_RULE,
  boost?: ConfidenceBoost,
): Evaluation {
  if (budgetUsd == null || !Number.isFinite(budgetUsd) || budgetUsd <= 0) {
    return noBid("the job has no positive budget");
  }
  const found = compileKeywords(table).match(`${job.title}\n${job.description ?? ""}`);
  if (found.length === 0) return noBid("no keyword of this agent's specialty in the job");

  const matches = found.length;
  const maxWeight = found[0]?.weight ?? 0;
  const confidence = roundTo(
    Math.min(0.95, 0.5 + 0.3 * maxWeight + 0.03 * Math.min(matches, 5) + (boost?.confidence ?? 0)),
    2,
  );
  const uncapped = baseRateUsd * (1 + 0.5 * confidence);
  const cap = 0.85 * budgetUsd;
  const bidAmountUsd = roundTo(Math.min(uncapped, cap), 3);
  const estimatedTimeMinutes = Math.max(rule.minMinutes, rule.maxMinutes - matches);

  const names = found.map((k) => `${k.keyword} (${k.weight})`).join(", ");
  const capped = cap < uncapped ? `, capped at 85% of the ${usd(budgetUsd)} budget` : "";
  const reasoning =
    `matched ${matches} keyword${matches === 1 ? "" : "s"}: ${names}; ` +
    (boost ? `${boost.reason} (+${boost.confidence}); ` : "") +
    `confidence ${confidence}; bid ${usd(bidAmountUsd)}${capped}; about ${estimatedTimeMinutes} min`;

  if (!(bidAmountUsd > 0)) {
    return { ...noBid(`the budget of ${usd(budgetUsd)} is too small to bid on`), confidence };
  }
  return { canComplete: true, confidence, bidAmountUsd, estimatedTimeMinutes, reasoning };
}
