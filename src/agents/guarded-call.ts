import { z } from "zod";
import { errorMessage } from "../secrets.ts";
import type { TaskResult } from "./types.ts";

/**
 * Calls into executor code (built in or a plugin's) as untrusted: under a time limit,
 * cut short by the worker's lifetime, and with what comes back checked against its
 * shape. A throw, a hang or a malformed answer becomes a value, never an escape.
 */

/** What `executeTask` must return; anything else is a malformed result, failed. */
export const TaskResultSchema = z.object({
  success: z.boolean(),
  output: z.string(),
  tokensUsed: z.number().nonnegative().default(0),
  model: z.string().default(""),
  latencyMs: z.number().nonnegative().default(0),
  error: z.string().optional(),
});

/** What `evaluateJob` must return; anything else counts as a failed evaluation. */
export const EvaluationSchema = z.object({
  canComplete: z.boolean(),
  confidence: z.number().min(0).max(1),
  bidAmountUsd: z.number().nonnegative(),
  estimatedTimeMinutes: z.number().nonnegative(),
  reasoning: z.string().default(""),
  noMatch: z.boolean().optional(),
});

export type Guarded<T> =
  | { kind: "ok"; value: T }
  /** `timeout`: the limit passed; `threw`: it threw; `malformed`: it answered the wrong shape. */
  | { kind: "failed"; reason: "timeout" | "threw" | "malformed"; detail: string }
  /** The worker is stopping: nothing to record. */
  | { kind: "interrupted" };

export async function guardedCall<T>(
  call: (signal: AbortSignal) => Promise<unknown>,
  schema: z.ZodType<T>,
  options: { limitMs: number; lifetime: AbortSignal },
): Promise<Guarded<T>> {
  const timeout = AbortSignal.timeout(options.limitMs);
  const signal = AbortSignal.any([timeout, options.lifetime]);
  let raw: unknown;
  try {
    raw = await Promise.race([call(signal), rejectOnAbort(signal)]);
  } catch (error) {
    if (options.lifetime.aborted) return { kind: "interrupted" };
    if (timeout.aborted) return { kind: "failed", reason: "timeout", detail: "" };
    return { kind: "failed", reason: "threw", detail: errorMessage(error) };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      kind: "failed",
      reason: "malformed",
      detail: `${issue?.path.join(".")}: ${issue?.message}`,
    };
  }
  return { kind: "ok", value: parsed.data };
}

export function failedResult(message: string): TaskResult {
  return {
    success: false,
    output: message,
    tokensUsed: 0,
    model: "",
    latencyMs: 0,
    error: message,
  };
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
