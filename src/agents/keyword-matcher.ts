import { InvalidArgumentError } from "../errors.ts";
/**
 * The keyword matcher behind the built-in evaluator (keyword-evaluator.ts states the
 * matching rule). A text is cut once into atoms: a maximal run of word characters
 * (`\p{L}`, `\p{N}`, `_`), or one other character, each knowing whether a run of
 * spaces/hyphens came before it. A keyword is cut the same way, and matches where its
 * atoms appear in order with a gap exactly where it has one; the last atom may carry
 * a plural s/es when the keyword ends in a letter; a keyword that begins (ends) with
 * punctuation may not touch a word before (after) it.
 *
 * For speed on any text, nothing is allocated per atom: the cut records each atom's
 * place and a hash of its characters in one packed array (a ring shared by all texts),
 * and each table is an atom dictionary (open addressing over those hashes, checked
 * character by character) and a trie of atom ids over its keywords. Matching walks the
 * trie from every atom one of the table's keywords begins with (noted during the cut,
 * with a bit per table), at most as deep as the longest keyword: linear in the text,
 * whatever it holds. ASCII text, most job text, is lower-cased as it is cut; any other
 * code unit sends the text to toLowerCase and the Unicode classes first.
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

/** Long descriptions are only scanned this far: the bid decision needs no more. */
export const MAX_SCAN_CHARS = 200_000;

const KIND_WORD = 1;
const KIND_GAP = 2;
const KIND_OTHER = 3;
const UNICODE_WORD = /[\p{L}\p{N}_]/u;
const UNICODE_SPACE = /\s/u;
const LETTER_AT_END = /\p{L}$/u;
/** Character classes of the ASCII range, looked up rather than tested by a regex. */
const ASCII_KIND = new Uint8Array(128).map((_, code) => {
  const char = String.fromCharCode(code);
  if (/[A-Za-z0-9_]/.test(char)) return KIND_WORD;
  if (/[\s-]/.test(char)) return KIND_GAP;
  return KIND_OTHER;
});

/** The kind of the code point at `index` (non-ASCII), its width in code units in the high bits. */
function unicodeKind(text: string, index: number): number {
  const point = text.codePointAt(index) ?? 0;
  const char = String.fromCodePoint(point);
  const kind = UNICODE_WORD.test(char)
    ? KIND_WORD
    : UNICODE_SPACE.test(char)
      ? KIND_GAP
      : KIND_OTHER;
  return kind | (char.length << 2);
}

/** Hashes code units the same way for keywords and text (h = 31·h + c, 32 bits). */
function step(hash: number, code: number): number {
  return (Math.imul(hash, 31) + code) | 0;
}
/**
 * A hash's slot in a table of 2^(32 − shift): the top bits of its product with 2³²/φ
 * (Fibonacci hashing), since the low bits of h = 31·h + c say little about short atoms.
 */
function slotOf(hash: number, shift: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> shift;
}
/**
 * The last four code units of an atom, seven bits each, as the ASCII cut packs a word's;
 * NOT_ASCII for an atom with any other code unit, which no ASCII text spells.
 */
function tailOf(atom: string): number {
  let tail = 0;
  for (let k = 0; k < atom.length; k++) {
    const code = atom.charCodeAt(k);
    if (code >= 128) return NOT_ASCII;
    tail = ((tail << 7) | code) & TAIL_MASK;
  }
  return tail;
}
const NOT_ASCII = -1;
const TAIL_MASK = 0x0fffffff;
const TAIL_CHARS = 4;
/** 31 · INVERSE_31 ≡ 1 (mod 2³²): takes the last code unit off a hash. */
const INVERSE_31 = 0xbdef7bdf | 0;
function unstep(hash: number, code: number): number {
  return Math.imul((hash - code) | 0, INVERSE_31);
}

/**
 * Every atom of every compiled table's keywords, by id. A text's atoms are looked up
 * here once, during the cut, for all tables: a table's scan then only reads ids.
 * Bounded: past MAX_DICTIONARY_ATOMS (tables compiled again and again with new words)
 * a new dictionary starts, and tables and cut texts of the old one are redone on use.
 */
