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
  tool: "eslint" | "secretlint" | "sql-check";
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
  let out = text.replace(
    /\b([\w./-]+\.[A-Za-z]{1,5}):(\d+)(?:-(\d+))?\b/g,
    (whole, file: string, a: string, b?: string) =>
      exists(Number(a), file) && (b === undefined || exists(Number(b), file)) ? whole : flag(whole),
  );
  out = out.replace(
    /\b(?:[Ll]ines?|L)\s?(\d+)(?:\s?(?:-|–|to|and)\s?(\d+))?\b/g,
    (whole, a: string, b?: string) =>
      exists(Number(a)) && (b === undefined || exists(Number(b))) ? whole : flag(whole),
  );
  return { text: out, invalid };
}
