import {
  type Atoms,
  type CompiledKeyword,
  compileTable,
  jobAtoms,
  type KeywordMatch,
  type TableMatcher,
} from "./keyword-matcher.ts";
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

export type { CompiledKeyword, KeywordMatch } from "./keyword-matcher.ts";

export interface KeywordMatcher {
  readonly keywords: readonly CompiledKeyword[];
  /** The distinct keywords found in the text, heaviest first. */
  match(text: string): KeywordMatch[];
}

/**
 * Compiles a `{keyword: weight}` table into a matcher. Compiled once per table
 * object (cached weakly), so the same table is never compiled twice.
 */
export function compileKeywords(table: Readonly<Record<string, number>>): KeywordMatcher {
  return compileTable(table);
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
  title: string;
  description: string | null | undefined;
  /** The job's text cut into atoms once, for every table (null until a table reads it). */
  atoms: Atoms | null;
  /**
   * The first tables that scanned it and what each found, as [table, found, table, found, …]
   * in found[0, 2 · tables).
   */
  found: (TableMatcher | Scored | null)[];
  tables: number;
  /** Past FEW_TABLES (agents with tables of their own), the others' findings. */
  more: Map<TableMatcher, Scored | null> | undefined;
  /** The job object `memo` belongs to (the text may come again in another object). */
  owner: object | undefined;
  memo: unknown[];
  /** Another text with the same title (a chain of at most SAME_TITLE). */
  sameTitle: JobScan | undefined;
}

/**
 * The text is cut once per job and scanned once per distinct table, so agents that
 * share a table (every agent of a type without keywords of its own) share the work,
 * whether they decide job after job or agent after agent (the runner's order: each agent
 * over the whole listing). Keyed by title, whose hash the string keeps once computed; the
 * texts of one title are chained, up to SAME_TITLE of them. Bounded, since the jobs of a
 * poll are decided together and then never again.
 *
 * Not a table of slots picked from a few characters of the text: texts sharing a slot
 * (numbered titles did, often) took turns, and each was cut again for every agent.
 */
const scans = new Map<string, JobScan>();
const MAX_CACHED_JOBS = 4096;
const SAME_TITLE = 4;
let cachedJobs = 0;
/** Tables a job's findings are kept for in the flat list (the built-in three and a few more), before a Map. */
const FEW_TABLES = 8;
/** The texts the cache holds, in characters: hostile long descriptions must not fill memory. */
const MAX_CACHED_CHARS = 16_000_000;
let cachedChars = 0;
/**
 * The job decided on last and its scan: the agents deciding on one job one after
 * another find it without looking at its text.
 */
let lastJob: object | undefined;
let lastScan: JobScan | undefined;

/** Characters of job text the scan cache holds now (for tests of its bound). */
export function scanCacheChars(): number {
  return cachedChars;
}

/** What the table's last scan found (`matches` ranks in `matcher.found`). */
function scoreOf(matcher: TableMatcher, matches: number): Scored | null {
  if (matches === 0) return null;
  const ranks = matcher.found;
  const maxWeight = matcher.ranked[ranks[0] as number]?.weight ?? 0;
  const uncapped = 0.5 + 0.3 * maxWeight + 0.03 * Math.min(matches, 5);
  const confidence = roundTo(Math.min(0.95, uncapped), 2);
  // One string per further name (", keyword (weight)" is made once per table).
  let names = matcher.labels[ranks[0] as number] as string;
  for (let i = 1; i < matches; i++) names += matcher.nextLabels[ranks[i] as number] as string;
  return { matches, confidence, uncapped, names };
}

function scanOf(job: { title: string; description?: string | null }): JobScan {
  const title = job.title;
  const description = job.description;
  if (
    job === lastJob &&
    lastScan !== undefined &&
    lastScan.title === title &&
    lastScan.description === description
  ) {
    return lastScan;
  }
  const head = scans.get(title);
  let scan = head;
  let depth = 0;
  while (scan !== undefined && scan.description !== description) {
    scan = scan.sameTitle;
    depth++;
  }
  if (scan === undefined) {
    const chars = title.length + (description?.length ?? 0);
    // A chain past SAME_TITLE is dropped, its texts still counted until the next clear.
    let sameTitle = depth < SAME_TITLE ? head : undefined;
    if (cachedJobs >= MAX_CACHED_JOBS || cachedChars + chars > MAX_CACHED_CHARS) {
      scans.clear();
      cachedJobs = 0;
      cachedChars = 0;
      sameTitle = undefined;
    }
    cachedJobs++;
    cachedChars += chars;
    scan = {
      title,
      description,
      atoms: null,
      // Room for the built-in three tables' findings, made at once.
      found: [null, null, null, null, null, null],
      tables: 0,
      more: undefined,
      owner: undefined,
      memo: [],
      sameTitle,
    };
    scans.set(title, scan);
  }
  lastJob = job;
  lastScan = scan;
  return scan;
}