export class AtomDictionary {
  /** The atoms by id, and their hashes. */
  readonly atoms: string[] = [];
  hashes = new Int32Array(32);
  /**
   * The atoms' code units one after another (atom id's from starts[id] to starts[id + 1]):
   * a lookup compares the text with a typed array rather than with strings of every
   * representation (sliced, flat), which kept that comparison slow.
   */
  chars = new Uint16Array(256);
  starts = new Int32Array(33);
  /** By id: its last four code units, seven bits each (tailOf): most of a spelling, in one compare. */
  tails = new Int32Array(32);
  /**
   * By id: the bits of the tables a keyword of which begins with the atom (0: none; see
   * markRoot): a table's scan skips the places where none of its keywords can begin.
   */
  roots = new Int32Array(32);
  /** Tables compiled into this dictionary: the next one's bit (tableBit). */
  tables = 0;
  /**
   * Grows with every new atom and every new root: a text cut at an older version may
   * miss what a table compiled since looks for (TableMatcher.reads).
   */
  version = 0;
  /**
   * Open addressing over the hashes: an id, or -1 (empty), at slotOf(hash). At most an
   * eighth full: most atoms of a text are in no table, and a miss then ends at its first
   * slot, one load.
   */
  slots = new Int32Array(256).fill(-1);
  /** 32 − log2(slots.length): slotOf takes the top bits of the mixed hash. */
  shift = 24;

  /** The id of an atom, added if new (while compiling a table). */
  add(atom: string): number {
    let hash = 0;
    for (let k = 0; k < atom.length; k++) hash = step(hash, atom.charCodeAt(k));
    const known = this.find(atom, 0, atom.length, hash);
    if (known !== -1) return known;
    const id = this.atoms.length;
    this.atoms.push(atom);
    this.version++;
    if (id === this.hashes.length) {
      const grown = new Int32Array(id * 2);
      grown.set(this.hashes);
      this.hashes = grown;
      const roots = new Int32Array(id * 2);
      roots.set(this.roots);
      this.roots = roots;
    }
    if (id === this.tails.length) {
      const grown = new Int32Array(id * 2);
      grown.set(this.tails);
      this.tails = grown;
    }
    this.hashes[id] = hash;
    this.tails[id] = tailOf(atom);
    if (id + 1 === this.starts.length) {
      const grown = new Int32Array(this.starts.length * 2);
      grown.set(this.starts);
      this.starts = grown;
    }
    const from = this.starts[id] as number;
    if (from + atom.length > this.chars.length) {
      const grown = new Uint16Array(Math.max(this.chars.length * 2, from + atom.length));
      grown.set(this.chars);
      this.chars = grown;
    }
    for (let k = 0; k < atom.length; k++) this.chars[from + k] = atom.charCodeAt(k);
    this.starts[id + 1] = from + atom.length;
    if (this.atoms.length * 8 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2).fill(-1);
      this.shift--;
      for (let other = 0; other < id; other++) this.#place(other);
    }
    this.#place(id);
    return id;
  }

  /** Marks atom id as the first of a keyword of the table with `bit`: the scans start only at such atoms. */
  markRoot(id: number, bit: number): void {
    if ((this.roots[id] as number) & bit) return;
    this.roots[id] = (this.roots[id] as number) | bit;
    this.version++;
  }

  /**
   * A new table's bit: one of its own for the first TABLE_BITS − 1 tables (the built-in
   * three and a few more), past them one bit shared by the rest (their scans then also
   * visit each other's places, and find nothing there).
   */
  tableBit(): number {
    const index = Math.min(this.tables++, TABLE_BITS - 1);
    return 1 << index;
  }

  #place(id: number): void {
    const mask = this.slots.length - 1;
    let slot = slotOf(this.hashes[id] as number, this.shift);
    while (this.slots[slot] !== -1) slot = (slot + 1) & mask;
    this.slots[slot] = id;
  }

  /** The id of the atom spelled by text[start, end) with this hash, or -1. */
  find(text: string, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = slots.length - 1;
    let slot = slotOf(hash, this.shift);
    for (;;) {
      const id = slots[slot] as number;
      if (id === -1) return -1;
      if (hashes[id] === hash && this.#spells(id, text, start, end)) return id;
      slot = (slot + 1) & mask;
    }
  }

  /** Whether text[start, end) is atom id (a few characters: cheaper than a native call). */
  #spells(id: number, text: string, start: number, end: number): boolean {
    const starts = this.starts;
    let at = starts[id] as number;
    if ((starts[id + 1] as number) - at !== end - start) return false;
    const chars = this.chars;
    for (let k = start; k < end; k++, at++) {
      if (chars[at] !== text.charCodeAt(k)) return false;
    }
    return true;
  }
}

const MAX_DICTIONARY_ATOMS = 50_000;
const TABLE_BITS = 30;
/** The dictionary tables are compiled into now. */
let dictionary = new AtomDictionary();

// One atom in the packed array: its id (-1: in no table), the ids of its spelling less
// a final -s and less -es (-1: none), and its flags.
const STRIDE = 4;
const FLAG_WORD = 1;
const FLAG_GAP_BEFORE = 2;

