import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";

export interface TracingOptions {
  /** The environment (process.env with ./.env): only the standard OTEL_* variables are read. */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** bazaar_runner_trace_spans_dropped_total counts what the exporter never got. */
  metrics?: Metrics;
  /** USD per million tokens by model: the LLM spans' cost. */
  llmPrices?: Record<string, number>;
}

export interface Tracing {
  /** The settings in use, for the start-up line (no header values). */
  readonly summary: Record<string, string | number>;
  /** Sends what is queued (tests; shutdown does it too). */
  flush(): Promise<void>;
  /** Flushes within the export timeout, then switches the hooks off. */
  shutdown(): Promise<void>;
}

/**
 * Tracing is on when an OTLP endpoint is named (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp`; off with
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Nothing of ours to learn.
 */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  const value = (name: string) => env[name]?.trim() ?? "";
  if (value("OTEL_SDK_DISABLED").toLowerCase() === "true") return false;
  const exporter = value("OTEL_TRACES_EXPORTER").toLowerCase();
  if (exporter === "none") return false;
  return (
    exporter !== "" ||
    value("OTEL_EXPORTER_OTLP_ENDPOINT") !== "" ||
    value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== ""
  );
}

/**
 * Starts tracing if the environment asks for it; otherwise loads nothing and returns
 * undefined, and every hook stays a no-op (tracing.ts).
 */
export async function startTracing(options: TracingOptions): Promise<Tracing | undefined> {
  if (!tracingRequested(options.env)) return undefined;
  const { startSdk } = await import("./sdk.ts");
  return startSdk(options);
}
