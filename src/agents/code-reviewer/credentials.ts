import type { CodeFinding } from "../tools/code-findings.ts";
import type { InputBlock } from "../tools/types.ts";

/**
 * Hard-coded credentials (Bandit B105/B106, Semgrep's hard-coded credential rules): a
 * string literal assigned to a name that says password, secret, token, key…, in an
 * assignment (`=`, `:=`, `<-`), an object property or dict entry (`:`, `=>`) or a
 * default parameter, whatever the language. secretlint matches secrets by their shape
 * and skips the documented example keys; this rule matches what the code does with a
 * literal. Guards: empty and placeholder values (`<your-key>`, `changeme`, `${VAR}`,
 * `TODO`…), values built from variables (template literals, concatenation, reads from
 * the environment, which are never a literal right after the operator), and names that
 * only talk about a credential (`token_type`, `key_id`, `password_field`).
 *
 * Job text is hostile: every line is read once, left to right, and each character is
 * looked at a bounded number of times (`Work.steps` counts them for the tests).
 */

export const CREDENTIAL_RULE = "secret/hard-coded-credential";

export interface CredentialHit {
  file: string;
  /** 1-based line and column of the literal. */
  line: number;
  column: number;
  /** The name the literal is assigned to (cut to 64 characters). */
  name: string;
  /** The literal's value, in full: never printed (see maskCredential). */
  value: string;
  /** The literal as written, quotes included, for masking where it is repeated. */
  literal: string;
}

/** Counts the characters looked at, so tests can bound the work on hostile input. */
export interface Work {
  steps: number;
}

/** A credential as it may be shown: at most a quarter of it (4 characters at most), and its length. */
export function maskCredential(value: string): string {
  const shown = Math.min(4, Math.floor(value.length / 4));
  return `${value.slice(0, shown)}… (${value.length} characters)`;
}

/** Words of a name that make it a credential on their own. */
const CREDENTIAL_WORDS = new Set([
  "password",
  "passwd",
  "passwrd",
  "pwd",
  "pass",
  "passphrase",
  "secret",
  "secrets",
  "token",
  "credential",
  "credentials",
  "creds",
  "apikey",
  "secretkey",
  "accesskey",
  "privatekey",
  "auth",
  "authtoken",
  "authorization",
  "bearer",
]);

/** With `key`, these make a credential (`api_key`, `AWS_SECRET_ACCESS_KEY`, `signingKey`). */
const KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "signing",
  "encryption",
  "master",
  "auth",
  "client",
  "app",
  "service",
  "license",
  "shared",
  "hmac",
  "jwt",
  "session",
  "admin",
]);

/** A name ending in one of these talks about a credential without holding one (`token_type`, `key_id`). */
const DESCRIPTIVE_LAST_WORDS = new Set([
  "type",
  "types",
  "id",
  "ids",
  "name",
  "names",
  "url",
  "uri",
  "endpoint",
  "host",
  "field",
  "fields",
  "header",
  "headers",
  "param",
  "params",
  "parameter",
  "length",
  "len",
  "size",
  "count",
  "min",
  "max",
  "expiry",
  "expires",
  "expiration",
  "ttl",
  "timeout",
  "age",
  "prefix",
  "suffix",
  "format",
  "kind",
  "label",
  "path",
  "file",
  "filename",
  "dir",
  "env",
  "var",
  "variable",
  "policy",
  "hint",
  "placeholder",
  "regex",
  "pattern",
  "mode",
  "algorithm",
  "alg",
  "version",
  "scope",
  "scopes",
  "location",
  "store",
  "provider",
  "column",
  "input",
  "prompt",
  "message",
  "msg",
  "error",
  "text",
  "title",
  "description",
  "help",
  "key", // `password_key`, `token_key`: the key under which one is stored
  "keys",
  "index",
  "style",
  "class",
  "selector",
  "route",
  "method",
  "strategy",
  "validator",
  "rule",
  "rules",
  "enabled",
  "required",
  "status",
  "state",
  "reset",
  "changed",
  "event",
  "usage",
  "limit",
  "strength",
]);

/** A name starting with one of these is a flag or a count, not a value (`is_password`, `max_token`). */
const DESCRIPTIVE_FIRST_WORDS = new Set(["is", "has", "use", "min", "max", "num", "no", "show"]);

/** A public key or a key's id is meant to be shared. */
const PUBLIC_WORDS = new Set(["public", "pub", "publishable"]);

