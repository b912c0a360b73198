import { z } from "zod";
import { RequestValidationError, type ValidationItem } from "./errors.ts";

/**
 * Zod fields that accept what pydantic (lax mode) accepts and fail with pydantic's
 * error types and messages, so a 422 here reads like the real service's.
 * A failing field raises a custom issue carrying the FastAPI `type` in `params`.
 */

type Ctx = z.core.$RefinementCtx<unknown>;

function fail(ctx: Ctx, input: unknown, type: string, msg: string, extra?: object): never {
  ctx.addIssue({ code: "custom", message: msg, params: { fastapi: type, input, ...extra } });
  return z.NEVER;
}

function missing(ctx: Ctx): never {
  return fail(ctx, null, "missing", "Field required");
}

const FLOAT_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const INT_TEXT = /^\s*[+-]?\d+\s*$/;
const TRUE_TEXT = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE_TEXT = new Set(["0", "off", "f", "false", "n", "no"]);

/** A required string (pydantic `str`: numbers are not strings). */
export const str = () =>
  z.unknown().transform((v, ctx): string => {
    if (v === undefined) return missing(ctx);
    if (typeof v !== "string") return fail(ctx, v, "string_type", "Input should be a valid string");
    return v;
  });

/** A required float; numeric strings are accepted, as in query strings. */
export const float = () =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined) return missing(ctx);
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string") {
      if (FLOAT_TEXT.test(v)) return Number(v);
      return fail(
        ctx,
        v,
        "float_parsing",
        "Input should be a valid number, unable to parse string as a number",
      );
    }
    return fail(ctx, v, "float_type", "Input should be a valid number");
  });

/** A required int; whole floats and integer strings are accepted. */
export const int = () =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined) return missing(ctx);
    if (typeof v === "number" && Number.isFinite(v)) {
      if (Number.isInteger(v)) return v;
      return fail(
        ctx,
        v,
        "int_from_float",
        "Input should be a valid integer, got a number with a fractional part",
      );
    }
    if (typeof v === "string") {
      if (INT_TEXT.test(v)) return Number.parseInt(v, 10);
      return fail(
        ctx,
        v,
        "int_parsing",
        "Input should be a valid integer, unable to parse string as an integer",
      );
    }
    return fail(ctx, v, "int_type", "Input should be a valid integer");
  });

/** A required bool; pydantic's true/false words and 0/1 are accepted. */
export const bool = () =>
  z.unknown().transform((v, ctx): boolean => {
    if (v === undefined) return missing(ctx);
    if (typeof v === "boolean") return v;
    if (v === 0 || v === 1) return v === 1;
    if (typeof v === "string") {
      const t = v.trim().toLowerCase();
      if (TRUE_TEXT.has(t)) return true;
      if (FALSE_TEXT.has(t)) return false;
      return fail(
        ctx,
        v,
        "bool_parsing",
        "Input should be a valid boolean, unable to interpret input",
      );
    }
    return fail(ctx, v, "bool_type", "Input should be a valid boolean");
  });

/** A required JSON object (pydantic `Dict[str, Any]`). */
export const dict = () =>
  z.unknown().transform((v, ctx): Record<string, unknown> => {
    if (v === undefined) return missing(ctx);
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      return fail(ctx, v, "dict_type", "Input should be a valid dictionary");
    }
    return v as Record<string, unknown>;
  });

/** A number within bounds (ge/le as pydantic's Field(ge=, le=)). */
export const boundedFloat = (ge: number, le?: number) =>
  float().transform((v, ctx): number => {
    if (v < ge) {
      return fail(ctx, v, "greater_than_equal", `Input should be greater than or equal to ${ge}`, {
        ctx: { ge },
      });
    }
    if (le !== undefined && v > le) {
      return fail(ctx, v, "less_than_equal", `Input should be less than or equal to ${le}`, {
        ctx: { le },
      });
    }
    return v;
  });

/** A required list whose items are checked by `item` (pydantic `List[...]`). */
export const list = <T extends z.ZodType>(item: T) =>
  z
    .unknown()
    .transform((v, ctx): unknown[] => {
      if (v === undefined) return missing(ctx);
      if (!Array.isArray(v)) return fail(ctx, v, "list_type", "Input should be a valid list");
      return v;
    })
    .pipe(z.array(item));

/** A required dict whose values are checked by `value` (pydantic `Dict[str, ...]`). */
export const record = <T extends z.ZodType>(value: T) => dict().pipe(z.record(z.string(), value));

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
 * Validates a JSON body given as raw text (the app parses bodies lazily, as FastAPI
 * does, so that routes without a body ignore whatever was sent).
 */
export function parseBody<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  let body: unknown = raw;
  if (typeof raw === "string") {
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
