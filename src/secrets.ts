/**
 * Secret scrubbing. Every secret the runner knows (API keys, passwords in URIs) is
 * registered here once; `scrub` removes them from any text before it is printed,
 * served or thrown across a boundary.
 */
const secrets = new Set<string>();
/** Length of the prefix secrets are indexed by; also the shortest secret. */
const PREFIX = 4;
/** Secrets by their first PREFIX characters, longest first within a prefix. */
const byPrefix = new Map<string, string[]>();
/**
 * Up to this many secrets, text is searched for each in turn; beyond it (a derived key
 * per agent: 10,000 agents hold 20,000), text is scanned once against the prefix index,
 * since a search per secret made every log line cost the number of agents.
 */
const FEW = 16;

/** Registers a secret value; short values are ignored so that scrubbing stays meaningful. */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < PREFIX || secrets.has(value)) return;
  secrets.add(value);
  const key = value.slice(0, PREFIX);
  const bucket = byPrefix.get(key) ?? [];
  bucket.push(value);
  bucket.sort((a, b) => b.length - a.length);
  byPrefix.set(key, bucket);
}

/** Registers the password of a connection URI (mongodb://USER:PASSWORD@HOST/...). */
export function registerUriSecrets(uri: string | undefined): void {
  if (!uri) return;
  const match = /^[a-z+]+:\/\/([^:@/]+):([^@/]+)@/i.exec(uri);
  if (match?.[2]) {
    registerSecret(match[2]);
    registerSecret(decodeURIComponent(match[2]));
  }
}

const URI_PASSWORD = /([a-z+]+:\/\/[^:@/\s]+:)([^@/\s]+)(@)/gi;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/** Returns text with every registered secret, URI password and bearer token replaced. */
export function scrub(text: string): string {
  const out = secrets.size <= FEW ? eachSecret(text) : indexScan(text);
  return out.replace(URI_PASSWORD, "$1[REDACTED]$3").replace(BEARER, "$1[REDACTED]");
}

function eachSecret(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("[REDACTED]");
  }
  return out;
}

/** One pass over the text: at each position, the longest secret starting there. */
function indexScan(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i + PREFIX <= text.length; ) {
    const hit = byPrefix.get(text.slice(i, i + PREFIX))?.find((s) => text.startsWith(s, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    out += `${text.slice(from, i)}[REDACTED]`;
    i += hit.length;
    from = i;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A URI fit for logs: the password replaced. */
export function redactUri(uri: string): string {
  return uri.replace(URI_PASSWORD, "$1[REDACTED]$3");
}

/** An error's message, scrubbed: what may be logged or shown of an unknown error. */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return scrub(message);
}
