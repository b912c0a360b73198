import { lintSource } from "@secretlint/core";
import { creator as secretlintRecommended } from "@secretlint/secretlint-rule-preset-recommend";
import { Linter } from "eslint";
import security from "eslint-plugin-security";
import tseslint from "typescript-eslint";
import {
  type CodeFinding,
  type CodeReviewResult,
  maskSecret,
  type ReviewedFile,
} from "./code-findings.ts";
import type { InputBlock, Severity } from "./types.ts";

/**
 * Static review of the code in a job, never executing it:
 * - JavaScript and TypeScript through ESLint's Linter (flat config, typescript-eslint's
 *   parser, eslint-plugin-security, core no-eval / no-implied-eval / no-new-func), with
 *   inline configuration disabled so that the customer's comments cannot turn rules off;
 * - every file through secretlint's recommended preset (AWS keys included), reported
 *   masked;
 * - every file for SQL built by string concatenation or interpolation.
 */

const JS_LANGUAGES = new Set(["javascript", "typescript"]);
/** Data blocks are scanned for secrets only; everything else counts as code. */
const DATA_LANGUAGES = new Set(["csv", "tsv", "numbers", "log", "markdown"]);

const HIGH_RULES = new Set([
  "no-eval",
  "no-implied-eval",
  "no-new-func",
  "security/detect-eval-with-expression",
  "security/detect-child-process",
  "security/detect-non-literal-require",
]);

const FIXES: Record<string, string> = {
  "no-eval": "Remove eval; parse data with JSON.parse or dispatch to known functions.",
  "no-implied-eval": "Pass a function to setTimeout/setInterval, never a string.",
  "no-new-func": "Do not build functions from strings; write the function in code.",
  "security/detect-eval-with-expression":
    "Never evaluate a computed string; use JSON.parse or a lookup table.",
  "security/detect-child-process":
    "Use execFile/spawn with an argument array and a fixed command; never a shell string built from input.",
  "security/detect-non-literal-require":
    "Require only literal module names; map allowed names to modules.",
  "security/detect-non-literal-fs-filename":
    "Resolve the path against a fixed base directory and check it stays inside.",
  "security/detect-non-literal-regexp":
    "Escape user input before building a RegExp, or avoid dynamic patterns.",
  "security/detect-unsafe-regex":
    "Rewrite the pattern without nested quantifiers (catastrophic backtracking).",
  "security/detect-possible-timing-attacks": "Compare secrets with crypto.timingSafeEqual.",
  "security/detect-pseudoRandomBytes": "Use crypto.randomBytes for anything security-related.",
  "security/detect-new-buffer": "Use Buffer.from / Buffer.alloc instead of new Buffer.",
  "security/detect-buffer-noassert": "Drop the noAssert flag so reads are bounds-checked.",
  "security/detect-bidi-characters": "Remove bidirectional control characters (Trojan Source).",
  "security/detect-invisible-characters": "Remove invisible Unicode characters from the source.",
  "security/detect-disable-mustache-escape": "Keep template escaping on.",
  "security/detect-no-csrf-before-method-override":
    "Register CSRF protection before methodOverride.",
};

const eslintConfig: Linter.Config[] = [
  {
    files: [
      "**/*.js",
      "**/*.mjs",
      "**/*.cjs",
      "**/*.jsx",
      "**/*.ts",
      "**/*.mts",
      "**/*.cts",
      "**/*.tsx",
    ],
    languageOptions: {
      parser: tseslint.parser as Linter.Parser,
      ecmaVersion: "latest",
      sourceType: "module",
      parserOptions: { ecmaFeatures: { jsx: true } },
      // The globals no-implied-eval looks for.
      globals: {
        setTimeout: "readonly",
        setInterval: "readonly",
        execScript: "readonly",
        window: "readonly",
        globalThis: "readonly",
      },
    },
    // Job input is data, never configuration: eslint-disable comments do nothing.
    linterOptions: { noInlineConfig: true, reportUnusedDisableDirectives: "off" },
    plugins: { security: security as never },
    rules: {
      ...(security.configs.recommended.rules as Linter.RulesRecord),
      // Flags every obj[key]; far too noisy to be a finding a customer pays for.
      "security/detect-object-injection": "off",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
    },
  },
];

let linter: Linter | undefined;

function lintJs(block: InputBlock, name: string): CodeFinding[] {
  linter ??= new Linter({ configType: "flat" });
  const messages = linter.verify(block.text, eslintConfig, { filename: name });
  return messages
    .filter((m) => m.ruleId !== null || m.fatal)
    .map((m) => {
      const rule = m.ruleId ?? "parse-error";
      return {
        file: block.name,
        line: Math.max(1, m.line),
        column: m.column,
        rule,
        severity: m.fatal ? "low" : HIGH_RULES.has(rule) ? "high" : "medium",
        message: m.message,
        fix: m.fatal
          ? "The code does not parse; the other checks ran on it as text."
          : (FIXES[rule] ?? "See the rule's documentation."),
        tool: "eslint",
      };
    });
}