/** Types and modifiers read between a name and its `=` (`password: str =`, `String password =`, `var token string =`). */
const TYPE_WORDS = new Set([
  "string",
  "str",
  "char",
  "const",
  "var",
  "let",
  "val",
  "final",
  "static",
  "private",
  "public",
  "protected",
  "readonly",
  "bytes",
  "byte",
  "optional",
  "secretstr",
  "any",
  "unicode",
  "text",
  "constexpr",
]);

/** Values that stand for a credential rather than being one. */
const PLACEHOLDER_WORDS = new Set([
  "changeme",
  "change_me",
  "change-me",
  "changeit",
  "todo",
  "fixme",
  "tbd",
  "xxx",
  "replace",
  "replaceme",
  "replace_me",
  "example",
  "sample",
  "dummy",
  "fake",
  "test",
  "testing",
  "placeholder",
  "redacted",
  "hidden",
  "masked",
  "secret",
  "password",
  "passwd",
  "token",
  "apikey",
  "api_key",
  "api-key",
  "none",
  "null",
  "nil",
  "undefined",
  "true",
  "false",
  "bearer",
  "basic",
  "digest",
  "oauth",
  "oauth2",
  "jwt",
  "header",
  "query",
  "cookie",
  "string",
  "required",
  "optional",
  "env",
  "...",
]);

