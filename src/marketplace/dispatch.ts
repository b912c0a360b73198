import type { Dispatcher } from "undici";
import { BazaarRunnerError } from "../errors.ts";

/** An answer as it came: status, headers and body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** The answer's body is longer than the caller will read. */
export class BodyTooLarge extends BazaarRunnerError {
  override name = "BodyTooLarge";
  readonly limit: number;
  constructor(limit: number) {
    super("BR_ERR_BODY_TOO_LARGE", `answer larger than ${limit} bytes`);
    this.limit = limit;
  }
}

/**
 * Sends one request through `dispatcher` and collects its answer as text, at most
 * `limit` bytes (announced or counted as it arrives; past it the request is aborted
 * with BodyTooLarge). Rejects with undici's own error otherwise, or with the signal's
 * reason when it aborts.
 *
 * This is undici's `dispatch` with a handler of our own rather than its `request()`:
 * for a small JSON answer `request()` builds a readable stream, an abort binding and a
 * promise chain that cost as much as the request itself, and a runner of 10,000 agents
 * sends one every few milliseconds.
 */
export function dispatchForText(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  limit: number,
  signal?: AbortSignal,
): Promise<RawAnswer> {
  return dispatchWith(
    dispatcher,
    options,
    signal,
    (resolve, reject) => new TextCollector(limit, resolve, reject, signal),
  );
}

/**
 * Sends one request through `dispatcher` with the handler `handle` makes; a signal
 * already aborted rejects before anything is sent.
 */
export function dispatchWith<T>(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  handle: (resolve: (answer: T) => void, reject: (error: unknown) => void) => AnswerHandler<T>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const handler = handle(resolve, reject);
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      // Refused before it started (an invalid option): settled like any failure.
      handler.fail(error);
    }
  });
}

/**
 * What every handler of ours shares: it settles its promise once, however the request
 * ends; the caller's signal aborts the request (and is the reason it rejects with); the
 * status and headers are kept, and a body announced or counted past the limit aborts it
 * with BodyTooLarge. Chunks collected as text are joined at the end.
 */
export abstract class AnswerHandler<T> implements Dispatcher.DispatchHandler {
  protected status = 0;
  protected headers: RawAnswer["headers"] = {};
  protected chunks: Buffer[] = [];
  protected settled = false;
  /** The most body bytes this answer may have. */
  protected limit: number;
  #size = 0;
  #controller: Dispatcher.DispatchController | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #resolve: (answer: T) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;

  constructor(
    limit: number,
    resolve: (answer: T) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.limit = limit;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    if (signal) {
      this.#onAbort = () => this.#controller?.abort(signal.reason);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal?.aborted) controller.abort(this.#signal.reason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: RawAnswer["headers"],
  ): void {
    this.status = status;
    this.headers = headers;
    this.answerStarted(status);
    const length = Number(headers["content-length"]);
    if (Number.isSafeInteger(length) && length > this.limit) {
      controller.abort(new BodyTooLarge(this.limit));
    }
  }

  /** A subclass's part of an answer's start (its status and headers are kept by then). */
  protected answerStarted(_status: number): void {}

  /** Counts a chunk; false (and the request aborted) when it takes the body past the limit. */
  protected withinLimit(controller: Dispatcher.DispatchController, chunk: Buffer): boolean {
    this.#size += chunk.byteLength;
    if (this.#size <= this.limit) return true;
    controller.abort(new BodyTooLarge(this.limit));
    return false;
  }

  /** The chunks collected, as text. */
  protected text(): string {
    return this.chunks.length === 1
      ? (this.chunks[0] as Buffer).toString("utf8")
      : Buffer.concat(this.chunks).toString("utf8");
  }

  abstract onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void;

  abstract onResponseEnd(): void;

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Resolves with `answer`, once. */
  protected succeed(answer: T): void {
    if (this.settled) return;
    this.settle();
    this.#resolve(answer);
  }

  /** Rejects with the caller's reason when its signal aborted, else with `error`; once. */
  fail(error: unknown): void {
    if (this.settled) return;
    this.settle();
    this.#reject(this.#signal?.aborted ? this.#signal.reason : error);
  }

  /** Lets go of what the answer held; a subclass drops its own too. */
  protected settle(): void {
    this.settled = true;
    this.chunks = [];
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/** Collects one answer's body as text. */
class TextCollector extends AnswerHandler<RawAnswer> {
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.withinLimit(controller, chunk)) this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.succeed({ status: this.status, headers: this.headers, text: this.text() });
  }
}
