import type { Dispatcher } from "undici";

/** An answer as it came: status, headers and body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** The answer's body is longer than the caller will read. */
export class BodyTooLarge extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`answer larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
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
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const collector = new TextCollector(limit, resolve, reject, signal);
    try {
      dispatcher.dispatch(options, collector);
    } catch (error) {
      // Refused before it started (an invalid option): settled like any failure.
      collector.fail(error);
    }
  });
}

/** Collects one answer's chunks; settles its promise once, however the request ends. */
class TextCollector implements Dispatcher.DispatchHandler {
  #status = 0;
  #headers: RawAnswer["headers"] = {};
  #chunks: Buffer[] = [];
  #size = 0;
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  readonly #onAbort: (() => void) | undefined;
  readonly #limit: number;
  readonly #resolve: (answer: RawAnswer) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;

  constructor(
    limit: number,
    resolve: (answer: RawAnswer) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.#limit = limit;
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
    this.#status = status;
    this.#headers = headers;
    const length = Number(headers["content-length"]);
    if (Number.isSafeInteger(length) && length > this.#limit) {
      controller.abort(new BodyTooLarge(this.#limit));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.byteLength;
    if (this.#size > this.#limit) {
      controller.abort(new BodyTooLarge(this.#limit));
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const text =
      this.#chunks.length === 1
        ? (this.#chunks[0] as Buffer).toString("utf8")
        : Buffer.concat(this.#chunks).toString("utf8");
    this.#settle();
    this.#resolve({ status: this.#status, headers: this.#headers, text });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Rejects with the caller's reason when its signal aborted, else with `error`. */
  fail(error: unknown): void {
    this.#settle();
    this.#reject(this.#signal?.aborted ? this.#signal.reason : error);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = [];
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}