const SECRET_KINDS: Record<string, string> = {
  AWSAccessKeyID: "AWS access key ID",
  AWSSecretAccessKey: "AWS secret access key",
  AWSAccountID: "AWS account ID",
  PrivateKey: "private key",
};

async function scanSecrets(block: InputBlock, secrets: string[]): Promise<CodeFinding[]> {
  const result = await lintSource({
    source: { filePath: `/${block.name}`, content: block.text, ext: "", contentType: "text" },
    options: {
      config: {
        rules: [
          {
            id: "@secretlint/secretlint-rule-preset-recommend",
            rule: secretlintRecommended,
            // The AWS rule scans for access key IDs only when asked to.
            rules: [{ id: "@secretlint/secretlint-rule-aws", options: { enableIDScanRule: true } }],
          },
        ],
      },
      maskSecrets: true,
      noPhysicFilePath: true,
    },
  });
  return result.messages.map((m) => {
    const raw = block.text.slice(m.range[0], m.range[1]);
    secrets.push(raw);
    const kind = SECRET_KINDS[m.messageId] ?? m.messageId.replace(/([a-z])([A-Z])/g, "$1 $2");
    return {
      file: block.name,
      line: m.loc.start.line,
      column: m.loc.start.column + 1,
      rule: `secret/${m.ruleId.replace("@secretlint/secretlint-rule-", "")}`,
      severity: "high",
      message: `Hard-coded ${kind}: ${maskSecret(raw)}`,
      fix: "Revoke and rotate this credential now, remove it from the code and its history, and load it from the environment or a secret manager.",
      tool: "secretlint",
    };
  });
}

