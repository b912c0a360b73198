import type { Dispatcher } from "undici";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, sleep as defaultSleep, parseRetryAfter } from "../retry.ts";
import { registerSecret, scrub } from "../secrets.ts";
import { tracingOn } from "../tracing/tracing.ts";
import type { AttemptFailure } from "./errors.ts";
import { dispatcherFetch } from "./fetch.ts";
import {
  type Completion,
  type CompletionRequest,
  type LlmClient,
  LlmError,
  LlmNotConfiguredError,
  type TokenUsage,
} from "./types.ts";

/** The least time worth giving an attempt at the end of the wall-time budget. */
const MIN_ATTEMPT_MS = 250;

export interface LlmClientOptions {
  /** FIREWORKS_API_KEY; undefined leaves the client unconfigured. */
  apiKey: string | undefined;
  /** OpenAI-compatible base URL, e.g. https://api.fireworks.ai/inference/v1. */
  baseUrl: string;
  /** The shared undici pool (src/pool.ts). */
  dispatcher: Dispatcher;
  /** Per-attempt timeout; default 120 s. */
  timeoutMs?: number;
  /** Attempts per completion, retries included; default 4. */
  maxAttempts?: number;
  /** Wall-time budget for all attempts and waits together; default 300 s. */
  maxTotalMs?: number;
  /** Backoff: ceiling of the first wait (default 500 ms) and of any wait (default 20 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest `Retry-After` honoured as asked; longer asks wait this long. Default 60 s. */
  maxRetryAfterMs?: number;
  metrics?: Metrics;
  /** USD per million tokens, by model. */
  prices?: Record<string, number>;
  logger?: Logger;
  /** Injected by tests so that no real time passes between attempts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** Provider name: only labels the SDK's requests, but Fireworks is the expected service. */
function providerName(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname.includes("fireworks") ? "fireworks" : "openai-compatible";
  } catch {
    return "openai-compatible";
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * The LLM client every executor shares: one chat completion per call through the AI
 * SDK, over the shared pool. Retries are ours, not the SDK's (it runs with
 * maxRetries 0), so that attempts, waits and the wall-time budget are counted in one
 * place and every failure ends as an LlmError whose message is safe to show.
 */
export function createLlmClient(options: LlmClientOptions): LlmClient {
  const { apiKey } = options;
  if (apiKey === undefined || apiKey === "") return { configured: false, complete: notConfigured };
  registerSecret(apiKey);

  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const maxTotalMs = options.maxTotalMs ?? 300_000;
  const backoff = {
    baseMs: options.baseDelayMs ?? 500,
    capMs: options.maxDelayMs ?? 20_000,
    random: options.random,
  };
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const sleep = options.sleep ?? defaultSleep;
  const { metrics, logger } = options;
  // The AI SDK is large: it is loaded at the first LLM call, not at start-up (bench/RESULTS.md).
  let sdk: ReturnType<typeof loadSdk> | undefined;
  const sdkReady = () => {
    sdk ??= loadSdk(options, apiKey);
    sdk.catch(() => {
      sdk = undefined; // a failed load is tried again at the next call
    });
    return sdk;
  };

  const account = (model: string, usage: TokenUsage) => {
    if (!metrics) return;
    metrics.llmTokens.inc({ model, kind: "input" }, usage.inputTokens);
    metrics.llmTokens.inc({ model, kind: "output" }, usage.outputTokens);
    const price = options.prices?.[model];
    if (price !== undefined && usage.totalTokens > 0) {
      metrics.llmCostUsd.inc({ model }, (usage.totalTokens / 1e6) * price);
    }
  };

  async function complete(request: CompletionRequest): Promise<Completion> {
    const started = performance.now();
    const deadline = started + maxTotalMs;
    const { model, signal } = request;
    const aborted = (attempts: number, cause: unknown) =>
      new LlmError(`LLM call aborted after ${attempts} attempt(s)`, {
        kind: "aborted",
        attempts,
        retryable: false,
        cause,
      });

    const { generateText, provider, classifyFailure, emptyCompletion } = await sdkReady();
    if (tracingOn()) await aiTelemetryRegistered();
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted(attempt - 1, signal.reason);
      const attemptStarted = performance.now();
      // AbortSignal.timeout wants a whole number of milliseconds.
      const attemptTimeoutMs = Math.max(
        1,
        Math.ceil(Math.min(timeoutMs, deadline - attemptStarted)),
      );
      const timeout = AbortSignal.timeout(attemptTimeoutMs);
      let answered = false;
      const observe = () =>
        metrics?.llmRequestDuration.observe({ model }, (performance.now() - attemptStarted) / 1000);
      let failure: AttemptFailure;
      try {
        const result = await generateText({
          model: provider.chatModel(model),
          system: request.system,
          prompt: request.prompt,
          temperature: request.temperature,
          maxOutputTokens: request.maxTokens,
          maxRetries: 0,
          abortSignal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          // Tracing on: the AI SDK's own GenAI spans (model, token usage), without the
          // prompt or the answer (customer data, and the size of a whole job).
          ...(tracingOn() ? { telemetry: LLM_TELEMETRY } : {}),
        });
        answered = true;
        observe();
        if (result.text.trim() === "") throw emptyCompletion();
        const input = result.usage.inputTokens ?? 0;
        const output = result.usage.outputTokens ?? 0;
        const usage = {
          inputTokens: input,
          outputTokens: output,
          totalTokens: result.usage.totalTokens ?? input + output,
        };
        metrics?.llmRequests.inc({ model, outcome: "ok" });
        account(model, usage);
        const latencyMs = Math.round(performance.now() - started);
        logger?.debug({ model, attempts: attempt, latencyMs, ...usage }, "LLM completion");
        return {
          text: result.text,
          model: result.response.modelId || model,
          usage,
          latencyMs,
          attempts: attempt,
        };
      } catch (error) {
        if (signal?.aborted) {
          metrics?.llmRequests.inc({ model, outcome: "error" });
          throw aborted(attempt, signal.reason);
        }
        failure = classifyFailure(error, {
          timedOut: timeout.aborted,
          timeoutMs: attemptTimeoutMs,
        });
        if (!answered) observe();
      }

      const giveUp = (why: string) => {
        metrics?.llmRequests.inc({ model, outcome: "error" });
        const message = scrub(`${failure.message}${why}`);
        logger?.warn({ model, attempts: attempt, problem: message }, "LLM call failed");
        return new LlmError(message, {
          kind: failure.kind,
          attempts: attempt,
          retryable: failure.retryable,
          cause: safeCause(failure.cause),
        });
      };
      if (!failure.retryable) throw giveUp("");
      if (attempt >= maxAttempts) throw giveUp(`; gave up after ${attempt} attempts`);

      const asked =
        failure.retryAfter === undefined ? undefined : parseRetryAfter(failure.retryAfter);
      const delayMs =
        asked === undefined ? backoffDelay(attempt, backoff) : Math.min(asked, maxRetryAfterMs);
      // An attempt squeezed into the last sliver of the budget could only time out, and
      // its "timed out" would hide the real reason; give up with the real one instead.
      const minAttemptMs = Math.min(timeoutMs, MIN_ATTEMPT_MS);
      if (performance.now() + delayMs + minAttemptMs >= deadline) {
        throw giveUp(
          `; gave up after ${attempt} attempts (wall-time budget of ${seconds(maxTotalMs)} spent)`,
        );
      }
      metrics?.llmRequests.inc({ model, outcome: "retry" });
      logger?.warn(
        { model, attempt, delayMs: Math.round(delayMs), problem: scrub(failure.message) },
        "LLM call failed, retrying",
      );
      try {
        await sleep(delayMs, signal);
      } catch (error) {
        throw aborted(attempt, error);
      }
    }
  }

