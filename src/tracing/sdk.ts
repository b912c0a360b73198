import * as api from "@opentelemetry/api";

const { context, DiagLogLevel, diag, trace } = api;

import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  type IdGenerator,
  ParentBasedSampler,
  RandomIdGenerator,
  type Sampler,
  SamplingDecision,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { registerSecret } from "../secrets.ts";
import { rootSamplerFromEnv } from "./sampler.ts";
import { tracingSettings } from "./settings.ts";
import { BoundedQueue, CountingExporter, SpanHygiene } from "./span-pipeline.ts";
import type { Tracing, TracingOptions } from "./start.ts";
import { installTracing } from "./tracing.ts";

const TRACER_NAME = "bazaar-runner";

/** Random ids, except the next one pinned (a job's root span, whose ids are derived). */
class PinnableIds implements IdGenerator {
  readonly #random = new RandomIdGenerator();
  #traceId: string | undefined;
  #spanId: string | undefined;

  pin(traceId: string, spanId: string): void {
    this.#traceId = traceId;
    this.#spanId = spanId;
  }

  generateTraceId(): string {
    const id = this.#traceId ?? this.#random.generateTraceId();
    this.#traceId = undefined;
    return id;
  }

  generateSpanId(): string {
    const id = this.#spanId ?? this.#random.generateSpanId();
    this.#spanId = undefined;
    return id;
  }
}

/**
 * The OpenTelemetry SDK, loaded only when tracing is on: a tracer provider with one
 * batch processor in front of the OTLP/HTTP exporter. The batch queue is bounded and
 * every span that does not reach the collector is counted
 * (bazaar_runner_trace_spans_dropped_total); ending a span only appends to the queue,
 * so a collector that is down or slow never holds up a heartbeat or a bid.
 */
export async function startSdk(options: TracingOptions): Promise<Tracing> {
  const { env, logger, metrics } = options;
  const settings = tracingSettings(env);
  for (const value of Object.values(settings.headers)) registerSecret(value);

  // The SDK's own complaints (an export that failed, a bad setting) go to our log, at
  // most once a minute each: a collector that is down is said, not shouted.
  let lastSaid = new Map<string, number>();
  const say = (level: "warn" | "error") => (message: string) => {
    const now = Date.now();
    if (now - (lastSaid.get(message) ?? 0) < 60_000) return;
    if (lastSaid.size > 100) lastSaid = new Map();
    lastSaid.set(message, now);
    logger[level === "error" ? "warn" : level]({ component: "tracing" }, `tracing: ${message}`);
  };
  const quiet = () => undefined;
  diag.setLogger(
    { error: say("error"), warn: say("warn"), info: quiet, debug: quiet, verbose: quiet },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );

  const dropped = (reason: "queue_full" | "export_failed", count: number) =>
    metrics?.traceSpansDropped.inc({ reason }, count);
  const queue = new BoundedQueue(settings.maxQueueSize, (count) => dropped("queue_full", count));
  const exporter = new CountingExporter(
    new OTLPTraceExporter({
      url: settings.url,
      headers: settings.headers,
      timeoutMillis: settings.exportTimeoutMs,
    }),
    {
      handed: (count) => queue.left(count),
      failed: (count, error) => {
        dropped("export_failed", count);
        say("warn")(`an export of spans failed (${error ?? "no answer"}); they are dropped`);
      },
    },
  );
  const batch = new BatchSpanProcessor({
    exporter,
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: settings.maxExportBatchSize,
    scheduledDelayMillis: settings.scheduleDelayMs,
    exportTimeoutMillis: settings.exportTimeoutMs,
  });
  const root = rootSamplerFromEnv(settings.sampler, settings.samplerArg, say("warn"));
  const sampler: Sampler = new ParentBasedSampler({ root });
  const ids = new PinnableIds();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...settings.resourceAttributes,
      [ATTR_SERVICE_NAME]: settings.serviceName,
    }),
    sampler,
    idGenerator: ids,
    spanProcessors: [new SpanHygiene(options.llmPrices ?? {}), queue.guarding(batch)],
  });

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer(TRACER_NAME);
  installTracing({
    api,
    tracer,
    sampled: (traceId) =>
      root.shouldSample(context.active(), traceId, "bazaar.job", 0, {}, []).decision ===
      SamplingDecision.RECORD_AND_SAMPLED,
    pinNextIds: (traceId, spanId) => ids.pin(traceId, spanId),
  });
  logger.info({ component: "tracing", ...settings.summary }, "tracing on: spans go to OTLP/HTTP");

  return {
    summary: settings.summary,
    flush: () => provider.forceFlush(),
    async shutdown() {
      installTracing(undefined);
      try {
        // A collector that hangs delays a shutdown by 5 s at most (or the export timeout).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          provider.shutdown(),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.min(settings.exportTimeoutMs, 5000)).unref();
          }),
        ]);
        clearTimeout(timer);
      } finally {
        trace.disable();
        context.disable();
        diag.disable();
      }
    },
  };
}
