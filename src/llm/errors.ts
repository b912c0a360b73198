import {
  APICallError,
  EmptyResponseBodyError,
  InvalidResponseDataError,
  JSONParseError,
  NoContentGeneratedError,
  TypeValidationError,
} from "ai";
import { BazaarRunnerError } from "../errors.ts";
import type { LlmFailureKind } from "./types.ts";

/** Why one attempt failed, in words safe to show once scrubbed, and whether to try again. */
export interface AttemptFailure {
  kind: LlmFailureKind;
  message: string;
  retryable: boolean;
  /** The answer's `Retry-After` header, when it had one. */
  retryAfter?: string;
  cause?: unknown;
}

/** Thrown inside an attempt when the completion came back empty. */
class EmptyCompletion extends BazaarRunnerError {
  override name = "EmptyCompletion";
}

export function emptyCompletion(): Error {
  return new EmptyCompletion("BR_ERR_LLM_UNAVAILABLE", "LLM answered an empty completion");
}

const MAX_DETAIL = 200;

/** The first line of a server's own message, short: enough to act on, never a page of HTML. */
function detail(text: string | undefined): string {
  const line = (text ?? "").split("\n")[0]?.trim() ?? "";
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL)}…` : line;
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/**
 * Sorts an attempt's error into what the retry loop needs. 429, 408, 5xx, network
 * errors, timeouts, malformed bodies and empty completions are worth another attempt;
 * other 4xx (a bad key, a bad request, an unknown model) are not.
 */
export function classifyFailure(
  error: unknown,
  context: { timedOut: boolean; timeoutMs: number },
): AttemptFailure {
  if (context.timedOut) {
    const seconds = Math.round(context.timeoutMs / 100) / 10;
    return {
      kind: "timeout",
      message: `LLM request timed out after ${seconds} s`,
      retryable: true,
      cause: error,
    };
  }
  if (error instanceof EmptyCompletion || NoContentGeneratedError.isInstance(error)) {
    return {
      kind: "empty",
      message: "LLM answered an empty completion",
      retryable: true,
      cause: error,
    };
  }
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    if (status === undefined) {
      const reason = detail(error.message.replace(/^Cannot connect to API:\s*/i, ""));
      return {
        kind: "unreachable",
        message: `LLM unreachable: ${reason}`,
        retryable: true,
        cause: error,
      };
    }
    if (status >= 200 && status < 300) {
      const shape = TypeValidationError.isInstance(error.cause);
      return {
        kind: "malformed",
        message: shape
          ? "LLM answered JSON that is not a chat completion"
          : "LLM answered malformed JSON",
        retryable: true,
        cause: error,
      };
    }
    const text = detail(error.message);
    const message = `LLM answered ${status}${text ? `: ${text}` : ""}`;
    const retryable = status === 429 || status === 408 || status >= 500;
    const retryAfter = header(error.responseHeaders, "retry-after");
    return {
      kind: "http",
      message,
      retryable,
      ...(retryAfter === undefined ? {} : { retryAfter }),
      cause: error,
    };
  }
  if (JSONParseError.isInstance(error)) {
    return {
      kind: "malformed",
      message: "LLM answered malformed JSON",
      retryable: true,
      cause: error,
    };
  }
  if (EmptyResponseBodyError.isInstance(error) || InvalidResponseDataError.isInstance(error)) {
    return {
      kind: "malformed",
      message: "LLM answered an unreadable body",
      retryable: true,
      cause: error,
    };
  }
  const text = detail(error instanceof Error ? error.message : String(error));
  return { kind: "other", message: `LLM call failed: ${text}`, retryable: false, cause: error };
}
