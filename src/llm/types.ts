import { BazaarRunnerError, type ErrorCode } from "../errors.ts";

/** What an executor asks of the LLM: one chat completion. */
export interface CompletionRequest {
  model: string;
  /** The agent's system prompt. Job text never goes here. */
  system: string;
  /** The user message: the customer's task, clearly delimited. */
  prompt: string;
  temperature: number;
  maxTokens: number;
  /** Aborts the call and its retries (job deadline, shutdown). */
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

export interface Completion {
  text: string;
  model: string;
  usage: TokenUsage;
  latencyMs: number;
  /** Attempts it took, retries included. */
  attempts: number;
}

/** The shared LLM client every executor uses. */
export interface LlmClient {
  /** False when no API key is configured: executors answer with a failed result. */
  readonly configured: boolean;
  complete(request: CompletionRequest): Promise<Completion>;
}

/** Raised by `complete` when no LLM is configured. */
export class LlmNotConfiguredError extends BazaarRunnerError {
  override name = "LlmNotConfiguredError";
  constructor() {
    super(
      "BR_ERR_LLM_NOT_CONFIGURED",
      "No LLM is configured: set FIREWORKS_API_KEY (and LLM_BASE_URL for a non-Fireworks server)",
    );
  }
}

/** What went wrong with a completion, for callers that act on it (doctor, tests). */
export type LlmFailureKind =
  | "timeout"
  | "empty" // a 200 whose text is empty
  | "unreachable"
  | "malformed" // a 200 whose body is not a chat completion
  | "http" // an error status
  | "aborted"
  | "other";

/** The code of a failed completion: its kind, and whether its last attempt was worth retrying. */
export function llmErrorCode(kind: LlmFailureKind, retryable: boolean): ErrorCode {
  if (kind === "aborted") return "BR_ERR_LLM_ABORTED";
  return retryable ? "BR_ERR_LLM_UNAVAILABLE" : "BR_ERR_LLM_REFUSED";
}

/**
 * A completion that failed after its retry budget; the message is safe to show.
 * `retryable` (from its code) says whether its last failure was worth another try.
 */
export class LlmError extends BazaarRunnerError {
  override name = "LlmError";
  readonly kind: LlmFailureKind;
  readonly attempts: number;
  constructor(
    message: string,
    options: { kind: LlmFailureKind; attempts: number; retryable: boolean; cause?: unknown },
  ) {
    super(llmErrorCode(options.kind, options.retryable), message, { cause: options.cause });
    this.kind = options.kind;
    this.attempts = options.attempts;
  }
}
