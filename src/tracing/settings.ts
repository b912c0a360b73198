/** The standard OTEL_* variables the runner honours, read once at start-up. */
export interface TracingSettings {
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  /** OTEL_EXPORTER_OTLP_HEADERS (and _TRACES_HEADERS): often an API key, so registered as secrets. */
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: string;
  samplerArg: string | undefined;
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduleDelayMs: number;
  exportTimeoutMs: number;
  /** For the start-up log line: never a header value. */
  summary: Record<string, string | number>;
}

const DEFAULT_ENDPOINT = "http://localhost:4318";

/**
 * The settings, with the specification's defaults (queue 2048, batch 512, 5 s delay,
 * 30 s export timeout, 10 s per request, sampler `parentbased_always_on`). A value that
 * does not parse falls back to its default.
 */
export function tracingSettings(env: Record<string, string | undefined>): TracingSettings {
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const whole = (name: string, fallback: number, min = 1) => {
    const value = Number(text(name));
    return Number.isInteger(value) && value >= min ? value : fallback;
  };
  const tracesEndpoint = text("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const url =
    tracesEndpoint ??
    `${(text("OTEL_EXPORTER_OTLP_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")}/v1/traces`;
  const headers = {
    ...keyValues(text("OTEL_EXPORTER_OTLP_HEADERS")),
    ...keyValues(text("OTEL_EXPORTER_OTLP_TRACES_HEADERS")),
  };
  const resourceAttributes = keyValues(text("OTEL_RESOURCE_ATTRIBUTES"));
  const serviceName =
    text("OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? "bazaar-runner";
  const maxQueueSize = whole("OTEL_BSP_MAX_QUEUE_SIZE", 2048);
  const settings = {
    url,
    headers,
    serviceName,
    resourceAttributes,
    sampler: (text("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on").toLowerCase(),
    samplerArg: text("OTEL_TRACES_SAMPLER_ARG"),
    maxQueueSize,
    maxExportBatchSize: Math.min(whole("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), maxQueueSize),
    scheduleDelayMs: whole("OTEL_BSP_SCHEDULE_DELAY", 5000, 0),
    exportTimeoutMs: whole(
      "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
      whole("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000),
    ),
  };
  return {
    ...settings,
    summary: {
      endpoint: safeUrl(url),
      serviceName,
      sampler: settings.sampler,
      ...(settings.samplerArg !== undefined ? { samplerArg: settings.samplerArg } : {}),
      maxQueueSize,
      headers: Object.keys(headers).join(",") || "none",
    },
  };
}

/** `a=1,b=2` (W3C baggage style, values URL-encoded) as a record. */
function keyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    let value = pair.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // kept as written
    }
    if (key !== "") out[key] = value;
  }
  return out;
}

/** The endpoint without credentials a URL may carry. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    return parsed.toString();
  } catch {
    return "(not a URL)";
  }
}