/**
 * A list the caller may keep per-job findings in (keyword-executor.ts: the tools'
 * boost per executor class), for this job object: shared by every call with the same
 * object while its text stays in the scan cache, so no WeakMap entry per job is made.
 * Empty for a new object, even with a text seen before.
 */
export function jobMemo(job: { title: string; description?: string | null }): unknown[] {
  const scan = scanOf(job);
  if (scan.owner !== job) {
    scan.owner = job;
    if (scan.memo.length > 0) scan.memo = [];
  }
  return scan.memo;
}

function jobScore(
  job: { title: string; description?: string | null },
  matcher: TableMatcher,
): Scored | null {
  const scan = scanOf(job);
  const found = scan.found;
  const tables = scan.tables;
  for (let i = 0; i < 2 * tables; i += 2) {
    if (found[i] === matcher) return found[i + 1] as Scored | null;
  }
  const known = scan.more?.get(matcher);
  if (known !== undefined) return known;
  // Cut when first read, and again when the table is newer than the cut (its atoms
  // were not looked up then).
  if (scan.atoms === null || !matcher.reads(scan.atoms))
    scan.atoms = jobAtoms(job.title, job.description ?? "", matcher);
  const scored = scoreOf(matcher, matcher.scanRanks(scan.atoms));
  if (tables < FEW_TABLES) {
    found[2 * tables] = matcher;
    found[2 * tables + 1] = scored;
    scan.tables = tables + 1;
  } else {
    scan.more ??= new Map();
    scan.more.set(matcher, scored);
  }
  return scored;
}

/**
 * Half a unit in the 12th significant digit of a number in [10^e, 10^(e+1)), by e + 1
 * (e from -1 to 7): the nearest doubles to 5·10^(e-12). See roundTo.
 */
const HALF_UNIT_12_DIGITS = [5e-13, 5e-12, 5e-11, 5e-10, 5e-9, 5e-8, 5e-7, 5e-6, 5e-5];

/**
 * Rounds half up (Math.round of value·10^decimals), immune to binary artefacts like
 * 0.815 → 0.81499…: a scaled value within 1e-9 (relative) of a half is first rounded to
 * 12 significant digits, as `Number(scaled.toPrecision(12))` does.
 *
 * That string round trip was most of a decision's rounding (confidences like 0.935 are
 * all halves), so it is computed instead: near k + ½ (k ≥ 0, below 10^8) the
 * 12-digit rounding gives k + ½ itself exactly when |scaled − (k + ½)| (exact in
 * doubles there) is below half a unit of its 12th digit, and otherwise lands on the
 * side scaled is on. Equal to the string form for every value (test/agents/round-to.test.ts);
 * the one undecidable case, a distance equal to the double nearest that half unit,
 * and negative or huge values still take the string form.
 */