/** A text cut into atoms (lower-cased first), shared by every table that scans it. */
export interface Atoms {
  /** The dictionary the ids belong to, and its version then (atoms and roots added later are not seen). */
  readonly dictionary: AtomDictionary;
  readonly known: number;
  readonly count: number;
  /** STRIDE ints per atom from `offset`: id, id less -s, id less -es, flags. */
  readonly packed: Int32Array;
  readonly offset: number;
  /**
   * The atoms a keyword can begin at (an id, or a plural's, is a root of some table), as
   * their places in `packed`, in order: `candidates` of them from `offset + count · STRIDE`,
   * each followed by the bits of the tables that may begin a keyword there (tableBit).
   * A scan starts only there (in keyword-dense text about 60 % of the atoms, in prose one in seven).
   */
  readonly candidates: number;
  /** The ring's lap the atoms were cut in (OWN_ARRAY: `packed` is theirs alone); see intact. */
  readonly lap: number;
}

/**
 * Cut texts are written one after another into a ring, never copied: a typed array of
 * its own per text costs a native allocation, and a new arena per few dozen jobs kept
 * every old one alive as long as the scan cache held a job cut into it. When the ring is
 * full the next text starts again at its beginning; a cut it overwrites is no longer
 * `intact`, and is cut again if a table still needs it (scanOf in keyword-evaluator.ts).
 */
const ARENA_INTS = 1 << 17;
const arena = new Int32Array(ARENA_INTS);
/** Where the next cut goes, and how many times the ring was started again. */
let arenaUsed = 0;
let arenaLap = 0;
/** The lap of a cut with an array of its own (a text too long for the ring). */
const OWN_ARRAY = -1;

/** Whether the ring still holds what was cut there (no later cut has written over it). */
function intact(atoms: Atoms): boolean {
  const lap = atoms.lap;
  return (
    lap === OWN_ARRAY || lap === arenaLap || (lap + 1 === arenaLap && arenaUsed <= atoms.offset)
  );
}

/** Records the atom text[start, end): its ids and flags. The bits of the tables that may begin a keyword there. */
function record(
  dictionary: AtomDictionary,
  out: Int32Array,
  o: number,
  text: string,
  start: number,
  end: number,
  hash: number,
  flags: number,
): number {
  const roots = dictionary.roots;
  const id = dictionary.find(text, start, end, hash);
  out[o] = id;
  out[o + 1] = -1;
  out[o + 2] = -1;
  out[o + 3] = flags;
  let tables = id === -1 ? 0 : (roots[id] as number);
  // A plural: the spelling less its -s, and less its -es.
  if ((flags & FLAG_WORD) === 0 || end - start < 2 || text.charCodeAt(end - 1) !== 115)
    return tables;
  const lessS = dictionary.find(text, start, end - 1, unstep(hash, 115));
  out[o + 1] = lessS;
  if (lessS !== -1) tables |= roots[lessS] as number;
  if (end - start < 3 || text.charCodeAt(end - 2) !== 101) return tables;
  const lessEs = dictionary.find(text, start, end - 2, unstep(unstep(hash, 115), 101));
  out[o + 2] = lessEs;
  return lessEs === -1 ? tables : tables | (roots[lessEs] as number);
}

/**
 * Candidates found by the cut under way, copied after its atoms: pairs of a place in
 * `packed` and the bits of the tables that may begin a keyword there.
 */
let candidateScratch = new Int32Array(2048);
let candidateCount = 0;

/** Notes a candidate of the cut under way. */
function addCandidate(o: number, tables: number): void {
  if (2 * candidateCount === candidateScratch.length) {
    const grown = new Int32Array(candidateScratch.length * 2);
    grown.set(candidateScratch);
    candidateScratch = grown;
  }
  candidateScratch[2 * candidateCount] = o;
  candidateScratch[2 * candidateCount + 1] = tables;
  candidateCount++;
}

/**
 * Cuts lower-cased text into atoms (one pass), each looked up in the dictionary, after
 * `count` atoms already at `offset`; `gap`: a gap comes before the first. The count after.
 */
function cutInto(
  lower: string,
  dictionary: AtomDictionary,
  out: Int32Array,
  offset: number,
  atomsBefore: number,
  gapFirst: boolean,
): number {
  const length = lower.length;
  let count = atomsBefore;
  let gap = gapFirst;
  let i = 0;
  while (i < length) {
    const code = lower.charCodeAt(i);
    let kind: number;
    let width = 1;
    if (code < 128) kind = ASCII_KIND[code] as number;
    else {
      const at = unicodeKind(lower, i);
      kind = at & 3;
      width = at >> 2;
    }
    if (kind === KIND_GAP) {
      gap = true;
      i += width;
      continue;
    }
    const start = i;
    let hash = 0;
    for (let k = 0; k < width; k++) hash = step(hash, lower.charCodeAt(i + k));
    i += width;
    if (kind === KIND_WORD) {
      while (i < length) {
        const c = lower.charCodeAt(i);
        if (c < 128) {
          if (ASCII_KIND[c] !== KIND_WORD) break;
          hash = step(hash, c);
          i++;
        } else {
          const at = unicodeKind(lower, i);
          if ((at & 3) !== KIND_WORD) break;
          const w = at >> 2;
          for (let k = 0; k < w; k++) hash = step(hash, lower.charCodeAt(i + k));
          i += w;
        }
      }
    }
    const flags = (kind === KIND_WORD ? FLAG_WORD : 0) | (gap ? FLAG_GAP_BEFORE : 0);
    const o = offset + count * STRIDE;
    const tables = record(dictionary, out, o, lower, start, i, hash, flags);
    if (tables !== 0) addCandidate(o, tables);
    count++;
    gap = false;
  }
  return count;
}

