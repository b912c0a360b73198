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

/*
 * How matching works without one regular expression per keyword: a text is cut once
 * into atoms (a maximal run of word characters, or one other character), each atom
 * knowing whether a run of spaces/hyphens came before it. A keyword is cut the same
 * way. A keyword matches where its atoms appear in order with a gap exactly where the
 * keyword has one; word atoms are maximal runs, so "whole word" holds by construction,
 * and a keyword that begins or ends with punctuation checks its one neighbour. The
 * last atom may carry a plural s/es when the keyword ends in a letter. This is the
 * regular expression `(?<![\p{L}\p{N}_])a[\s-]+b(?:e?s)?(?![\p{L}\p{N}_])`, case-folded.
 */

interface Atoms {
  readonly atoms: string[];
  /** A run of spaces and hyphens precedes atom i. */
  readonly gapBefore: boolean[];
  /** Atom i is a run of word characters. */
  readonly isWord: boolean[];
}

const UNICODE_WORD = /[\p{L}\p{N}_]/u;
const UNICODE_SPACE = /\s/u;
const LETTER_AT_END = /\p{L}$/u;
const KIND_WORD = 1;
const KIND_GAP = 2;
const KIND_OTHER = 3;
/** Character classes of the ASCII range, looked up rather than tested by a regex. */
const ASCII_KIND = new Uint8Array(128).map((_, code) => {
  const char = String.fromCharCode(code);
  if (/[A-Za-z0-9_]/.test(char)) return KIND_WORD;
  if (/[\s-]/.test(char)) return KIND_GAP;
  return KIND_OTHER;
});

function kindAt(text: string, index: number): { kind: number; width: number } {
  const code = text.charCodeAt(index);
  if (code < 128) return { kind: ASCII_KIND[code] ?? KIND_OTHER, width: 1 };
  const point = text.codePointAt(index) ?? code;
  const char = String.fromCodePoint(point);
  const kind = UNICODE_WORD.test(char)
    ? KIND_WORD
    : UNICODE_SPACE.test(char)
      ? KIND_GAP
      : KIND_OTHER;
  return { kind, width: char.length };
}

/** Cuts lower-cased text into atoms (one pass). */
function atomize(lower: string): Atoms {
  const atoms: string[] = [];
  const gapBefore: boolean[] = [];
  const isWord: boolean[] = [];
  let gap = false;
  let i = 0;
  while (i < lower.length) {
    const code = lower.charCodeAt(i);
    const at = code < 128 ? undefined : kindAt(lower, i);
    const kind = at ? at.kind : (ASCII_KIND[code] ?? KIND_OTHER);
    if (kind === KIND_GAP) {
      gap = true;
      i += at ? at.width : 1;
      continue;
    }
    const start = i;
    if (kind === KIND_WORD) {
      i += at ? at.width : 1;
      while (i < lower.length) {
        const c = lower.charCodeAt(i);
        if (c < 128) {
          if (ASCII_KIND[c] !== KIND_WORD) break;
          i++;
        } else {
          const next = kindAt(lower, i);
          if (next.kind !== KIND_WORD) break;
          i += next.width;
        }
      }
    } else {
      i += at ? at.width : 1;
    }
    atoms.push(lower.slice(start, i));
    gapBefore.push(gap);
    isWord.push(kind === KIND_WORD);
    gap = false;
  }
  return { atoms, gapBefore, isWord };
}

interface Pattern {
  readonly entry: CompiledKeyword;
  readonly atoms: Atoms;
  /** The last atom may take a plural s/es. */
  readonly plural: boolean;
}

/** The canonical form two spellings share when they match the same text. */
function tokensOf(keyword: string): string[] {
  return keyword
    .toLowerCase()
    .split(/[\s-]+/)
    .filter((token) => token.length > 0);
}

/** Whether text atoms from `start` spell the keyword `p`, with its boundaries. */
function matchesAt(p: Pattern, text: Atoms, start: number): boolean {
  const k = p.atoms;
  const n = k.atoms.length;
  if (start + n > text.atoms.length) return false;
  for (let j = 1; j < n; j++) {
    if (text.gapBefore[start + j] !== k.gapBefore[j]) return false;
    const want = k.atoms[j] as string;
    const got = text.atoms[start + j] as string;
    if (got === want) continue;
    if (!(j === n - 1 && p.plural && (got === `${want}s` || got === `${want}es`))) return false;
  }
  // A keyword that begins (ends) with punctuation may not touch a word before (after) it.
  if (!k.isWord[0] && start > 0 && !text.gapBefore[start] && text.isWord[start - 1]) return false;
  const after = start + n;
  if (
    !k.isWord[n - 1] &&
    after < text.atoms.length &&
    !text.gapBefore[after] &&
    text.isWord[after]
  ) {
    return false;
  }
  return true;
}

// Code-point order, not localeCompare: a collator pages in about 9 MB of ICU data.
function byWeight(a: KeywordMatch, b: KeywordMatch): number {
  return b.weight - a.weight || (a.keyword < b.keyword ? -1 : a.keyword > b.keyword ? 1 : 0);
}

function textAtoms(text: string): Atoms {
  const scanned = text.length > MAX_SCAN_CHARS ? text.slice(0, MAX_SCAN_CHARS) : text;
  return atomize(scanned.toLowerCase());
}

class TableMatcher implements KeywordMatcher {
  readonly keywords: readonly CompiledKeyword[];
  /** Keywords by the text atom that can start them (plural spellings of one-atom keywords included). */
  readonly #byFirst = new Map<string, Pattern[]>();

