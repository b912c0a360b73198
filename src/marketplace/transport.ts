import type { Dispatcher, FormData } from "undici";
import type { z } from "zod";
import { type Method, routeLabel } from "../contract/routes.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, parseRetryAfter, sleep } from "../retry.ts";
import { errorMessage } from "../secrets.ts";
import { failSpan, startClientSpan } from "../tracing/tracing.ts";
import { BodyTooLarge, dispatchForText, type RawAnswer } from "./dispatch.ts";
import { type BodySink, dispatchToSink, SinkFailed } from "./dispatch-sink.ts";
import { type MarketplaceCode, MarketplaceError, type MarketplaceErrorKind } from "./errors.ts";

export interface TransportOptions {
  baseUrl: string;
  dispatcher: Dispatcher;
  metrics?: Metrics;
  logger?: Logger;
  /**
   * Per attempt: the answer's headers, then each stretch of its body, within this
   * (default 15 s). Connecting has the dispatcher's own limit.
   */
  timeoutMs?: number;
  /** Attempts for retryable failures (connection errors, 5xx, 429). */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Largest body read from the service; more is an invalid response. */
  maxBodyBytes?: number;
  /**
   * Largest body streamed into a call's `sink` (job listings): what the sink keeps is
   * bounded by the sink, so this only stops an endless answer (default 2 GiB, above
   * 100 jobs of 16 MB, MongoDB's largest document).
   */
  maxStreamedBytes?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A method and a path template: `POST /api/jobs/:job_id/bids` (src/contract/routes.ts). */
export type Route = `${Method} /${string}`;

/** The `:name` segments of a route template. */
export type RouteParams<R extends string> = R extends `${string}:${infer Name}/${infer Rest}`
  ? Name | RouteParams<`/${Rest}`>
  : R extends `${string}:${infer Name}`
    ? Name
    : never;

/** One call, whatever its route's parameters. */
interface CallBase<T> {
  /**
   * The path is filled in from `params`; metrics labels and messages name the call by
   * its short form (`routeLabel`: `POST /api/jobs/:id/bids`).
   */
  route: Route;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** A multipart body (file uploads); undici sets its content type. */
  form?: FormData;
  /** The answer is the body as text, not JSON (file downloads); `schema` checks the string. */
  text?: boolean;
  /**
   * Reads a successful answer's body as it arrives (a new sink per attempt); `schema`
   * checks what its `end()` returns. For answers too large to hold whole (job listings).
   */
  sink?: () => BodySink;
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
  /** A session token, sent as `Authorization: Bearer …` (never logged: scrub knows bearers). */
  token?: string;
}

/** A call: `params` names a value for each `:name` of the route, and only those. */
export type CallOptions<T, R extends Route> = CallBase<T> & { route: R } & ([
    RouteParams<R>,
  ] extends [never]
    ? { params?: undefined }
    : { params: Record<RouteParams<R>, string> });

/** What went wrong in one attempt, before it becomes a MarketplaceError. */
interface Failed {
  ok: false;
  message: string;
  kind: MarketplaceErrorKind;
  status?: number;
  detail?: string;
  cause?: unknown;
  /** When kind and status do not say it (marketplaceCode): an unreadable or oversized body. */
  code?: MarketplaceCode;
  /** The wait the service asked for (429). */
  retryAfterMs?: number;
}

/** An answer as it came: status, headers and body text (or what a sink made of the body). */
interface Answer extends RawAnswer {
  ok: true;
  value?: unknown;
}

/** One attempt's outcome: the checked body, or an error and whether to try again. */
type Attempt<T> =
  | { ok: true; value: T }
  | { ok: false; error: MarketplaceError; retryAfterMs?: number };

const REGISTRATION_WAIT = /wait (\d+(?:\.\d+)?) seconds?/i;

/**
 * HTTP to the marketplace: one request, JSON in and out, retried with backoff and
 * jitter where retrying can help, the answer checked against its schema. Knows
 * nothing of jobs or agents; the client on top does.
 */
export class MarketplaceTransport {
  readonly baseUrl: string;
  /** `baseUrl` split as undici dispatches: scheme, host and port; then the path prefix. */
  readonly #origin: string;
  readonly #basePath: string;
  readonly #host: string;
  readonly #dispatcher: Dispatcher;
  readonly #metrics: Metrics | undefined;
  readonly #logger: Logger | undefined;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxBodyBytes: number;
  readonly #maxStreamedBytes: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const base = new URL(this.baseUrl);
    this.#origin = base.origin;
    this.#basePath = base.pathname.replace(/\/+$/, "");
    this.#host = base.hostname;
    this.#dispatcher = options.dispatcher;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 15_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.#maxStreamedBytes = options.maxStreamedBytes ?? 2 * 1024 * 1024 * 1024;
    this.#sleep = options.sleep ?? sleep;
  }