/**
 * Every code unit: an ASCII word character lower-cased (48 and up), FOLD_GAP, FOLD_OTHER,
 * or FOLD_PAST_ASCII. One load tells the ASCII cut all it needs, with no test for ASCII
 * per character (a word ends at any value below 48, and is then checked for this one).
 */
const FOLD_GAP = 0;
const FOLD_OTHER = 1;
const FOLD_PAST_ASCII = 2;
const FIRST_WORD_CODE = 48; // "0", the lowest word character
const ASCII_FOLD = new Uint8Array(0x10000).map((_, code) => {
  if (code >= 128) return FOLD_PAST_ASCII;
  const kind = ASCII_KIND[code];
  if (kind === KIND_GAP) return FOLD_GAP;
  if (kind === KIND_OTHER) return FOLD_OTHER;
  return String.fromCharCode(code).toLowerCase().charCodeAt(0);
});
const CODE_S = 115;
const CODE_E = 101;

/**
 * Whether ASCII text[start, end), lower-cased, spells atom id, whose hash it has, and
 * (a word) whose last four code units pack to `tail`. One code unit c hashes to c
 * itself, so the hash says it all; a word's last four are compared packed, and only
 * the code units before them one by one.
 */
function spellsFolded(
  dictionary: AtomDictionary,
  id: number,
  text: string,
  start: number,
  end: number,
  tail: number,
): boolean {
  const starts = dictionary.starts;
  let at = starts[id] as number;
  const length = end - start;
  if ((starts[id + 1] as number) - at !== length) return false;
  if (length === 1) return true;
  if (dictionary.tails[id] !== tail) return false;
  const chars = dictionary.chars;
  for (let k = start; k < end - TAIL_CHARS; k++, at++) {
    if (chars[at] !== ASCII_FOLD[text.charCodeAt(k)]) return false;
  }
  return true;
}

/** The id of ASCII text[start, end) lower-cased, whose hash is `hash`, or -1 (AtomDictionary.find). */
function findFolded(
  dictionary: AtomDictionary,
  text: string,
  start: number,
  end: number,
  hash: number,
): number {
  const slots = dictionary.slots;
  const hashes = dictionary.hashes;
  const mask = slots.length - 1;
  let slot = slotOf(hash, dictionary.shift);
  let tail = -1; // packed when a hash first matches
  for (;;) {
    const id = slots[slot] as number;
    if (id === -1) return -1;
    if (hashes[id] === hash) {
      if (tail === -1) {
        tail = 0;
        for (let k = Math.max(start, end - TAIL_CHARS); k < end; k++)
          tail = (tail << 7) | (ASCII_FOLD[text.charCodeAt(k)] as number);
      }
      if (spellsFolded(dictionary, id, text, start, end, tail)) return id;
    }
    slot = (slot + 1) & mask;
  }
}

/**
 * cutInto for text not yet lower-cased, as long as it is ASCII: lower-cases through
 * ASCII_FOLD as it goes, so no lower-cased copy is made. -1 at the first code unit
 * past ASCII (the caller then cuts the text with cutInto); else the count after.
 */
