/**
 * The keyword matcher as it was before issue 26 (src/agents/keyword-evaluator.ts at
 * 4bb7d3a), kept verbatim as the reference the faster matcher must agree with
 * (test/agents/decisions-unchanged.test.ts). Not used by the runner.
 */

export interface CompiledKeyword {
  keyword: string;
  weight: number;
}

export interface KeywordMatch {
  keyword: string;
  weight: number;
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

class TableMatcher {
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

export function compileReference(table: Readonly<Record<string, number>>): TableMatcher {
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
  return new TableMatcher([...byCanonical.values()]);
}