export function roundTo(value: number, decimals: number): number {
  const factor = decimals === 2 ? 100 : decimals === 3 ? 1000 : 10 ** decimals;
  const scaled = value * factor;
  // Only a value near a half can be an artefact; elsewhere Math.round is already right.
  const fromHalf = Math.abs(scaled - Math.floor(scaled) - 0.5);
  if (fromHalf > 1e-9 * Math.max(1, Math.abs(scaled))) return Math.round(scaled) / factor;
  if (scaled >= 0.5 && scaled < 1e8) {
    let e = 0; // HALF_UNIT_12_DIGITS index: e + 1, found by comparing with exact powers of ten
    for (let power = 1; scaled >= power; power *= 10) e++;
    const halfUnit = HALF_UNIT_12_DIGITS[e] as number;
    if (fromHalf < halfUnit) return (Math.floor(scaled) + 1) / factor;
    if (fromHalf > halfUnit) return Math.round(scaled) / factor;
  }
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

/** noBid with `noMatch` set, in the object as made: adding the field later reshapes it. */
function noBidMarked(reasoning: string): Evaluation {
  return {
    canComplete: false,
    confidence: 0,
    bidAmountUsd: 0,
    estimatedTimeMinutes: 0,
    reasoning,
    noMatch: true,
  };
}

/** "$1.5" → "$1.50", "$0.0572" → "$0.057": toFixed(3) less one trailing zero. */
export function usd(value: number): string {
  const fixed = value.toFixed(3);
  return `$${fixed.endsWith("0") ? fixed.slice(0, -1) : fixed}`;
}

/**
 * The reasoning's fixed pieces, made once (filled on use) rather than per decision: a
 * template literal makes a string per piece, and those were a fifth of a decision's
 * allocation. By count of matches, by confidence in hundredths, by minutes.
 */
const MATCHED: string[] = [];
const CONFIDENCE_BID: string[] = [];
const ABOUT: string[] = [];
const FEW = 128;

function matchedPiece(matches: number): string {
  const cached = matches < FEW ? MATCHED[matches] : undefined;
  if (cached !== undefined) return cached;
  const piece = `matched ${matches} keyword${matches === 1 ? "" : "s"}: `;
  if (matches < FEW) MATCHED[matches] = piece;
  return piece;
}

function confidencePiece(confidence: number): string {
  const hundredths = Math.round(confidence * 100);
  const few = hundredths >= 0 && hundredths <= 100 && hundredths / 100 === confidence;
  const cached = few ? CONFIDENCE_BID[hundredths] : undefined;
  if (cached !== undefined) return cached;
  const piece = `; confidence ${confidence}; bid `;
  if (few) CONFIDENCE_BID[hundredths] = piece;
  return piece;
}

function aboutPiece(minutes: number): string {
  const few = Number.isInteger(minutes) && minutes >= 0 && minutes < FEW;
  const cached = few ? ABOUT[minutes] : undefined;
  if (cached !== undefined) return cached;
  const piece = `; about ${minutes} min`;
  if (few) ABOUT[minutes] = piece;
  return piece;
}

/** ".xx"/".xxx" by thousandths, as usd writes them: filled on use. */
const FRACTIONS: string[] = [];
/**
 * Whole amounts by thousandths below FEW_THOUSANDTHS (bids of up to a few dollars, as
 * the built-in agents make): filled on use, in an array made whole at once (sparse
 * writes would turn it into a dictionary).
 */
const FEW_THOUSANDTHS = 4096;
const AMOUNTS = new Array<string | undefined>(FEW_THOUSANDTHS).fill(undefined);

/**
 * usd() of a positive amount already rounded to 3 decimals, without toFixed: the amount
 * is the double nearest n/1000, so toFixed(3) writes exactly the digits of n.
 */
export function usdOfRounded(amount: number): string {
  const thousandths = Math.round(amount * 1000);
  if (!(thousandths > 0 && thousandths < 1e15)) return usd(amount);
  const known = thousandths < FEW_THOUSANDTHS ? AMOUNTS[thousandths] : undefined;
  if (known !== undefined) return known;
  const fraction = thousandths % 1000;
  let digits = FRACTIONS[fraction];
  if (digits === undefined) {
    digits = `.${String(fraction).padStart(3, "0")}`;
    if (fraction % 10 === 0) digits = digits.slice(0, 3);
    FRACTIONS[fraction] = digits;
  }
  const written = `$${(thousandths - fraction) / 1000}${digits}`;
  if (thousandths < FEW_THOUSANDTHS) AMOUNTS[thousandths] = written;
  return written;
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
  /**
   * Sets `noMatch: true` on a decline of confidence 0 (the decision log's "no keyword"),
   * as the keyword executors answer: made with the field, not given it afterwards.
   */
  marked = false,
): Evaluation {
  if (budgetUsd == null || !Number.isFinite(budgetUsd) || budgetUsd <= 0) {
    const reasoning = "the job has no positive budget";
    return marked ? noBidMarked(reasoning) : noBid(reasoning);
  }
  const scored = jobScore(job, compileTable(table));
  if (scored === null) {
    const reasoning = "no keyword of this agent's specialty in the job";
    return marked ? noBidMarked(reasoning) : noBid(reasoning);
  }

  const { matches, names } = scored;
  const confidence =
    boost === undefined
      ? scored.confidence
      : roundTo(Math.min(0.95, scored.uncapped + boost.confidence), 2);
  const uncapped = baseRateUsd * (1 + 0.5 * confidence);
  const cap = 0.85 * budgetUsd;
  const bidAmountUsd = roundTo(Math.min(uncapped, cap), 3);
  if (!(bidAmountUsd > 0)) {
    const declined: Evaluation = {
      ...noBid(`the budget of ${usd(budgetUsd)} is too small to bid on`),
      confidence,
    };
    if (marked && confidence === 0) declined.noMatch = true;
    return declined;
  }
  const estimatedTimeMinutes = Math.max(rule.minMinutes, rule.maxMinutes - matches);
  const capped = cap < uncapped ? `, capped at 85% of the ${usd(budgetUsd)} budget` : "";
  // matched N keywords: names; [boost; ]confidence C; bid $X[, capped …]; about M min
  let reasoning = matchedPiece(matches) + names;
  if (boost) reasoning += `; ${boost.reason} (+${boost.confidence})`;
  reasoning += confidencePiece(confidence);
  reasoning += usdOfRounded(bidAmountUsd);
  if (capped !== "") reasoning += capped;
  reasoning += aboutPiece(estimatedTimeMinutes);
  return { canComplete: true, confidence, bidAmountUsd, estimatedTimeMinutes, reasoning };
}