function cutAscii(
  text: string,
  dictionary: AtomDictionary,
  out: Int32Array,
  offset: number,
  atomsBefore: number,
  gapFirst: boolean,
): number {
  const length = text.length;
  const { roots, slots, hashes, shift } = dictionary;
  const mask = slots.length - 1;
  let count = atomsBefore;
  let gap = gapFirst;
  let i = 0;
  while (i < length) {
    const code = text.charCodeAt(i);
    let fold = ASCII_FOLD[code] as number;
    if (fold === FOLD_GAP) {
      gap = true;
      i++;
      continue;
    }
    if (fold === FOLD_PAST_ASCII) return -1;
    const start = i;
    i++;
    let hash: number;
    let flags = gap ? FLAG_GAP_BEFORE : 0;
    let last = 0;
    let tail = 0;
    if (fold === FOLD_OTHER) hash = code;
    else {
      hash = fold;
      tail = fold;
      last = fold;
      flags |= FLAG_WORD;
      while (i < length) {
        fold = ASCII_FOLD[text.charCodeAt(i)] as number;
        if (fold < FIRST_WORD_CODE) break;
        hash = (Math.imul(hash, 31) + fold) | 0;
        tail = (tail << 7) | fold;
        last = fold;
        i++;
      }
      tail &= TAIL_MASK;
    }
    const o = offset + count * STRIDE;
    // findFolded, inlined: most atoms are in no table, and end at an empty slot.
    let slot = slotOf(hash, shift);
    let id = slots[slot] as number;
    while (
      id !== -1 &&
      !(hashes[id] === hash && spellsFolded(dictionary, id, text, start, i, tail))
    ) {
      slot = (slot + 1) & mask;
      id = slots[slot] as number;
    }
    let tables = id === -1 ? 0 : (roots[id] as number);
    let lessS = -1;
    let lessEs = -1;
    // A plural: the spelling less its -s, and less its -es.
    if (last === CODE_S && i - start >= 2) {
      const hashLessS = unstep(hash, CODE_S);
      lessS = findFolded(dictionary, text, start, i - 1, hashLessS);
      if (lessS !== -1) tables |= roots[lessS] as number;
      if (i - start >= 3 && ASCII_FOLD[text.charCodeAt(i - 2)] === CODE_E) {
        lessEs = findFolded(dictionary, text, start, i - 2, unstep(hashLessS, CODE_E));
        if (lessEs !== -1) tables |= roots[lessEs] as number;
      }
    }
    out[o] = id;
    out[o + 1] = lessS;
    out[o + 2] = lessEs;
    out[o + 3] = flags;
    if (tables !== 0) addCandidate(o, tables);
    count++;
    gap = false;
  }
  return count;
}

/**
 * Cuts `first`, then `second` as if a line break came between them, into the ring (or
 * an array of its own): at most one atom per code unit. ASCII text is lower-cased as it
 * is cut (cutAscii); text with any other code unit is lower-cased by toLowerCase first,
 * then cut (cutInto), which gives the same atoms for ASCII.
 */
let textsCut = 0;

/** How many texts were cut so far (for tests that bound the work of many decisions). */
export function cutCount(): number {
  return textsCut;
}

function atomize(first: string, second: string | null, dictionary: AtomDictionary): Atoms {
  textsCut++;
  // STRIDE ints per atom and two per candidate, at most one atom per code unit.
  const room = (first.length + (second?.length ?? 0)) * (STRIDE + 2);
  let out = arena;
  let lap = arenaLap;
  if (room > ARENA_INTS) {
    out = new Int32Array(room);
    lap = OWN_ARRAY;
  } else if (ARENA_INTS - arenaUsed < room) {
    arenaLap++;
    arenaUsed = 0;
    lap = arenaLap;
  }
  const offset = out === arena ? arenaUsed : 0;
  candidateCount = 0;
  let count = cutAscii(first, dictionary, out, offset, 0, false);
  if (count !== -1 && second !== null)
    count = cutAscii(second, dictionary, out, offset, count, true);
  if (count === -1) {
    candidateCount = 0;
    count = cutInto(first.toLowerCase(), dictionary, out, offset, 0, false);
    if (second !== null)
      count = cutInto(second.toLowerCase(), dictionary, out, offset, count, true);
  }
  const candidatesAt = offset + count * STRIDE;
  const candidates = candidateCount;
  for (let c = 0; c < 2 * candidates; c++) out[candidatesAt + c] = candidateScratch[c] as number;
  const used = candidatesAt + 2 * candidates;
  if (out === arena) arenaUsed = used;
  // A long text's own array, kept while the scan cache keeps the job: no more than it holds.
  else if (used < out.length) out = out.slice(0, used);
  return { dictionary, known: dictionary.version, count, packed: out, offset, candidates, lap };
}

/** A text as `matcher` reads it: the first MAX_SCAN_CHARS, lower-cased, cut. */
export function textAtoms(text: string, matcher: TableMatcher): Atoms {
  const scanned = text.length > MAX_SCAN_CHARS ? text.slice(0, MAX_SCAN_CHARS) : text;
  return atomize(scanned, null, matcher.dictionary);
}

/**
 * `${title}\n${description}` as `matcher` reads it, without building that text: each
 * part lower-cased on its own, which is the same (the line break is neither cased nor
 * case-ignorable, so no final sigma sees across it), and no copy of the job's text.
 */
export function jobAtoms(title: string, description: string, matcher: TableMatcher): Atoms {
  if (title.length + 1 + description.length > MAX_SCAN_CHARS) {
    return textAtoms(`${title}\n${description}`, matcher);
  }
  return atomize(title, description, matcher.dictionary);
}

