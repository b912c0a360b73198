/**
 * The regular expressions that once ran over job text, as they were before linear
 * scanners replaced them (src/agents/tools/inputs.ts, schema-samples.ts, series.ts,
 * code-findings.ts, code-review.ts). The property tests check that each scanner finds
 * what its pattern found; the regex-budget test checks that V8's own count still
 * condemns the superlinear ones.
 */

export const FENCE_REGEX =
  /^ {0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)^ {0,3}\1[`~]*[ \t]*$/gm;
export const OPENAPI_REGEX = /^\s*\{?\s*["']?(openapi|swagger)["']?\s*:/m;
export const READING_REGEX = /\b([A-Za-z_][\w.]*)[=:]\s*(-?\d+(?:\.\d+)?)(?:ms|s|%)?\b/g;
export const CITED_FILE_REGEX = /\b([\w./-]+\.[A-Za-z]{1,5}):(\d+)(?:-(\d+))?\b/g;
export const EMAIL_REGEX = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const STRING_LITERAL_REGEX =
  /([fFrRbBuU$@]{0,2})("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)/g;
export const SQL_REGEX =
  /\b(select\s[\s\S]*\bfrom\b|insert\s+into\b|update\s+[\w."`[\]]+\s+set\b|delete\s+from\b|\bwhere\s+[\w."`]+\s*(=|<|>|like\b|in\b))/i;

export const REPLACED_PATTERNS = {
  FENCE_REGEX,
  OPENAPI_REGEX,
  READING_REGEX,
  CITED_FILE_REGEX,
  EMAIL_REGEX,
  STRING_LITERAL_REGEX,
  SQL_REGEX,
};
