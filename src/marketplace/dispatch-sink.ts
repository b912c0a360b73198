import type { Dispatcher } from "undici";
import { BodyTooLarge, type RawAnswer } from "./dispatch.ts";

/** Takes a successful answer's body as it arrives, and makes it a value at its end. */
export interface BodySink {
  /** Throws when the bytes cannot be read (not JSON): the request is aborted. */
  write(chunk: Uint8Array): void;
  end(): unknown;
}

/** An answer whose body went to a sink (`value`), or, for an error status, came as text. */
export interface SunkAnswer extends RawAnswer {
  value?: unknown;
}

/** The sink could not read the body: says why. */
export class SinkFailed extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "SinkFailed";
  }
}

export interface SinkLimits {
  /** Largest body streamed into the sink. */
  sinkBytes: number;
  /** Largest body collected as text (an error status's). */
  textBytes: number;
}

/**
 * Sends one request and hands a 2xx answer's body to a sink chunk by chunk, as undici
 * delivers it: nothing of it is kept here, so a listing of any size costs what the sink
 * keeps. Any other status's body is collected as text (for its `detail`) within
 * `textBytes`. Rejects as `dispatchForText` does, and with SinkFailed when the sink throws.
 */
export function dispatchToSink(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  sink: () => BodySink,
  limits: SinkLimits,
  signal?: AbortSignal,
): Promise<SunkAnswer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const handler = new SinkHandler(sink, limits, resolve, reject, signal);
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      handler.fail(error);
    }
  });
}

class SinkHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #headers: RawAnswer["headers"] = {};
  #sink: BodySink | undefined;
  #chunks: Buffer[] = [];
  #size = 0;
  #limit = 0;
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  /** The sink refused a chunk: the request is being aborted. */
  #failed = false;
  readonly #newSink: () => BodySink;
  readonly #limits: SinkLimits;
  readonly #onAbort: (() => void) | undefined;
  readonly #resolve: (answer: SunkAnswer) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;

  constructor(
    newSink: () => BodySink,
    limits: SinkLimits,
    resolve: (answer: SunkAnswer) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    this.#newSink = newSink;
    this.#limits = limits;
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
    // A fresh sink per answer: a retried request starts over.
    this.#sink = status >= 200 && status < 300 ? this.#newSink() : undefined;
    this.#limit = this.#sink ? this.#limits.sinkBytes : this.#limits.textBytes;
    const length = Number(headers["content-length"]);
    if (Number.isSafeInteger(length) && length > this.#limit) {
      controller.abort(new BodyTooLarge(this.#limit));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Chunks already on their way after an abort are dropped.
    if (this.#settled || this.#failed) return;
    this.#size += chunk.byteLength;
    if (this.#size > this.#limit) {
      this.#failed = true;
      controller.abort(new BodyTooLarge(this.#limit));
      return;
    }
    if (!this.#sink) {
      this.#chunks.push(chunk);
      return;
    }
    try {
      this.#sink.write(chunk);
    } catch (error) {
      this.#failed = true;
      controller.abort(new SinkFailed(error));
    }
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    let answer: SunkAnswer;
    try {
      answer = this.#sink
        ? { status: this.#status, headers: this.#headers, text: "", value: this.#sink.end() }
        : {
            status: this.#status,
            headers: this.#headers,
            text: Buffer.concat(this.#chunks).toString("utf8"),
          };
    } catch (error) {
      this.fail(new SinkFailed(error));
      return;
    }
    this.#settle();
    this.#resolve(answer);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Rejects with the caller's reason when its signal aborted, else with `error`. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(this.#signal?.aborted ? this.#signal.reason : error);
  }

  #settle(): void {
    this.#settled = true;
    this.#chunks = [];
    this.#sink = undefined;
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}
