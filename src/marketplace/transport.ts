import { type Dispatcher, type FormData, request } from "undici";
import type { z } from "zod";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, parseRetryAfter, sleep } from "../retry.ts";
import { errorMessage } from "../secrets.ts";
import { MarketplaceError } from "./errors.ts";

export interface TransportOptions {
  baseUrl: string;
  dispatcher: Dispatcher;
  metrics?: Metrics;
  logger?: Logger;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Attempts for retryable failures (connection errors, 5xx, 429). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Largest body read from the service; more is an invalid response. */
  maxBodyBytes?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface CallOptions<T> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path with values filled in. */
  path: string;
  /** Path template for metrics and messages, e.g. `POST /api/jobs/:id/bids`. */
  route: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** A multipart body (file uploads); undici sets its content type. */
  form?: FormData;
  /** The answer is the body as text, not JSON (file downloads); `schema` checks the string. */
  text?: boolean;
  schema: z.ZodType<T>;
  /** Overrides the transport's attempts (1 = never retry, e.g. for non-idempotent bids). */
  maxAttempts?: number;
  /**
   * Attempts while the service answers 429 (waiting out each as it asks), when that
   * should differ from `maxAttempts`: registration waits out a per-owner cooldown
   * many times, but an unreachable service should fail it fast.
   */
  rateLimitAttempts?: number;
  signal?: AbortSignal;
}

const REGISTRATION_WAIT = /wait (\d+(?:\.\d+)?) seconds?/i;

/**
 * HTTP to the marketplace: one request, JSON in and out, retried with backoff and
 * jitter where retrying can help, the answer checked against its schema. Knows
 * nothing of jobs or agents; the client on top does.
 */
export class MarketplaceTransport {
  readonly baseUrl: string;
  readonly #dispatcher: Dispatcher;
  readonly #metrics: Metrics | undefined;
  readonly #logger: Logger | undefined;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxBodyBytes: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#dispatcher = options.dispatcher;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 15_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.#sleep = options.sleep ?? sleep;
  }

  async call<T>(options: CallOptions<T>): Promise<T> {
    const maxAttempts = options.maxAttempts ?? this.#maxAttempts;
    const rateLimitAttempts = options.rateLimitAttempts ?? maxAttempts;
    for (let attempt = 1; ; attempt++) {
      let failure: MarketplaceError;
      let waitMs: number | undefined;
      try {
        return await this.#once(options, attempt);
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        failure = error.error;
        waitMs = error.retryAfterMs;
        const limit = failure.status === 429 ? rateLimitAttempts : maxAttempts;
        if (!error.retryable || attempt >= limit || options.signal?.aborted) throw failure;
      }
      // A server may ask for longer than is useful; past a minute the caller's next poll retries anyway.
      const delay =
        waitMs !== undefined
          ? Math.min(waitMs, 60_000)
          : backoffDelay(attempt, { baseMs: this.#baseDelayMs, capMs: this.#maxDelayMs });
      this.#logger?.debug(
        { route: options.route, attempt, delayMs: Math.round(delay), problem: failure.message },
        "marketplace call failed, retrying",
      );
      await this.#sleep(delay, options.signal);
    }
  }

  async #once<T>(options: CallOptions<T>, attempt: number): Promise<T> {
    const url = new URL(this.baseUrl + options.path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const started = performance.now();
    const signal = options.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(this.#timeoutMs)])
      : AbortSignal.timeout(this.#timeoutMs);
    const fail = (
      message: string,
      fields: { kind: MarketplaceError["kind"]; status?: number; detail?: string; cause?: unknown },
      retry: { retryable: boolean; retryAfterMs?: number },
    ) => {
      // An error status by its number; a 200 with an unreadable body by its kind, so
      // that it does not count as a success.
      this.#count(
        options.route,
        fields.kind === "http" && fields.status !== undefined ? String(fields.status) : fields.kind,
        started,
      );
      return new AttemptFailure(
        new MarketplaceError(`${options.route}: ${message}`, {
          ...fields,
          route: options.route,
          attempts: attempt,
        }),
        retry.retryable,
        retry.retryAfterMs,
      );
    };

    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const response = await request(url, {
        dispatcher: this.#dispatcher,
        method: options.method,
        headers:
          options.json === undefined
            ? { accept: "application/json" }
            : { accept: "application/json", "content-type": "application/json" },
        body:
          options.form ?? (options.json === undefined ? undefined : JSON.stringify(options.json)),
        signal,
      });
      status = response.statusCode;
      headers = response.headers;
      text = await readLimited(response.body, this.#maxBodyBytes);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const timedOut = signal.aborted;
      if (error instanceof BodyTooLarge) {
        throw fail(
          `answer larger than ${this.#maxBodyBytes} bytes`,
          { kind: "invalid-response" },
          { retryable: false },
        );
      }
      throw fail(
        timedOut
          ? `no answer within ${this.#timeoutMs} ms`
          : `cannot reach ${this.baseUrl} (${errorMessage(error)})`,
        { kind: timedOut ? "timeout" : "network", cause: error },
        { retryable: true },
      );
    }

    if (status >= 400) {
      const detail = parseDetail(text);
      const retryable = status === 429 || status >= 500;
      let retryAfterMs: number | undefined;
      if (status === 429) {
        const header = headers["retry-after"];
        retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
        const named = detail ? REGISTRATION_WAIT.exec(detail) : null;
        // The registration cooldown names its wait in the message; add a little slack.
        if (retryAfterMs === undefined && named?.[1]) retryAfterMs = Number(named[1]) * 1000 + 250;
      }
      throw fail(
        `answered ${status}${detail ? `: ${truncate(detail, 300)}` : ""}`,
        { kind: "http", status, detail },
        { retryable, retryAfterMs },
      );
    }

    let body: unknown;
    try {
      body = options.text ? text : text === "" ? null : JSON.parse(text);
    } catch (error) {
      throw fail(
        `answered ${status} with a body that is not JSON`,
        { kind: "invalid-response", status, cause: error },
        { retryable: true },
      );
    }
    const parsed = options.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw fail(
        `answer does not match the contract (${issue?.path.join(".") || "body"}: ${issue?.message})`,
        { kind: "invalid-response", status },
        { retryable: false },
      );
    }
    this.#count(options.route, String(status), started);
    return parsed.data;
  }

  #count(route: string, status: string, started: number): void {
    if (!this.#metrics) return;
    this.#metrics.marketplaceRequests.inc({ route, status });
    this.#metrics.marketplaceRequestDuration.observe(
      { route },
      (performance.now() - started) / 1000,
    );
  }
}

class AttemptFailure extends Error {
  readonly error: MarketplaceError;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(error: MarketplaceError, retryable: boolean, retryAfterMs: number | undefined) {
    super(error.message);
    this.error = error;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

class BodyTooLarge extends Error {}

async function readLimited(
  body: AsyncIterable<Uint8Array> & { destroy(): void },
  limit: number,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      body.destroy();
      throw new BodyTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** FastAPI errors are `{"detail": "..."}` or `{"detail": [{loc, msg, type}]}`. */
function parseDetail(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === "object" && "detail" in body) {
      const detail = (body as { detail: unknown }).detail;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail)) {
        return detail
          .map((item: unknown) => {
            const entry = item as { loc?: unknown[]; msg?: string };
            return `${(entry.loc ?? []).join(".")}: ${entry.msg ?? "invalid"}`;
          })
          .join("; ");
      }
    }
  } catch {
    // not JSON: a proxy's HTML page or a bare "Internal Server Error"
  }
  const plain = text
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return plain ? truncate(plain, 200) : undefined;
}

const truncate = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)}…` : text;
