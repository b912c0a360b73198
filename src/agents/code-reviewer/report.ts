import type { Job } from "../../marketplace/schemas.ts";
import type { CodeFinding, CodeReviewResult, ReviewedFile } from "../tools/code-findings.ts";
import { fence, notesSection, table } from "../tools/markdown.ts";
import type { InputBlock } from "../tools/types.ts";

/** CodeReviewer's deliverable: the files, every finding at its line, the LLM's review around them. */

const MAX_ROWS = 300;
/** Code the LLM sees, in all (the findings are complete either way). */
const MAX_CODE_CHARS = 40_000;

export function findingsTable(findings: readonly CodeFinding[]): string {
  if (findings.length === 0) return "The checks found nothing to report.";
  const rows = findings
    .slice(0, MAX_ROWS)
    .map((f, i) => [i + 1, f.file, f.line, f.rule, f.severity, f.message, f.fix]);
  const more =
    findings.length > MAX_ROWS
      ? `\n\n(${findings.length - MAX_ROWS} more findings not shown.)`
      : "";
  return table(["#", "file", "line", "rule", "severity", "finding", "fix"], rows) + more;
}

function filesTable(files: readonly ReviewedFile[]): string {
  return table(
    ["file", "language", "lines", "checks"],
    files.map((f) => [
      f.name,
      f.language,
      f.lines,
      [
        f.linted ? "ESLint" : null,
        "secrets",
        f.language === "csv" || f.language === "numbers" ? null : "SQL concatenation",
      ]
        .filter(Boolean)
        .join(", "),
    ]),
  );
}

function counts(findings: readonly CodeFinding[]): string {
  const n = (s: string) => findings.filter((f) => f.severity === s).length;
  return `${findings.length} finding${findings.length === 1 ? "" : "s"}: ${n("high")} high, ${n("medium")} medium, ${n("low")} low severity`;
}

/**
 * Replaces every occurrence of a found secret with its masked form. Each distinct
 * secret once: a key pasted a thousand times is found a thousand times, and one pass
 * of the text per finding was quadratic.
 */
export function maskSecrets(
  text: string,
  secrets: readonly string[],
  mask: (s: string) => string,
): string {
  let out = text;
  for (const secret of [...new Set(secrets)].sort((a, b) => b.length - a.length)) {
    // A short credential is masked by its quoted literal (`"hunter2"`), never as a bare word.
    const quoted =
      secret.length >= 4 &&
      "\"'`".includes(secret[0] as string) &&
      secret.endsWith(secret[0] as string);
    if (secret.length >= 8 || quoted) out = out.split(secret).join(`[secret ${mask(secret)}]`);
  }
  return out;
}

/** The code with line numbers, so the LLM can cite real lines. */
export function numberedCode(blocks: readonly InputBlock[]): string {
  let budget = MAX_CODE_CHARS;
  const parts: string[] = [];
  for (const block of blocks) {
    if (budget <= 0) {
      parts.push(`(${block.name} not shown: too much code; its findings above are complete.)`);
      continue;
    }
    const numbered = block.text
      .replace(/\n$/, "")
      .split("\n")
      .map((line, i) => `${String(i + 1).padStart(4)}  ${line}`)
      .join("\n");
    const shown = numbered.length > budget ? `${numbered.slice(0, budget)}\n…` : numbered;
    budget -= shown.length;
    parts.push(`File ${block.name} (${block.language}):`, fence(block.language, shown));
  }
  return parts.join("\n");
}

export function codeFacts(result: CodeReviewResult, code: string): string {
  return [
    "Files reviewed:",
    filesTable(result.files),
    "",
    `Findings of ESLint, secretlint and the SQL check (${counts(result.findings)}):`,
    findingsTable(result.findings),
    "",
    "The code, with line numbers (secrets masked):",
    code,
  ].join("\n");
}

const SETTINGS = [
  "## Tools and settings",
  "",
  "- **ESLint** (Node API, flat config) on JavaScript and TypeScript: typescript-eslint's parser, eslint-plugin-security's recommended rules (except detect-object-injection, which flags every `obj[key]`), and the core rules no-eval, no-implied-eval and no-new-func. Inline configuration is disabled: `eslint-disable` comments in the code have no effect.",
  "- **secretlint** with its recommended preset (AWS, GCP, GitHub, Slack, npm, OpenAI and other tokens, private keys, database connection strings, basic auth) on every file. A secret is shown by its kind and first characters only.",
  "- **Hard-coded credential check** (in the style of Bandit's B105 and Semgrep's hard-coded credential rules) on every file: a string literal assigned to a name that says password, secret, token, key or credential (assignments, object properties, default parameters), except empty and placeholder values, values built from variables or read from the environment, and names such as `token_type` or `key_id`.",
  '- **SQL concatenation check** on every file: string literals holding SQL that are joined with `+`, `.` or `||`, interpolated (template literals, f-strings, `$"…"`) or formatted (`%`, `.format`, printf-style).',
  "- The code was read, never executed.",
].join("\n");

export function codeReport(
  job: Job,
  result: CodeReviewResult | null,
  toolError: string | null,
  notes: readonly string[],
  review: string | null,
): string {
  const parts = [`# Code review: ${job.title}`, ""];
  if (!result || result.files.length === 0) {
    parts.push(
      "## Summary",
      "",
      "No code was found in this job: nothing could be checked. Paste the code in fenced blocks tagged with their language (```ts, ```python, …) or attach the source files.",
    );
    if (review) parts.push("", "## Review (language model)", "", review);
  } else {
    parts.push(
      "## Summary",
      "",
      `- Reviewed ${result.files.length} file${result.files.length === 1 ? "" : "s"} (${result.files.reduce((s, f) => s + f.lines, 0)} lines): ${counts(result.findings)}.`,
      "",
      filesTable(result.files),
      "",
      "## Findings",
      "",
      findingsTable(result.findings),
    );
    if (review) parts.push("", "## Review (language model, around the findings above)", "", review);
    parts.push("", SETTINGS);
  }
  const allNotes = [...notes, ...(result?.notes ?? [])];
  if (toolError) allNotes.push(`The static checks could not run: ${toolError}.`);
  const notesText = notesSection(allNotes);
  if (notesText) parts.push("", notesText);
  return parts.join("\n");
}