  async call<T, R extends Route>(options: CallOptions<T, R>): Promise<T> {
    const maxAttempts = options.maxAttempts ?? this.#maxAttempts;
    const rateLimitAttempts = options.rateLimitAttempts ?? maxAttempts;
    const params: Partial<Record<string, string>> = options.params ?? {};
    const { method, path } = fillRoute(options.route, params);
    const target = this.#basePath + path + queryString(options.query);
    const label = routeLabel(options.route);
    for (let attempt = 1; ; attempt++) {
      const result = await this.#once(options, label, method, target, attempt);
      if (result.ok) return result.value;
      const limit =
        result.error.code === "BR_ERR_MARKETPLACE_RATE_LIMITED" ? rateLimitAttempts : maxAttempts;
      // Whether to try again is the error's code's to say (docs/errors.md).
      if (!result.error.retryable || attempt >= limit || options.signal?.aborted)
        throw result.error;
      // A server may ask for longer than is useful; past a minute the caller's next poll retries anyway.
      const delay =
        result.retryAfterMs !== undefined
          ? Math.min(result.retryAfterMs, 60_000)
          : backoffDelay(attempt, { baseMs: this.#baseDelayMs, capMs: this.#maxDelayMs });
      this.#logger?.debug(
        {
          route: label,
          attempt,
          delayMs: Math.round(delay),
          problem: result.error.message,
        },
        "marketplace call failed, retrying",
      );
      await this.#sleep(delay, options.signal);
    }
  }

  /** One attempt: send, classify the status, parse the body; counted once whatever the outcome. */
  async #once<T>(
    options: CallBase<T>,
    label: string,
    method: Method,
    target: string,
    attempt: number,
  ): Promise<Attempt<T>> {
    const started = performance.now();
    // Inside a job's trace (a bid, a submission; tracing on) each attempt is a client
    // span named by its route template, never by its query or body.
    const span = startClientSpan(label, {
      "http.request.method": method,
      "url.template": label.slice(label.indexOf(" ") + 1),
      "server.address": this.#host,
      ...(attempt > 1 ? { "http.request.resend_count": attempt - 1 } : {}),
    });
    const sent = await this.#send(options, method, target);
    const outcome = sent.ok
      ? (classifyStatus(sent) ?? parseBody(sent, options.schema, options.text))
      : sent;
    if (span) {
      const status = sent.ok ? sent.status : outcome.ok ? undefined : outcome.status;
      if (status !== undefined) span.setAttribute("http.response.status_code", status);
      if (!outcome.ok) {
        span.setAttribute("error.type", status !== undefined ? String(status) : outcome.kind);
        failSpan(span, outcome.message);
      }
      span.end();
    }
    if (outcome.ok) {
      this.#count(label, String(outcome.status), started);
      return { ok: true, value: outcome.value };
    }
    // An error status by its number; a 200 with an unreadable body by its kind, so
    // that it does not count as a success.
    this.#count(
      label,
      outcome.kind === "http" && outcome.status !== undefined
        ? String(outcome.status)
        : outcome.kind,
      started,
    );
    const { message, kind, status, detail, cause, code, retryAfterMs } = outcome;
    return {
      ok: false,
      error: new MarketplaceError(`${label}: ${message}`, {
        kind,
        status,
        detail,
        cause,
        code,
        route: label,
        attempts: attempt,
      }),
      retryAfterMs,
    };
  }

  /**
   * Sends the request and reads the answer. Throws only when the caller's signal aborted.
   * The time limit is undici's own (headers, then body, each within `timeoutMs`): its
   * shared coarse timer costs nothing per request, where an `AbortSignal.timeout` per
   * request kept a timer, a weak reference and a finalizer alive for the whole period.
   */
  async #send(
    options: CallBase<unknown>,
    method: Method,
    target: string,
  ): Promise<Answer | Failed> {
    const request: Dispatcher.DispatchOptions = {
      origin: this.#origin,
      path: target,
      method,
      headers: requestHeaders(options),
      body: options.form ?? (options.json === undefined ? null : JSON.stringify(options.json)),
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    };
    try {
      const answer = options.sink
        ? await dispatchToSink(
            this.#dispatcher,
            request,
            options.sink,
            { sinkBytes: this.#maxStreamedBytes, textBytes: this.#maxBodyBytes },
            options.signal,
          )
        : await dispatchForText(this.#dispatcher, request, this.#maxBodyBytes, options.signal);
      return { ok: true, ...answer };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      if (error instanceof SinkFailed) {
        return {
          ok: false,
          message: `answered with a body that is not JSON (${truncate(error.message, 200)})`,
          kind: "invalid-response",
          code: "BR_ERR_MARKETPLACE_UNREADABLE",
          cause: error,
        };
      }
      if (error instanceof BodyTooLarge) {
        return {
          ok: false,
          message: error.message,
          kind: "invalid-response",
          code: "BR_ERR_BODY_TOO_LARGE",
        };
      }
      const timedOut = isTimeout(error);
      return {
        ok: false,
        message: timedOut
          ? `no answer within ${this.#timeoutMs} ms`
          : `cannot reach ${this.baseUrl} (${errorMessage(error)})`,
        kind: timedOut ? "timeout" : "network",
        cause: error,
      };
    }
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

/** The method and the path of a route template, each `:name` filled in (URL-encoded). */
export function fillRoute(
  route: Route,
  params: Partial<Record<string, string>>,
): { method: Method; path: string } {
  const space = route.indexOf(" ");
  const method = route.slice(0, space) as Method;
  const path = route.slice(space + 1).replace(/:([A-Za-z_]\w*)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new InvalidArgumentError(`${route}: no value for :${name}`);
    return encodeURIComponent(value);
  });
  return { method, path };
}

/** An error status as a failure (its code says whether waiting can help: 429, 5xx); else undefined. */
function classifyStatus(answer: Answer): Failed | undefined {
  const { status, headers, text } = answer;
  if (status < 400) return undefined;
  const detail = parseDetail(text);
  let retryAfterMs: number | undefined;
  if (status === 429) {
    const header = headers["retry-after"];
    retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
    const named = detail ? REGISTRATION_WAIT.exec(detail) : null;
    // The registration cooldown names its wait in the message; add a little slack.
    if (retryAfterMs === undefined && named?.[1]) retryAfterMs = Number(named[1]) * 1000 + 250;
  }
  return {
    ok: false,
    message: `answered ${status}${detail ? `: ${truncate(detail, 300)}` : ""}`,
    kind: "http",
    status,
    detail,
    retryAfterMs,
  };
}

/** A successful answer's body, checked against the contract. */
function parseBody<T>(
  answer: Answer,
  schema: z.ZodType<T>,
  asText = false,
): { ok: true; status: number; value: T } | Failed {
  const { status, text } = answer;
  let body: unknown;
  try {
    if ("value" in answer) body = answer.value;
    else body = asText ? text : text === "" ? null : JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      message: `answered ${status} with a body that is not JSON`,
      kind: "invalid-response",
      code: "BR_ERR_MARKETPLACE_UNREADABLE",
      status,
      cause: error,
    };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      message: `answer does not match the contract (${issue?.path.join(".") || "body"}: ${issue?.message})`,
      kind: "invalid-response",
      status,
    };
  }
  return { ok: true, status, value: parsed.data };
}

/** undici's stable codes for a request past its headers or body time limit. */
function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
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

/** `?key=value&…` of the defined entries, form-encoded as a URL's search parameters are; or "". */
function queryString(query: CallBase<unknown>["query"]): string {
  if (query === undefined) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** Accept JSON; a JSON body's content type; the session token as a bearer. */
function requestHeaders(options: CallBase<unknown>): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.json !== undefined) headers["content-type"] = "application/json";
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return headers;
}
