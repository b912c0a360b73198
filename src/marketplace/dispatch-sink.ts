import type { Dispatcher } from "undici";
import { BazaarRunnerError } from "../errors.ts";
import { AnswerHandler, dispatchWith, type RawAnswer } from "./dispatch.ts";

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
export class SinkFailed extends BazaarRunnerError {
  override name = "SinkFailed";
  constructor(cause: unknown) {
    super("BR_ERR_BODY_UNREADABLE", cause instanceof Error ? cause.message : String(cause), {
      cause,
    });
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
  return dispatchWith(
    dispatcher,
    options,
    signal,
    (resolve, reject) => new SinkHandler(sink, limits, resolve, reject, signal),
  );
}

/** Streams a 2xx answer's body into a fresh sink; collects any other's as text. */
class SinkHandler extends AnswerHandler<SunkAnswer> {
  #sink: BodySink | undefined;
  /** The sink refused a chunk: the request is being aborted. */
  #failed = false;
  readonly #newSink: () => BodySink;
  readonly #limits: SinkLimits;

  constructor(
    newSink: () => BodySink,
    limits: SinkLimits,
    resolve: (answer: SunkAnswer) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
  ) {
    super(0, resolve, reject, signal);
    this.#newSink = newSink;
    this.#limits = limits;
  }

  protected override answerStarted(status: number): void {
    // A fresh sink per answer: a retried request starts over.
    this.#sink = status >= 200 && status < 300 ? this.#newSink() : undefined;
    this.limit = this.#sink ? this.#limits.sinkBytes : this.#limits.textBytes;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Chunks already on their way after an abort are dropped.
    if (this.settled || this.#failed) return;
    if (!this.withinLimit(controller, chunk)) {
      this.#failed = true;
      return;
    }
    if (!this.#sink) {
      this.chunks.push(chunk);
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
    if (this.settled) return;
    let answer: SunkAnswer;
    try {
      answer = this.#sink
        ? { status: this.status, headers: this.headers, text: "", value: this.#sink.end() }
        : { status: this.status, headers: this.headers, text: this.text() };
    } catch (error) {
      this.fail(new SinkFailed(error));
      return;
    }
    this.succeed(answer);
  }

  protected override settle(): void {
    super.settle();
    this.#sink = undefined;
  }
}
