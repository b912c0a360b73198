import { z } from "zod";

/**
 * Zod fields that accept what pydantic (lax mode) accepts and fail with pydantic's
 * error types and messages, so the embedded marketplace's 422 reads like the real
 * service's. A failing field raises a custom issue carrying the FastAPI `type` in
 * `params` (the marketplace turns it into a 422 item). Each field's INPUT type is what
 * a sender should send (a string, a number...), so the client's request types are the
 * input types of the same schemas the marketplace validates with; at run time any
 * input is read, as pydantic reads it.
 */

/** `schema` typed as reading `In`: what a client sends; the check itself reads anything. */
function typed<Out, In>(schema: z.ZodType<Out, unknown>): z.ZodType<Out, In> {
  return schema as unknown as z.ZodType<Out, In>;
}

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
  typed<string, string>(
    z.unknown().transform((v, ctx): string => {
      if (v === undefined) return missing(ctx);
      if (typeof v !== "string")
        return fail(ctx, v, "string_type", "Input should be a valid string");
      return v;
    }),
  );

/**
 * A required float; numeric strings are accepted, as in query strings. Unlike pydantic,
 * infinity is refused ("1e999" would be stored as Infinity and break every later read).
 */
export const float = () =>
  typed<number, number>(
    z.unknown().transform((v, ctx): number => {
      if (v === undefined) return missing(ctx);
      if (typeof v === "number") return Number.isFinite(v) ? v : notFinite(ctx, v);
      if (typeof v === "string") {
        if (FLOAT_TEXT.test(v)) {
          const n = Number(v);
          return Number.isFinite(n) ? n : notFinite(ctx, v);
        }
        return fail(
          ctx,
          v,
          "float_parsing",
          "Input should be a valid number, unable to parse string as a number",
        );
      }
      return fail(ctx, v, "float_type", "Input should be a valid number");
    }),
  );

/** pydantic's error for infinity and NaN where they are not allowed (`allow_inf_nan=False`). */
function notFinite(ctx: Ctx, v: unknown): never {
  return fail(ctx, v, "finite_number", "Input should be a finite number");
}

/** An integer past what a double holds exactly (the service's MongoDB refuses > 8 bytes too). */
function tooBig(ctx: Ctx, v: unknown): never {
  return fail(
    ctx,
    v,
    "int_parsing_size",
    "Unable to parse input string as an integer, exceeded maximum size",
  );
}

/** A required int; whole floats and integer strings are accepted, within ±(2^53 − 1). */
export const int = () =>
  typed<number, number>(
    z.unknown().transform((v, ctx): number => {
      if (v === undefined) return missing(ctx);
      if (typeof v === "number") {
        if (!Number.isFinite(v)) return notFinite(ctx, v);
        if (!Number.isInteger(v)) {
          return fail(
            ctx,
            v,
            "int_from_float",
            "Input should be a valid integer, got a number with a fractional part",
          );
        }
        return Number.isSafeInteger(v) ? v : tooBig(ctx, v);
      }
      if (typeof v === "string") {
        if (INT_TEXT.test(v)) {
          const n = Number.parseInt(v, 10);
          return Number.isSafeInteger(n) ? n : tooBig(ctx, v);
        }
        return fail(
          ctx,
          v,
          "int_parsing",
          "Input should be a valid integer, unable to parse string as an integer",
        );
      }
      return fail(ctx, v, "int_type", "Input should be a valid integer");
    }),
  );

/** A required bool; pydantic's true/false words and 0/1 are accepted. */
export const bool = () =>
  typed<boolean, boolean>(
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
    }),
  );

/** A required JSON object (pydantic `Dict[str, Any]`). */
export const dict = () =>
  typed<Record<string, unknown>, Record<string, unknown>>(
    z.unknown().transform((v, ctx): Record<string, unknown> => {
      if (v === undefined) return missing(ctx);
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        return fail(ctx, v, "dict_type", "Input should be a valid dictionary");
      }
      return v as Record<string, unknown>;
    }),
  );

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
  typed<z.output<T>[], z.input<T>[]>(
    z
      .unknown()
      .transform((v, ctx): unknown[] => {
        if (v === undefined) return missing(ctx);
        if (!Array.isArray(v)) return fail(ctx, v, "list_type", "Input should be a valid list");
        return v;
      })
      .pipe(z.array(item)),
  );

/** A required dict whose values are checked by `value` (pydantic `Dict[str, ...]`). */
export const record = <T extends z.ZodType>(value: T) =>
  typed<Record<string, z.output<T>>, Record<string, z.input<T>>>(
    dict().pipe(z.record(z.string(), value)),
  );
