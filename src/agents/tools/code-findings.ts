import type { Severity } from "./types.ts";

/**
 * What the code review produces, and the checks on what the LLM says about it. Kept
 * apart from code-review.ts, which loads ESLint and secretlint: the executor needs only
 * these, and they must not load the linters on the runner's main thread.
 */

export interface CodeFinding {
  file: string;
  line: number;
  column: number;
  rule: string;
  severity: Severity;
  message: string;
  fix: string;
  tool: "eslint" | "secretlint" | "sql-check" | "credential-check";
}

export interface ReviewedFile {
  name: string;
  language: string;
  lines: number;
  linted: boolean;
}

export interface CodeReviewResult {
  files: ReviewedFile[];
  findings: CodeFinding[];
  /** The secrets found, in full, so the caller can mask them wherever they would be repeated. Never printed. */
  secrets: string[];
  notes: string[];
}

/** A secret as the report shows it: its first four characters and its length. */
export function maskSecret(secret: string): string {
  return `${secret.slice(0, 4)}… (${secret.length} characters)`;
}

export interface CitationCheck {
  text: string;
  /** The citations that point at no line of the reviewed code. */
  invalid: string[];
}

/**
 * Checks every line the LLM cites ("line 12", "lines 3-5", "app.ts:40", "L7") against
 * the files reviewed: a line that does not exist is struck through and flagged.
 */
export function checkCitedLines(text: string, files: readonly ReviewedFile[]): CitationCheck {
  const invalid: string[] = [];
  const maxLines = Math.max(0, ...files.map((f) => f.lines));
  const byName = new Map(files.map((f) => [f.name.toLowerCase(), f.lines]));
  const exists = (line: number, file?: string) => {
    const limit = file !== undefined ? (byName.get(file.toLowerCase()) ?? maxLines) : maxLines;
    return line >= 1 && line <= limit;
  };
  const flag = (whole: string) => {
    invalid.push(whole);
    return `~~${whole}~~ [no such line in the reviewed code]`;
  };
  let out = replaceFileCitations(text, (whole, file, a, b) =>
    exists(Number(a), file) && (b === undefined || exists(Number(b), file)) ? whole : flag(whole),
  );
  out = out.replace(
    /\b(?:[Ll]ines?|L)\s?(\d+)(?:\s?(?:-|–|to|and)\s?(\d+))?\b/g,
    (whole, a: string, b?: string) =>
      exists(Number(a)) && (b === undefined || exists(Number(b))) ? whole : flag(whole),
  );
  return { text: out, invalid };
}

function isWordChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f
  );
}

function isPathChar(code: number): boolean {
  return isWordChar(code) || code === 0x2e || code === 0x2f || code === 0x2d; // . / -
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** Whether text[start, end) is `[\w./-]+\.[A-Za-z]{1,5}`, all of it path characters. */
function endsWithExtension(text: string, start: number, end: number): boolean {
  for (let letters = 1; letters <= 5 && isLetter(text.charCodeAt(end - letters)); letters++) {
    const dot = end - letters - 1;
    if (dot > start && text.charCodeAt(dot) === 0x2e) return true;
  }
  return false;
}

/** The line numbers after a cited file: `:12` or `:12-14`. */
const CITED_LINES = /:(\d+)(?:-(\d+))?\b/y;

/**
 * `text.replace(/\b([\w./-]+\.[A-Za-z]{1,5}):(\d+)(?:-(\d+))?\b/g, replace)` in linear
 * time. The regex tried a file name at every word boundary of a run of path characters
 * (`a.a.a.…`), each read to the run's end: quadratic. Every name begun inside one run
 * ends where the run ends, and a later start only shortens it, so when the run's first
 * start fails, every other does: the scan moves past the run.
 */
function replaceFileCitations(
  text: string,
  replace: (whole: string, file: string, a: string, b: string | undefined) => string,
): string {
  let out = "";
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    if (!isPathChar(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let end = i;
    while (end < text.length && isPathChar(text.charCodeAt(end))) end++;
    // The first word boundary (`\b`) of the run.
    let start = i;
    while (
      start < end &&
      isWordChar(text.charCodeAt(start)) === isWordChar(text.charCodeAt(start - 1))
    )
      start++;
    if (start < end && endsWithExtension(text, start, end)) {
      CITED_LINES.lastIndex = end;
      const lines = CITED_LINES.exec(text);
      if (lines) {
        const after = CITED_LINES.lastIndex;
        out += text.slice(copied, start);
        out += replace(
          text.slice(start, after),
          text.slice(start, end),
          lines[1] as string,
          lines[2],
        );
        copied = after;
        i = after;
        continue;
      }
    }
    i = end;
  }
  return out + text.slice(copied);
}