const SELECT = /\bselect\s/i;
const FROM = /\bfrom\b/i;
const OTHER_SQL =
  /\b(insert\s+into\b|update\s+[\w."`[\]]+\s+set\b|delete\s+from\b|\bwhere\s+[\w."`]+\s*(=|<|>|like\b|in\b))/i;

/**
 * Whether a string literal holds SQL. `select\s[\s\S]*\bfrom\b` read to the end from
 * every `select`: a literal of many `select`s and no `from` was quadratic. The first
 * `select` has the most text after it, so it alone is looked at.
 */
export function looksLikeSql(literal: string): boolean {
  const select = SELECT.exec(literal);
  if (select && FROM.test(literal.slice(select.index + select[0].length))) return true;
  return OTHER_SQL.test(literal);
}

const QUOTES = "\"'`";
const PREFIX_CHARS = "fFrRbBuU$@";

function isLineEnd(char: string | undefined): boolean {
  return char === "\n" || char === "\r" || char === "\u2028" || char === "\u2029";
}

/**
 * Where the literal opened by the quote at `open` closes, or where reading it failed:
 * at a newline (except in a template literal), a backslash before a line end, or the
 * end of the line.
 */
function literalEnd(line: string, open: number): { closed: boolean; at: number } {
  const quote = line[open];
  let i = open + 1;
  while (i < line.length) {
    const char = line[i];
    if (char === quote) return { closed: true, at: i };
    if (char === "\\") {
      if (i + 1 >= line.length || isLineEnd(line[i + 1])) return { closed: false, at: i };
      i += 2;
      continue;
    }
    if (char === "\n" && quote !== "`") return { closed: false, at: i };
    i++;
  }
  return { closed: false, at: i };
}

export interface StringLiteral {
  index: number;
  /** Up to two of `fFrRbBuU$@` before the quote: f-strings, raw strings, C# `$@`. */
  prefix: string;
  /** The literal with its quotes. */
  literal: string;
}

/**
 * The string literals of one line: what
 * ``/([fFrRbBuU$@]{0,2})("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)/g``
 * finds, in linear time. The regex read from every quote to the line's end when no
 * quote closed it (`"\"\"\"…`): quadratic. A quote of the same kind inside an unclosed
 * literal was escaped in it, and reading from there goes the same way, so it fails at
 * the same place and is skipped.
 */
export function stringLiterals(line: string): StringLiteral[] {
  const out: StringLiteral[] = [];
  const deadUntil: Record<string, number> = { '"': -1, "'": -1, "`": -1 };
  let from = 0;
  for (let open = 0; open < line.length; open++) {
    const quote = line[open] as string;
    if (!QUOTES.includes(quote) || open < (deadUntil[quote] as number)) continue;
    const end = literalEnd(line, open);
    if (!end.closed) {
      deadUntil[quote] = end.at;
      continue;
    }
    let start = open;
    while (start > from && open - start < 2 && PREFIX_CHARS.includes(line[start - 1] as string))
      start--;
    out.push({
      index: start,
      prefix: line.slice(start, open),
      literal: line.slice(open, end.at + 1),
    });
    from = end.at + 1;
    open = end.at;
  }
  return out;
}

/** Whether one line builds SQL from a string and a value by concatenation or interpolation. */
function sqlConcatenation(line: string): string | undefined {
  for (const { index: start, prefix, literal } of stringLiterals(line)) {
    if (!looksLikeSql(literal)) continue;
    const before = line.slice(0, start);
    const after = line.slice(start + prefix.length + literal.length);
    // `+` (most languages), `.` before a PHP variable, `||` (SQL itself), on either side.
    if (/^\s*(\+|\.\s*\$|\|\|)/.test(after) || /[\w)\]$]\s*(\+|\.|\|\|)\s*$/.test(before))
      return "concatenated";
    if (literal.startsWith("`") && /\$\{/.test(literal))
      return "interpolated in a template literal";
    if (/f/i.test(prefix) && /\{[^}]+\}/.test(literal)) return "interpolated in an f-string";
    if (prefix.includes("$") && /\{[^}]+\}/.test(literal))
      return "interpolated in an interpolated string";
    if (/^\s*%\s*[\w(]/.test(after)) return "formatted with %";
    if (/^\s*\.\s*format\s*\(/.test(after)) return "formatted with .format()";
    if (
      /(Sprintf|String\.format|format)\s*\(\s*$/.test(before) &&
      /%[sdv]/.test(literal) &&
      /,/.test(after)
    )
      return "formatted with a printf-style call";
    if (/"[^"]*\$\w+/.test(literal) && /php|\$\w+\s*=/.test(line))
      return "interpolated PHP variable";
  }
  return undefined;
}

function scanSql(block: InputBlock): CodeFinding[] {
  const findings: CodeFinding[] = [];
  block.text.split(/\r?\n/).forEach((line, i) => {
    if (line.length > 2000) return;
    const how = sqlConcatenation(line);
    if (!how) return;
    findings.push({
      file: block.name,
      line: i + 1,
      column: 1,
      rule: "sql-injection/string-built-query",
      severity: "high",
      message: `SQL query built from strings (${how}): a value that reaches it can change the query (SQL injection).`,
      fix: "Use a parameterised query (placeholders such as ?, $1 or %s passed with a separate parameter list) or the query builder's bound values.",
      tool: "sql-check",
    });
  });
  return findings;
}

function countLines(text: string): number {
  return text === "" ? 0 : text.replace(/\n$/, "").split("\n").length;
}

export type { CodeFinding, CodeReviewResult, ReviewedFile };

export async function reviewCode(blocks: readonly InputBlock[]): Promise<CodeReviewResult> {
  const files: ReviewedFile[] = [];
  const findings: CodeFinding[] = [];
  const secrets: string[] = [];
  const notes: string[] = [];
  for (const block of blocks) {
    const code = !DATA_LANGUAGES.has(block.language);
    const linted = JS_LANGUAGES.has(block.language);
    files.push({
      name: block.name,
      language: block.language,
      lines: countLines(block.text),
      linted,
    });
    if (linted) {
      try {
        const ext = block.language === "typescript" ? ".tsx" : ".jsx";
        findings.push(
          ...lintJs(block, /\.[cm]?[jt]sx?$/.test(block.name) ? block.name : `${block.name}${ext}`),
        );
      } catch (error) {
        notes.push(`ESLint could not check ${block.name}: ${(error as Error).message}`);
      }
    }
    try {
      findings.push(...(await scanSecrets(block, secrets)));
    } catch (error) {
      notes.push(`The secret scan could not check ${block.name}: ${(error as Error).message}`);
    }
    if (code) findings.push(...scanSql(block));
  }
  const order: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
  findings.sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || order[a.severity] - order[b.severity],
  );
  return { files, findings: dedupe(findings), secrets, notes };
}

/** ESLint's security plugin and core rules often report one eval twice; keep the core rule's. */
function dedupe(findings: CodeFinding[]): CodeFinding[] {
  const seen = new Set<string>();
  const core = (f: CodeFinding) => (f.rule.startsWith("security/") ? 1 : 0);
  const ordered = [...findings].sort((a, b) => core(a) - core(b));
  const kept = new Set(
    ordered.filter((f) => {
      const family = f.rule === "security/detect-eval-with-expression" ? "no-eval" : f.rule;
      const key = `${f.file}:${f.line}:${family}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
  );
  return findings.filter((f) => kept.has(f));
}