/** A keyword of the table, once spellings are merged. */
interface Pattern {
  readonly entry: CompiledKeyword;
  /** The canonical form: tokens joined by one space. */
  readonly canonical: string;
}

/** The canonical form two spellings share when they match the same text. */
function tokensOf(keyword: string): string[] {
  return keyword
    .toLowerCase()
    .split(/[\s-]+/)
    .filter((token) => token.length > 0);
}

/** A keyword's atoms as [text, isWord, gapBefore] (the cut above, without the dictionary). */
function keywordAtoms(canonical: string): [string, boolean, boolean][] {
  const atoms: [string, boolean, boolean][] = [];
  let gap = false;
  let i = 0;
  while (i < canonical.length) {
    const code = canonical.charCodeAt(i);
    const at = code < 128 ? (ASCII_KIND[code] as number) | (1 << 2) : unicodeKind(canonical, i);
    const kind = at & 3;
    if (kind === KIND_GAP) {
      gap = true;
      i += at >> 2;
      continue;
    }
    const start = i;
    i += at >> 2;
    while (kind === KIND_WORD && i < canonical.length) {
      const c = canonical.charCodeAt(i);
      const next = c < 128 ? (ASCII_KIND[c] as number) | (1 << 2) : unicodeKind(canonical, i);
      if ((next & 3) !== KIND_WORD) break;
      i += next >> 2;
    }
    atoms.push([canonical.slice(start, i), kind === KIND_WORD, gap]);
    gap = false;
  }
  return atoms;
}

const NO_PATTERN = -1;
const END_PLURAL = 2;
const END_PUNCTUATION = 1;

/**
 * A compiled `{keyword: weight}` table: a trie of atom ids over its keywords. Ranks
 * order the keywords as a decision lists them (heaviest first, then by code points),
 * so found ranks sort into that order.
 */
export class TableMatcher {
  /** Where the ids of its keywords' atoms are: texts are cut against it. */
  readonly dictionary = dictionary;
  /** Its bit in the dictionary's roots (AtomDictionary.tableBit). */
  readonly bit = this.dictionary.tableBit();
  /** The dictionary's version once this table's atoms and roots were added: a text cut before knows less. */
  readonly known: number;
  readonly keywords: readonly CompiledKeyword[];
  /** By rank. */
  readonly ranked: readonly CompiledKeyword[];
  /** "keyword (weight)" by rank, as the reasoning names them, and ", keyword (weight)" after the first. */
  readonly labels: readonly string[];
  readonly nextLabels: readonly string[];
  /** What the last scan found: ranks, in rank order, in found[0, scanRanks()). */
  readonly found: Int32Array;
  /** Root transitions by the first atom's id (node, or -1). */
  readonly #root: Int32Array;
  /** Whether a keyword starting with atom id begins with punctuation (by id, as #root). */
  readonly #rootPunctuation: Uint8Array;
  /** Deeper transitions, per node: its children in #childKey/#childNode[first, first + count). */
  #childFirst = new Int32Array(0);
  #childCount = new Int32Array(0);
  /** Key: id · 2 + (1 if a gap comes before the atom). */
  #childKey = new Int32Array(0);
  #childNode = new Int32Array(0);
  /**
   * Per node, the keyword ending there: -1 (none), or its rank · 4, + END_PLURAL when it
   * takes a plural, + END_PUNCTUATION when it ends in punctuation.
   */
  #endInfo = new Int32Array(0);
  /**
   * The ranks the scan under way found, as bits (rank r: bit r % 32 of word r / 32), in
   * words #low to #high: read out in rank order and cleared at its end, with no sort.
   */
  readonly #foundBits: Int32Array;
  #low = 0;
  #high = -1;

