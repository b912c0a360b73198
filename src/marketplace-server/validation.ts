import type { z } from "zod";
import { RequestValidationError, type ValidationItem } from "./errors.ts";

/**
 * Requests checked as FastAPI checks them: a failure is a 422 whose items read like the
 * real service's. The fields (pydantic's lax `str`, `float`...) and the request schemas
 * are in src/contract (fields.ts, requests.ts), shared with the client.
 */

type Source = "body" | "query";

function itemFor(issue: z.core.$ZodIssue, source: Source, root: unknown): ValidationItem {
  const loc: (string | number)[] = [
    source,
    ...issue.path.map((p) => (typeof p === "number" ? p : String(p))),
  ];
  const params =
    issue.code === "custom" ? (issue.params as Record<string, unknown> | undefined) : undefined;
  if (params && typeof params.fastapi === "string") {
    const item: ValidationItem = {
      type: params.fastapi,
      loc,
      msg: issue.message,
      input:
        params.fastapi === "missing" && source === "body"
          ? parentOf(root, issue.path)
          : params.input,
    };
    if (params.ctx && typeof params.ctx === "object")
      item.ctx = params.ctx as Record<string, unknown>;
    return item;
  }
  // Issues from plain zod schemas (should be rare: the fields above cover the API).
  const input = "input" in issue ? issue.input : undefined;
  if (issue.code === "invalid_type" && input === undefined) {
    return {
      type: "missing",
      loc,
      msg: "Field required",
      input: source === "body" ? parentOf(root, issue.path) : null,
    };
  }
  return { type: "value_error", loc, msg: issue.message, input: input ?? null };
}

function parentOf(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (node && typeof node === "object") node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node ?? null;
}

/** Validates a query string object; a failure throws the FastAPI-style 422. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.output<T> {
  // A repeated parameter counts once, with its last value, as in FastAPI.
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query ?? {})) {
    flat[key] = Array.isArray(value) ? value.at(-1) : value;
  }
  const result = schema.safeParse(flat, { reportInput: true });
  if (result.success) return result.data;
  throw new RequestValidationError(result.error.issues.map((i) => itemFor(i, "query", query)));
}

/**
 * A body sent with a content type other than JSON. FastAPI does not parse it: the model
 * then fails on the raw text (422), so a cross-site "simple" request (text/plain or a
 * form) cannot post a job or change an agent.
 */
export class NonJsonBody {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Whether a content type is JSON to FastAPI: none, `application/json` or `application/*+json`. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return true;
  const type = (header.split(";")[0] ?? "").trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/**
 * Validates a JSON body given as raw text (the app parses bodies lazily, as FastAPI
 * does, so that routes without a body ignore whatever was sent).
 */
export function parseBody<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  let body: unknown = raw;
  if (raw instanceof NonJsonBody) body = raw.text.length > 0 ? raw.text : undefined;
  else if (typeof raw === "string") {
    if (raw.trim() === "") body = undefined;
    else {
      try {
        body = JSON.parse(raw);
      } catch (err) {
        throw new RequestValidationError([
          {
            type: "json_invalid",
            loc: ["body", 0],
            msg: "JSON decode error",
            input: {},
            ctx: { error: err instanceof Error ? err.message : "Invalid JSON" },
          },
        ]);
      }
    }
  }
  if (body === undefined || body === null) {
    throw new RequestValidationError([
      { type: "missing", loc: ["body"], msg: "Field required", input: null },
    ]);
  }
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new RequestValidationError([
      {
        type: "model_attributes_type",
        loc: ["body"],
        msg: "Input should be a valid dictionary or object to extract fields from",
        input: body,
      },
    ]);
  }
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  throw new RequestValidationError(result.error.issues.map((i) => itemFor(i, "body", body)));
}