  constructor(patterns: Pattern[]) {
    this.keywords = patterns.map((p) => p.entry);
    for (const p of patterns) {
      const first = p.atoms.atoms[0] as string;
      const starts =
        p.plural && p.atoms.atoms.length === 1 ? [first, `${first}s`, `${first}es`] : [first];
      for (const start of starts) {
        const list = this.#byFirst.get(start);
        if (list) list.push(p);
        else this.#byFirst.set(start, [p]);
      }
    }
  }

  match(text: string): KeywordMatch[] {
    return this.scan(textAtoms(text));
  }

  scan(text: Atoms): KeywordMatch[] {
    const found: CompiledKeyword[] = [];
    const atoms = text.atoms;
    for (let i = 0; i < atoms.length; i++) {
      const candidates = this.#byFirst.get(atoms[i] as string);
      if (!candidates) continue;
      for (const p of candidates) {
        if (!found.includes(p.entry) && matchesAt(p, text, i)) found.push(p.entry);
      }
    }
    return found.map((k) => ({ keyword: k.keyword, weight: k.weight })).sort(byWeight);
  }
}

const cache = new WeakMap<Readonly<Record<string, number>>, TableMatcher>();

/**
 * Compiles a `{keyword: weight}` table into a matcher. Compiled once per table
 * object (cached weakly), so the same table is never compiled twice.
 */
export function compileKeywords(table: Readonly<Record<string, number>>): KeywordMatcher {
  return compileTable(table);
}

function compileTable(table: Readonly<Record<string, number>>): TableMatcher {
  const cached = cache.get(table);
  if (cached) return cached;

  const byCanonical = new Map<string, Pattern>();
  for (const [keyword, weight] of Object.entries(table)) {
    if (!Number.isFinite(weight)) continue;
    const tokens = tokensOf(keyword);
    if (tokens.length === 0) continue;
    const canonical = tokens.join(" ");
    const existing = byCanonical.get(canonical);
    if (existing) {
      existing.entry.weight = Math.max(existing.entry.weight, weight);
      continue;
    }
    byCanonical.set(canonical, {
      entry: { keyword: keyword.trim(), weight },
      atoms: atomize(canonical),
      plural: LETTER_AT_END.test(canonical),
    });
  }
  const matcher = new TableMatcher([...byCanonical.values()]);
  cache.set(table, matcher);
  return matcher;
}

/** What a table found in a job: the part of a decision that does not depend on the agent. */
interface Scored {
  matches: number;
  confidence: number;
  /** The formula's sum before the 0.95 cap and rounding (a tools boost adds to it). */
  uncapped: number;
  /** "keyword (weight), …", heaviest first. */
  names: string;
}

interface JobScan {
  description: string | null | undefined;
  /** The job's text cut into atoms once, for every table. */
  atoms: Atoms;
  byTable: Map<TableMatcher, Scored | null>;
}

/**
 * The text is cut once per job and scanned once per distinct table, so agents that
 * share a table (every agent of a type without keywords of its own) share the work.
 * Keyed by title (checked against the description too); bounded, since the jobs of
 * a poll are decided together and then never again.
 */
const scans = new Map<string, JobScan>();
const MAX_CACHED_JOBS = 4096;
/** The texts the cache holds, in characters: hostile long descriptions must not fill memory. */
const MAX_CACHED_CHARS = 16_000_000;
let cachedChars = 0;

/** Characters of job text the scan cache holds now (for tests of its bound). */
export function scanCacheChars(): number {
  return cachedChars;
}

function scoreOf(found: KeywordMatch[]): Scored | null {
  if (found.length === 0) return null;
  const matches = found.length;
  const maxWeight = found[0]?.weight ?? 0;
  const uncapped = 0.5 + 0.3 * maxWeight + 0.03 * Math.min(matches, 5);
  const confidence = roundTo(Math.min(0.95, uncapped), 2);
  const names = found.map((k) => `${k.keyword} (${k.weight})`).join(", ");
  return { matches, confidence, uncapped, names };
}

function jobScore(
  job: { title: string; description?: string | null },
  matcher: TableMatcher,
): Scored | null {
  let scan = scans.get(job.title);
  if (!scan || scan.description !== job.description) {
    const chars = job.title.length + (job.description?.length ?? 0);
    if (scans.size >= MAX_CACHED_JOBS || cachedChars + chars > MAX_CACHED_CHARS) {
      scans.clear();
      cachedChars = 0;
    }
    cachedChars += chars;
    scan = {
      description: job.description,
      atoms: textAtoms(`${job.title}\n${job.description ?? ""}`),
      byTable: new Map(),
    };
    scans.set(job.title, scan);
  }
  let scored = scan.byTable.get(matcher);
  if (scored === undefined) {
    scored = scoreOf(matcher.scan(scan.atoms));
    scan.byTable.set(matcher, scored);
  }
  return scored;
}

/** Rounds half away from zero, immune to binary artefacts like 0.815 → 0.81499…. */
export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const scaled = value * factor;
  // Only a value near a half can be an artefact; elsewhere Math.round is already right.
  const fromHalf = Math.abs(scaled - Math.floor(scaled) - 0.5);
  if (fromHalf > 1e-9 * Math.max(1, Math.abs(scaled))) return Math.round(scaled) / factor;
  return Math.round(Number(scaled.toPrecision(12))) / factor;
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
  const scored = jobScore(job, compileTable(table));
  if (scored === null) return noBid("no keyword of this agent's specialty in the job");

  const { matches, names } = scored;
  const confidence =
    boost === undefined
      ? scored.confidence
      : roundTo(Math.min(0.95, scored.uncapped + boost.confidence), 2);
  const uncapped = baseRateUsd * (1 + 0.5 * confidence);
  const cap = 0.85 * budgetUsd;
  const bidAmountUsd = roundTo(Math.min(uncapped, cap), 3);
  const estimatedTimeMinutes = Math.max(rule.minMinutes, rule.maxMinutes - matches);

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