  constructor(patterns: Pattern[]) {
    this.keywords = patterns.map((p) => p.entry);
    const byRank = [...patterns].sort((a, b) => byWeight(a.entry, b.entry));
    this.ranked = byRank.map((p) => p.entry);
    this.labels = this.ranked.map((k) => `${k.keyword} (${k.weight})`);
    this.nextLabels = this.labels.map((label) => `, ${label}`);
    this.found = new Int32Array(byRank.length);
    this.#foundBits = new Int32Array((byRank.length + 31) >> 5);
    const cut = byRank.map((p) =>
      keywordAtoms(p.canonical).map(([atom, isWord, gap]) => ({
        id: this.dictionary.add(atom),
        isWord,
        gap,
      })),
    );
    for (const atoms of cut) {
      if (atoms[0] !== undefined) this.dictionary.markRoot(atoms[0].id, this.bit);
    }
    this.known = this.dictionary.version;
    this.#root = new Int32Array(this.dictionary.atoms.length).fill(-1);
    this.#rootPunctuation = new Uint8Array(this.dictionary.atoms.length);
    // Children while building: node → (key → node); and each node's ending.
    const children: Map<number, number>[] = [];
    const endInfo: number[] = [];
    const newNode = (): number => {
      children.push(new Map());
      endInfo.push(NO_PATTERN);
      return children.length - 1;
    };
    newNode(); // node 0: the root
    cut.forEach((atoms, rank) => {
      let node = 0;
      atoms.forEach(({ id, isWord, gap }, j) => {
        if (j === 0) {
          if (this.#root[id] === -1) this.#root[id] = newNode();
          this.#rootPunctuation[id] = isWord ? 0 : 1;
          node = this.#root[id] as number;
          return;
        }
        const key = id * 2 + (gap ? 1 : 0);
        const here = children[node] as Map<number, number>;
        let next = here.get(key);
        if (next === undefined) {
          next = newNode();
          here.set(key, next);
        }
        node = next;
      });
      const plural = LETTER_AT_END.test(byRank[rank]?.canonical ?? "");
      const punctuation = !(atoms[atoms.length - 1]?.isWord ?? true);
      endInfo[node] = rank * 4 + (plural ? END_PLURAL : 0) + (punctuation ? END_PUNCTUATION : 0);
    });
    this.#endInfo = Int32Array.from(endInfo);
    this.#childFirst = new Int32Array(children.length);
    this.#childCount = new Int32Array(children.length);
    const total = children.reduce((n, c) => n + c.size, 0);
    this.#childKey = new Int32Array(total);
    this.#childNode = new Int32Array(total);
    let at = 0;
    children.forEach((here, node) => {
      this.#childFirst[node] = at;
      this.#childCount[node] = here.size;
      for (const [key, next] of here) {
        this.#childKey[at] = key;
        this.#childNode[at] = next;
        at++;
      }
    });
  }

  /** The distinct keywords found in the text, heaviest first. */
  match(text: string): KeywordMatch[] {
    return this.scan(textAtoms(text, this)).map((rank) => {
      const k = this.ranked[rank] as CompiledKeyword;
      return { keyword: k.keyword, weight: k.weight };
    });
  }

  /** Whether atoms were cut knowing every atom of this table, and are still in the ring (else cut the text again). */
  reads(atoms: Atoms): boolean {
    return atoms.dictionary === this.dictionary && atoms.known >= this.known && intact(atoms);
  }

  /** The ranks of the keywords found in the atoms (cut against this table's dictionary), in rank order. */
  scan(atoms: Atoms): number[] {
    return Array.from(this.found.subarray(0, this.scanRanks(atoms)));
  }

  /**
   * scan() without an array per scan: how many keywords were found, their ranks in
   * `found`, in rank order, until the next scan of this table.
   */
  scanRanks(atoms: Atoms): number {
    if (!this.reads(atoms)) {
      throw new InvalidArgumentError(
        "keyword matcher: the text was cut before this table's atoms were known",
      );
    }
    this.#low = this.#foundBits.length;
    this.#high = -1;
    // Atoms are addressed by their place in `packed`: o, from `first` to `limit` by STRIDE.
    // Only the candidates with this table's bit can start one of its keywords.
    const { packed, offset: first } = atoms;
    const limit = first + atoms.count * STRIDE;
    const candidatesEnd = limit + 2 * atoms.candidates;
    const bit = this.bit;
    const root = this.#root;
    const rootLength = root.length;
    for (let c = limit; c < candidatesEnd; c += 2) {
      if (((packed[c + 1] as number) & bit) === 0) continue;
      const o = packed[c] as number;
      const id = packed[o] as number;
      if (id !== -1 && id < rootLength) {
        const node = root[id] as number;
        // A keyword that begins with punctuation may not touch a word before it.
        if (
          node !== -1 &&
          !(
            this.#rootPunctuation[id] === 1 &&
            o > first &&
            ((packed[o + 3] as number) & FLAG_GAP_BEFORE) === 0 &&
            ((packed[o - STRIDE + 3] as number) & FLAG_WORD) !== 0
          )
        ) {
          this.#walk(packed, limit, o, node);
        }
      }
      // A one-atom keyword in the plural ("apis", "indexes").
      const lessS = packed[o + 1] as number;
      if (lessS !== -1 && lessS < rootLength) this.#plural(packed, limit, o, root[lessS] as number);
      const lessEs = packed[o + 2] as number;
      if (lessEs !== -1 && lessEs < rootLength)
        this.#plural(packed, limit, o, root[lessEs] as number);
    }
    // The found ranks, lowest first, each word cleared for the next scan.
    const bits = this.#foundBits;
    const found = this.found;
    let count = 0;
    for (let word = this.#low; word <= this.#high; word++) {
      let rest = bits[word] as number;
      bits[word] = 0;
      while (rest !== 0) {
        const lowest = rest & -rest;
        found[count++] = word * 32 + 31 - Math.clz32(lowest);
        rest ^= lowest;
      }
    }
    return count;
  }

  /** Records the keyword ending at `node` (the atom at o its last), if the atom after lets it. */
  #end(packed: Int32Array, limit: number, o: number, node: number): void {
    const info = this.#endInfo[node] as number;
    if (info === NO_PATTERN) return;
    const rank = info >> 2;
    const word = rank >> 5;
    const bit = 1 << (rank & 31);
    const bits = this.#foundBits;
    if (((bits[word] as number) & bit) !== 0) return;
    if ((info & END_PUNCTUATION) !== 0 && o + STRIDE < limit) {
      const after = (packed[o + STRIDE + 3] as number) & (FLAG_WORD | FLAG_GAP_BEFORE);
      if (after === FLAG_WORD) return; // a word right after, no gap
    }
    bits[word] = (bits[word] as number) | bit;
    if (word < this.#low) this.#low = word;
    if (word > this.#high) this.#high = word;
  }

  /** The child of `node` by atom `id` (with or without a gap before it), or -1. */
  #child(node: number, id: number, gap: number): number {
    const key = id * 2 + gap;
    const first = this.#childFirst[node] as number;
    const last = first + (this.#childCount[node] as number);
    for (let c = first; c < last; c++) {
      if (this.#childKey[c] === key) return this.#childNode[c] as number;
    }
    return -1;
  }

  /** From `node` (matched up to the atom at o), every keyword that continues after it. */
  #walk(packed: Int32Array, limit: number, o: number, node: number): void {
    let at = node;
    let here = o;
    for (;;) {
      this.#end(packed, limit, here, at);
      here += STRIDE;
      if (here >= limit || this.#childCount[at] === 0) return;
      const gap = ((packed[here + 3] as number) & FLAG_GAP_BEFORE) === 0 ? 0 : 1;
      const lessS = packed[here + 1] as number;
      if (lessS !== -1) this.#plural(packed, limit, here, this.#child(at, lessS, gap));
      const lessEs = packed[here + 2] as number;
      if (lessEs !== -1) this.#plural(packed, limit, here, this.#child(at, lessEs, gap));
      const id = packed[here] as number;
      if (id === -1) return;
      at = this.#child(at, id, gap);
      if (at === -1) return;
    }
  }

  /** The atom at o read as a plural reached `node` (-1: nothing): a keyword whose last atom that is. */
  #plural(packed: Int32Array, limit: number, o: number, node: number): void {
    if (node === -1) return;
    const info = this.#endInfo[node] as number;
    if (info !== NO_PATTERN && (info & END_PLURAL) !== 0) this.#end(packed, limit, o, node);
  }
}

// Code-point order, not localeCompare: a collator pages in ICU data (bench/RESULTS.md).
function byWeight(a: CompiledKeyword, b: CompiledKeyword): number {
  return b.weight - a.weight || (a.keyword < b.keyword ? -1 : a.keyword > b.keyword ? 1 : 0);
}

const cache = new WeakMap<Readonly<Record<string, number>>, TableMatcher>();
/** The last few tables looked up, checked before the WeakMap: the built-in three and one more. */
const RECENT_TABLES = 4;
const recentTables = new Array<Readonly<Record<string, number>> | undefined>(RECENT_TABLES).fill(
  undefined,
);
const recentMatchers = new Array<TableMatcher | undefined>(RECENT_TABLES).fill(undefined);
let recentNext = 0;

/**
 * Compiles a `{keyword: weight}` table into a matcher. Compiled once per table
 * object (cached weakly), so the same table is never compiled twice.
 */
export function compileTable(table: Readonly<Record<string, number>>): TableMatcher {
  // The tables of the last few lookups first: a WeakMap lookup per decision was a twentieth of it.
  for (let i = 0; i < RECENT_TABLES; i++) {
    const matcher = recentMatchers[i];
    if (recentTables[i] === table && matcher !== undefined && matcher.dictionary === dictionary)
      return matcher;
  }
  const matcher = compileUncached(table);
  recentTables[recentNext] = table;
  recentMatchers[recentNext] = matcher;
  recentNext = (recentNext + 1) % RECENT_TABLES;
  return matcher;
}

function compileUncached(table: Readonly<Record<string, number>>): TableMatcher {
  const cached = cache.get(table);
  if (cached && cached.dictionary === dictionary) return cached;
  if (dictionary.atoms.length > MAX_DICTIONARY_ATOMS) dictionary = new AtomDictionary();
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
    byCanonical.set(canonical, { entry: { keyword: keyword.trim(), weight }, canonical });
  }
  const matcher = new TableMatcher([...byCanonical.values()]);
  cache.set(table, matcher);
  return matcher;
}