  return { configured: true, complete };
}

/** What the LLM spans record: the GenAI semantic conventions, never the text. */
const LLM_TELEMETRY = {
  functionId: "bazaar-runner.complete",
  recordInputs: false,
  recordOutputs: false,
} as const;

let aiTelemetry: Promise<void> | undefined;

/**
 * Registers the AI SDK's OpenTelemetry integration once (tracing on only): its spans go
 * to the global tracer provider, under the active span (the job's execution).
 */
function aiTelemetryRegistered(): Promise<void> {
  aiTelemetry ??= Promise.all([import("ai"), import("@ai-sdk/otel")]).then(
    ([{ registerTelemetry }, { OpenTelemetry }]) => registerTelemetry(new OpenTelemetry()),
  );
  return aiTelemetry;
}

async function loadSdk(options: LlmClientOptions, apiKey: string) {
  const [{ generateText }, { createOpenAICompatible }, errors] = await Promise.all([
    import("ai"),
    import("@ai-sdk/openai-compatible"),
    import("./errors.ts"),
  ]);
  const provider = createOpenAICompatible({
    name: providerName(options.baseUrl),
    baseURL: options.baseUrl.replace(/\/+$/, ""),
    apiKey,
    fetch: dispatcherFetch(options.dispatcher),
  });
  return {
    generateText,
    provider,
    classifyFailure: errors.classifyFailure,
    emptyCompletion: errors.emptyCompletion,
  };
}

/**
 * The SDK's error carries the server's raw answer, which a misbehaving server may fill
 * with the key it was sent; keep only its scrubbed name and message.
 */
function safeCause(cause: unknown): Error | undefined {
  if (cause === undefined) return undefined;
  const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return new Error(scrub(text));
}

async function notConfigured(): Promise<Completion> {
  throw new LlmNotConfiguredError();
}
