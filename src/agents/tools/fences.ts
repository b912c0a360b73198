/**
 * Fenced code blocks of a Markdown text, found in one pass (linear time). It finds
 * what the regular expression
 *
 *   /^ {0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)^ {0,3}\1[`~]*[ \t]*$/gm
 *
 * found with `String.replace`, quirks included (a fence may close with a shorter run
 * when no long enough one follows; `^`/`$` see \r, \u2028 and \u2029 as line ends),
 * without its cost: an unclosed fence made it read the rest of the text once per
 * fence line (quadratic on a text of `~~~a` lines). Here each line's "could close a
 * fence" facts are computed once, and an opening line looks its closing line up.
 */

export interface Fence {
  /** Where the opening line starts and the closing line ends (before its line break). */
  start: number;
  end: number;
  /** The info string's first word (`ts` of "```ts title"), "" when none. */
  tag: string;
  body: string;
}

const BACKTICK = 0x60;
const TILDE = 0x7e;
const SPACE = 0x20;
const TAB = 0x09;

function isLineEnd(code: number): boolean {
  return code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;
}

function isTagChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f || // _
    code === 0x2b || // +
    code === 0x23 || // #
    code === 0x2e || // .
    code === 0x2d // -
  );
}

/** Lines as `^`/`$` see them with the m flag: starts, and the index of each line's end. */
interface Lines {
  starts: number[];
  ends: number[];
}

function linesOf(text: string): Lines {
  const starts = [0];
  const ends: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (isLineEnd(text.charCodeAt(i))) {
      ends.push(i);
      starts.push(i + 1);
    }
  }
  ends.push(text.length);
  return { starts, ends };
}

/** Up to three spaces, then a run of one fence character: its start and length (0: none). */
function fenceRunAt(text: string, start: number, end: number): { at: number; length: number } {
  let at = start;
  while (at < end && at - start <= 3 && text.charCodeAt(at) === SPACE) at++;
  const char = text.charCodeAt(at);
  if (at - start > 3 || at >= end || (char !== BACKTICK && char !== TILDE)) {
    return { at, length: 0 };
  }
  let i = at;
  while (i < end && text.charCodeAt(i) === char) i++;
  return { at, length: i - at };
}

/** Whether a line, after its fence run, holds only `[`~]*[ \t]*`: a line that can close a fence. */
function onlyFenceAfter(text: string, from: number, end: number): boolean {
  let i = from;
  while (i < end && (text.charCodeAt(i) === BACKTICK || text.charCodeAt(i) === TILDE)) i++;
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  return i === end;
}

export function findFences(text: string): Fence[] {
  // A fence opens with three backticks or tildes: most job texts have neither, and
  // the per-line facts below would be built for nothing.
  if (!text.includes("```") && !text.includes("~~~")) return [];
  const { starts, ends } = linesOf(text);
  const count = starts.length;
  // Per line: the fence character it can close with (0: none) and its run's length.
  const closeChar = new Uint16Array(count);
  const closeRun = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const end = ends[k] as number;
    const run = fenceRunAt(text, starts[k] as number, end);
    if (run.length > 0 && onlyFenceAfter(text, run.at + run.length, end)) {
      closeChar[k] = text.charCodeAt(run.at);
      closeRun[k] = run.length;
    }
  }
  // The longest closing run of each character at line k or after.
  const longestBacktick = new Int32Array(count + 1);
  const longestTilde = new Int32Array(count + 1);
  for (let k = count - 1; k >= 0; k--) {
    const run = closeRun[k] as number;
    longestBacktick[k] = Math.max(
      longestBacktick[k + 1] as number,
      closeChar[k] === BACKTICK ? run : 0,
    );
    longestTilde[k] = Math.max(longestTilde[k + 1] as number, closeChar[k] === TILDE ? run : 0);
  }

  const fences: Fence[] = [];
  // Both only move forward: the next "\n" (the opening line ends there) and its line.
  let newline = -1;
  let bodyLine = 0;
  let k = 0;
  while (k < count) {
    const start = starts[k] as number;
    const open = fenceRunAt(text, start, ends[k] as number);
    if (open.length < 3) {
      k++;
      continue;
    }
    const afterRun = open.at + open.length;
    if (newline !== Number.POSITIVE_INFINITY && newline < afterRun) {
      const found = text.indexOf("\n", afterRun);
      newline = found === -1 ? Number.POSITIVE_INFINITY : found;
    }
    if (newline === Number.POSITIVE_INFINITY) break; // no opening line can end any more
    const bodyStart = newline + 1;
    while ((starts[bodyLine] as number) < bodyStart) bodyLine++;
    const char = text.charCodeAt(open.at);
    const longest = (char === BACKTICK ? longestBacktick : longestTilde)[bodyLine] as number;
    // The regex tries the whole run first, then shorter ones: the longest that some line closes.
    const needed = Math.min(open.length, longest);
    if (needed < 3) {
      k++;
      continue;
    }
    let close = bodyLine;
    while (closeChar[close] !== char || (closeRun[close] as number) < needed) close++;
    let tag = "";
    if (needed === open.length) {
      let i = afterRun;
      while (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) i++;
      const tagStart = i;
      while (i < text.length && isTagChar(text.charCodeAt(i))) i++;
      tag = text.slice(tagStart, i);
    }
    fences.push({
      start,
      end: ends[close] as number,
      tag,
      body: text.slice(bodyStart, starts[close] as number),
    });
    k = close + 1;
  }
  return fences;
}
