/**
 * Secret scrubbing. Every secret the runner knows (API keys, passwords in URIs) is
 * registered here once; `scrub` removes them from any text before it is printed,
 * served or thrown across a boundary.
 */
const secrets = new Set<string>();

/** Registers a secret value; short values are ignored so that scrubbing stays meaningful. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
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
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("[REDACTED]");
  }
  return out.replace(URI_PASSWORD, "$1[REDACTED]$3").replace(BEARER, "$1[REDACTED]");
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
