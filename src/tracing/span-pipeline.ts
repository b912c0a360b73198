import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace";
import { scrub } from "../secrets.ts";

const SAMPLED = 1;
/** ExportResultCode.SUCCESS (@opentelemetry/core, which the SDK brings, not a dependency of ours). */
const EXPORT_SUCCESS = 0;

type ExportDone = Parameters<SpanExporter["export"]>[1];

export interface ExportCounts {
  handed: (count: number) => void;
  failed: (count: number, error: string | undefined) => void;
}

/**
 * The spans waiting for the exporter, counted: a span that finds `maxQueueSize` of them
 * waiting is dropped and counted before the batch processor ever sees it (the batch
 * processor drops them too, but says so only in a debug line). The count goes down as
 * the exporter is handed each batch.
 */
export class BoundedQueue {
  readonly #max: number;
  readonly #onDrop: (count: number) => void;
  #waiting = 0;

  constructor(maxQueueSize: number, onDrop: (count: number) => void) {
    this.#max = maxQueueSize;
    this.#onDrop = onDrop;
  }

  get waiting(): number {
    return this.#waiting;
  }

  /** The exporter took `count` spans off the queue. */
  left(count: number): void {
    this.#waiting = Math.max(0, this.#waiting - count);
  }

  /** `inner` (the batch processor) behind the bound. */
  guarding(inner: SpanProcessor): SpanProcessor {
    const queue = this;
    return {
      onStart: (span: Span, parent: Context) => inner.onStart(span, parent),
      onEnd(span: ReadableSpan) {
        if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
        if (queue.#waiting >= queue.#max) {
          queue.#onDrop(1);
          return;
        }
        queue.#waiting++;
        inner.onEnd(span);
      },
      forceFlush: () => inner.forceFlush(),
      shutdown: () => inner.shutdown(),
    };
  }
}

/** The exporter, telling what it was handed and what it failed to deliver. */
export class CountingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #on: ExportCounts;

  constructor(inner: SpanExporter, on: ExportCounts) {
    this.#inner = inner;
    this.#on = on;
  }

  export(spans: ReadableSpan[], done: ExportDone): void {
    this.#on.handed(spans.length);
    this.#inner.export(spans, (result) => {
      if (result.code !== EXPORT_SUCCESS) this.#on.failed(spans.length, result.error?.message);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Runs as each span ends, before it is queued: every string attribute is scrubbed of
 * registered secrets (whatever a hook or a library put there), and a span that carries
 * GenAI token usage gets its cost (`bazaar.llm.cost_usd`, from LLM_PRICES).
 */
export class SpanHygiene implements SpanProcessor {
  readonly #prices: Record<string, number>;

  constructor(prices: Record<string, number>) {
    this.#prices = prices;
  }

  onStart(): void {}

  onEnding(span: Span): void {
    const attributes = span.attributes;
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value === "string") {
        const clean = scrub(value);
        if (clean !== value) span.setAttribute(key, clean);
      } else if (Array.isArray(value)) {
        const clean = value.map((item) => (typeof item === "string" ? scrub(item) : item));
        if (clean.some((item, i) => item !== value[i]))
          span.setAttribute(key, clean as typeof value);
      }
    }
    const input = attributes["gen_ai.usage.input_tokens"];
    const output = attributes["gen_ai.usage.output_tokens"];
    const model = attributes["gen_ai.response.model"] ?? attributes["gen_ai.request.model"];
    if (typeof model === "string" && (typeof input === "number" || typeof output === "number")) {
      const price = this.#prices[model] ?? this.#prices[String(attributes["gen_ai.request.model"])];
      if (price !== undefined) {
        const tokens = (Number(input) || 0) + (Number(output) || 0);
        span.setAttribute("bazaar.llm.cost_usd", (tokens * price) / 1e6);
      }
    }
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