/** Placeholder shapes: `<your-key>`, `{{token}}`, `${VAR}`, `$VAR`, `%s`, `%(pw)s`, `{0}`, `your_api_key`, `xxxx`, `****`. */
function isPlaceholder(value: string): boolean {
  const v = value.trim();
  if (v === "") return true;
  const lower = v.toLowerCase();
  if (PLACEHOLDER_WORDS.has(lower)) return true;
  const first = v[0];
  const last = v[v.length - 1];
  if ((first === "<" && last === ">") || (first === "{" && last === "}")) return true;
  if (first === "[" && last === "]") return true;
  // `$VAR`, `${VAR}`, `$(cmd)`, `%s`, `%(pw)s`, `%VAR%`.
  if ((first === "$" || first === "%") && /^[$%][A-Za-z_{(]/.test(v)) return true;
  if (v.includes("${") || v.includes("{{") || v.includes("%(") || v.includes("%s")) return true;
  if (lower.startsWith("your") || lower.startsWith("my-") || lower.startsWith("my_")) return true;
  if (lower.startsWith("insert") || lower.startsWith("put-") || lower.startsWith("put_"))
    return true;
  if (/[-_ ]here$/.test(lower)) return true;
  if (lower.startsWith("env:") || lower.startsWith("vault:") || lower.startsWith("secret://"))
    return true;
  if (lower.startsWith("arn:aws:secretsmanager") || lower.startsWith("ssm:")) return true;
  // One character repeated (`xxxxxxxx`, `********`, `00000000`, `-----`).
  let same = true;
  for (let i = 1; i < v.length && same; i++) same = v[i] === first;
  if (same) return true;
  // `x`, `*` or `.` only (`xxx...`, `***-***`).
  let masks = true;
  for (let i = 0; i < v.length && masks; i++) masks = "xX*.-_ ".includes(v[i] as string);
  return masks;
}

/** Paths, URLs without credentials, header names and prose: not a secret's shape. */
function isNotSecretShaped(value: string, name: string): boolean {
  const v = value.trim();
  if (v.startsWith("/") || v.startsWith("./") || v.startsWith("../") || v.startsWith("~/"))
    return true;
  const scheme = v.indexOf("://");
  if (scheme > 0 && !v.includes("@")) return true;
  const bare = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  // `TOKEN = "token"`, `API_KEY = "api-key"`: the name of a field or a parameter.
  if (bare(v) === bare(name)) return true;
  const lower = v.toLowerCase();
  if (lower === "authorization" || (lower.startsWith("x-") && /^[a-z-]+$/.test(lower))) return true;
  // Prose ("Enter your password:"): three words or more.
  let words = 0;
  let inWord = false;
  for (const char of v) {
    const space = char === " " || char === "\t";
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words >= 3;
}

/** The words of a name: snake, kebab, dotted and camel case split, lower-cased. */
export function nameWords(name: string): string[] {
  const words: string[] = [];
  let word = "";
  const flush = () => {
    if (word) words.push(word.toLowerCase());
    word = "";
  };
  for (let i = 0; i < name.length; i++) {
    const c = name[i] as string;
    const code = name.charCodeAt(i);
    const upper = code >= 0x41 && code <= 0x5a;
    const lower = (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
    if (!upper && !lower) {
      flush();
      continue;
    }
    if (upper && word) {
      const prev = name.charCodeAt(i - 1);
      const prevLower = (prev >= 0x61 && prev <= 0x7a) || (prev >= 0x30 && prev <= 0x39);
      const next = name.charCodeAt(i + 1);
      const nextLower = next >= 0x61 && next <= 0x7a;
      // `apiKey` → api|Key; `APIKey` → API|Key.
      if (prevLower || nextLower) flush();
    }
    word += c;
  }
  flush();
  return words;
}

/** Whether a name says it holds a credential. */
export function isCredentialName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const last = words[words.length - 1] as string;
  if (DESCRIPTIVE_FIRST_WORDS.has(words[0] as string) && words.length > 1) return false;
  if (words.some((w) => PUBLIC_WORDS.has(w))) return false;
  if (last === "key") {
    // `api_key`, `secretKey`: the key itself, when qualified.
    return words.slice(0, -1).some((w) => KEY_QUALIFIERS.has(w) || CREDENTIAL_WORDS.has(w));
  }
  if (DESCRIPTIVE_LAST_WORDS.has(last)) return false;
  return words.some((w) => CREDENTIAL_WORDS.has(w));
}

function isNameChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f || // _
    code === 0x24 || // $
    code === 0x40 || // @
    code > 0x7f
  );
}

const QUOTES = "\"'`";

/** `//`, or `#` after a space and before one (Python, shell, Ruby, YAML; not C's `#define`, not JS's `#field`). */
function isCommentStart(line: string, i: number): boolean {
  const c = line[i];
  if (c === "/") return line[i + 1] === "/";
  if (c !== "#") return false;
  const before = i === 0 ? " " : line[i - 1];
  const after = line[i + 1] ?? " ";
  return (before === " " || before === "\t") && (after === " " || after === "\t");
}
/** Up to two of these before a quote: f-strings, raw and byte strings, C#'s `@` and `$`. */
const PREFIX_CHARS = "fFrRbBuU@$";
/** What may follow a literal that is a whole value: end of the statement, list or call. */
const VALUE_ENDS = ";,)}]#";
/** How far before a literal its name and operator are looked for. */
const LOOK_BACK = 160;

interface Literal {
  /** Index of the opening quote, and the first index after the closing one. */
  open: number;
  end: number;
  /** Prefix characters before the quote (`f`, `r`, `b`, `@`, `$`). */
  prefix: string;
  value: string;
}

/**
 * The closed literals of one line, left to right. An unclosed literal ends the line's
 * reading (the rest is inside it), so every character is looked at once.
 */
function literalsOf(line: string, work: Work): Literal[] {
  const out: Literal[] = [];
  let i = 0;
  while (i < line.length) {
    work.steps++;
    const quote = line[i] as string;
    if (!QUOTES.includes(quote)) {
      if (isCommentStart(line, i)) break;
      i++;
      continue;
    }
    let j = i + 1;
    let closed = false;
    while (j < line.length) {
      work.steps++;
      const c = line[j] as string;
      if (c === quote) {
        closed = true;
        break;
      }
      j += c === "\\" ? 2 : 1;
    }
    if (!closed) break;
    let start = i;
    while (start > 0 && i - start < 2 && PREFIX_CHARS.includes(line[start - 1] as string)) start--;
    // A prefix is one only when it does not end a name (`self.f"…"` is no f-string).
    if (start < i && start > 0 && isNameChar(line.charCodeAt(start - 1))) start = i;
    out.push({ open: i, end: j + 1, prefix: line.slice(start, i), value: line.slice(i + 1, j) });
    i = j + 1;
  }
  return out;
}

/**
 * The name a literal is assigned to, read back from `before` (the text between the
 * previous literal, or `LOOK_BACK` characters, and this one): `name =`, `name: type =`,
 * `name:`, `name =>`, `"name":` and `config["name"] =` (the name is the `adjacent`
 * literal, which ends where `before` begins). Undefined when the literal is not right
 * after an assignment operator: an argument, a comparison, a concatenation.
 */
function targetOf(before: string, adjacent: Literal | undefined, work: Work): string | undefined {
  let i = before.length - 1;
  const skipSpaces = () => {
    while (i >= 0 && (before[i] === " " || before[i] === "\t")) {
      work.steps++;
      i--;
    }
  };
  skipSpaces();
  const c = before[i];
  const p = before[i - 1];
  if (c === "=") {
    if (p === "=" || p === "!" || p === "<" || p === ">") return undefined; // `==`, `!=`, `<=`, `>=`
    i--;
    // `:=`, `?=`, `||=`, `??=`
    while (i >= 0 && (before[i] === ":" || before[i] === "?" || before[i] === "|")) {
      work.steps++;
      i--;
    }
  } else if (c === ">" && p === "=") {
    i -= 2; // `=>`
  } else if (c === ":" && p !== ":") {
    i--;
  } else if (c === "-" && p === "<") {
    i -= 2; // R's `<-`
  } else return undefined;
  skipSpaces();
  // `"api_key": "…"`, `'password' => '…'`: the key is the literal just before.
  if (i < 0) return adjacent?.value ? adjacent.value.slice(0, 64) : undefined;
  // `config["api_key"] = "…"`: the subscript's literal, then `]`.
  if (before[i] === "]") {
    if (i === 0 && adjacent?.value) return adjacent.value.slice(0, 64);
    return undefined;
  }
  // Identifiers back to anything else, skipping types and modifiers (`password: str`).
  for (let words = 0; words < 4 && i >= 0; words++) {
    const end = i + 1;
    while (i >= 0 && (isNameChar(before.charCodeAt(i)) || before[i] === "*" || before[i] === "&")) {
      work.steps++;
      i--;
    }
    const name = before.slice(i + 1, end).replace(/^[$@*&]+/, "");
    if (name === "") return undefined;
    if (!TYPE_WORDS.has(name.toLowerCase())) return name.slice(0, 64);
    skipSpaces();
    if (before[i] === ":") {
      i--;
      skipSpaces();
    }
  }
  return undefined;
}

/**
 * Whether the literal is the whole value: what follows is the end of the line, of the
 * statement or of the enclosing list or call, or a comment.
 */
function isWholeValue(line: string, end: number, work: Work): boolean {
  let i = end;
  while (i < line.length && (line[i] === " " || line[i] === "\t" || line[i] === "\r")) {
    work.steps++;
    i++;
  }
  if (i >= line.length) return true;
  const c = line[i] as string;
  return isCommentStart(line, i) || VALUE_ENDS.includes(c);
}

/** Formats with no code in them: nothing is assigned there. */
const DATA_FORMATS = new Set(["csv", "tsv", "numbers"]);

/** The hard-coded credentials of one file. */
export function findCredentials(block: InputBlock, work: Work = { steps: 0 }): CredentialHit[] {
  const hits: CredentialHit[] = [];
  if (DATA_FORMATS.has(block.language)) return hits;
  const lines = block.text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    let previousEnd = 0;
    let previous: Literal | undefined;
    for (const literal of literalsOf(line, work)) {
      const startsAt = literal.open - literal.prefix.length;
      const from = Math.max(previousEnd, startsAt - LOOK_BACK);
      const before = line.slice(from, startsAt);
      work.steps += before.length + literal.value.length;
      const adjacent = previous !== undefined && previousEnd === from ? previous : undefined;
      const name = targetOf(before, adjacent, work);
      previous = literal;
      previousEnd = literal.end;
      if (name === undefined || !isCredentialName(name)) continue;
      // Built from variables: interpolated or formatted.
      if (line[literal.open] === "`" && literal.value.includes("${")) continue;
      if (/[fF$]/.test(literal.prefix) && literal.value.includes("{")) continue;
      if (!isWholeValue(line, literal.end, work)) continue;
      if (isPlaceholder(literal.value) || isNotSecretShaped(literal.value, name)) continue;
      hits.push({
        file: block.name,
        line: n + 1,
        column: literal.open + 1,
        name,
        value: literal.value,
        literal: line.slice(literal.open, literal.end),
      });
    }
  }
  return hits;
}

/** The hits as the review's findings: high severity, the value masked. */
export function credentialFindings(hits: readonly CredentialHit[]): CodeFinding[] {
  return hits.map((hit) => ({
    file: hit.file,
    line: hit.line,
    column: hit.column,
    rule: CREDENTIAL_RULE,
    severity: "high",
    message: `Hard-coded credential assigned to \`${hit.name}\`: ${maskCredential(hit.value)}`,
    fix: "Treat it as leaked: revoke and rotate it, remove it from the code and its history, and read it from the environment or a secret manager at run time.",
    tool: "credential-check",
  }));
}
