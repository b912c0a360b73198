/**
 * Characters (or array elements) read by the built-in functions the code under test
 * calls: one call of `text.slice(i)` is one step of JavaScript but reads what it copies,
 * and a loop of them is quadratic. Each built-in is wrapped while run() runs and charged
 * what it reads by the rules below; a built-in called by another (a regular expression's
 * `exec` under `replace`) is charged once, by the outer call. A regular expression is
 * charged the stretch of text it searched; its backtracking inside that stretch is
 * counted by V8 itself (regex-budget.ts).
 */

/** One call of a built-in: what it was called on, with what, and what it returned. */
interface Call {
  self: unknown;
  args: unknown[];
  result: unknown;
}
type Rule = (call: Call) => number;

const length = (value: unknown): number =>
  typeof value === "string" || Array.isArray(value) ? value.length : 0;
const text = (value: unknown): string => String(value);
const whole: Rule = ({ self }) => length(self);
const produced: Rule = ({ result }) => length(result);
/** Trimming reads the whitespace it removes and one character more at each end it trims. */
const trimmed =
  (ends: number): Rule =>
  ({ self, result }) =>
    length(self) - length(result) + ends;

const stringIndexOf = String.prototype.indexOf;

/** A search from `from` reads up to where it found `search`, or to the end. */
function searched(self: string, search: string, from: unknown, found: number): number {
  const start = Math.max(0, Math.trunc(Number(from) || 0));
  return found >= 0 ? found - start + search.length : Math.max(0, self.length - start);
}

const STRING_RULES: Record<string, Rule> = {
  indexOf: ({ self, args: [search, from], result }) =>
    searched(text(self), text(search), from, result as number),
  includes: ({ self, args: [search, from] }) =>
    searched(
      text(self),
      text(search),
      from,
      stringIndexOf.call(text(self), text(search), Number(from) || 0),
    ),
  lastIndexOf: ({ self, result }) => length(self) - Math.max(0, result as number),
  startsWith: ({ args: [search] }) => text(search).length,
  endsWith: ({ args: [search] }) => text(search).length,
  slice: produced,
  substring: produced,
  substr: produced,
  padStart: produced,
  padEnd: produced,
  repeat: produced,
  concat: produced,
  trim: trimmed(2),
  trimStart: trimmed(1),
  trimEnd: trimmed(1),
  toLowerCase: whole,
  toUpperCase: whole,
  normalize: whole,
  localeCompare: ({ self, args: [other] }) => length(self) + length(other),
  split: whole,
  match: whole,
  matchAll: whole,
  replace: whole,
  replaceAll: whole,
  search: whole,
};

const ARRAY_RULES: Record<string, Rule> = {
  join: produced,
  slice: produced,
  indexOf: whole,
  includes: whole,
  lastIndexOf: whole,
};

/**
 * A search reads from lastIndex (g, y) or 0 to its match's end, or to the text's end
 * when it fails. A sticky expression tries one position: a failed try is charged one.
 */
function regexRule(name: "exec" | "test", lastIndexBefore: number): Rule {
  return ({ self, args: [input], result }) => {
    const re = self as RegExp;
    if (re.global || re.sticky) {
      if (!result) return re.sticky ? 1 : length(text(input)) - lastIndexBefore;
      return re.lastIndex - lastIndexBefore;
    }
    if (name === "exec" && result) {
      const match = result as RegExpExecArray;
      return match.index + match[0].length;
    }
    return length(text(input));
  };
}

let reads = 0;
let depth = 0;
/** Reads by built-in, for a failing check to name the one that grew. */
const byBuiltIn = new Map<string, number>();

function charge(label: string, amount: number): void {
  reads += amount;
  byBuiltIn.set(label, (byBuiltIn.get(label) ?? 0) + amount);
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Replaces owner[name] by a counting wrapper; returns what puts the built-in back. */
function wrap(owner: object, name: string, count: (self: unknown) => [string, Rule]): () => void {
  const methods = owner as Record<string, Method>;
  const original = methods[name];
  if (typeof original !== "function") throw new Error(`no built-in ${name} to count`);
  const counted: Method = function (...args) {
    if (depth > 0) return original.apply(this, args);
    depth++;
    try {
      const [label, rule] = count(this);
      const result = original.apply(this, args);
      charge(label, rule({ self: this, args, result }));
      return result;
    } finally {
      depth--;
    }
  };
  const define = (value: Method) =>
    Object.defineProperty(owner, name, { value, writable: true, configurable: true });
  define(counted);
  return () => define(original);
}

function wrapAll(): (() => void)[] {
  return [
    ...Object.entries(STRING_RULES).map(([name, rule]) =>
      wrap(String.prototype, name, () => [`String.${name}`, rule]),
    ),
    ...Object.entries(ARRAY_RULES).map(([name, rule]) =>
      wrap(Array.prototype, name, () => [`Array.${name}`, rule]),
    ),
    wrap(JSON, "parse", () => ["JSON.parse", ({ args: [json] }) => length(json)]),
    ...(["exec", "test"] as const).map((name) =>
      wrap(RegExp.prototype, name, (re) => [
        `${String(re)}.${name}`,
        regexRule(name, (re as RegExp).lastIndex),
      ]),
    ),
  ];
}

/** What the built-ins called during run() read, by the rules above. */
export function builtInReads(run: () => void): number {
  reads = 0;
  byBuiltIn.clear();
  const undo = wrapAll();
  try {
    run();
  } finally {
    for (const restore of undo.reverse()) restore();
  }
  return reads;
}

/** What each built-in read during the last builtInReads run, most first. */
export function readsByBuiltIn(): [string, number][] {
  return [...byBuiltIn].sort((a, b) => b[1] - a[1]);
}
