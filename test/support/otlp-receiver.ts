import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { appendPrinted } from "./printed-log.ts";

/**
 * A small OTLP/HTTP collector for tests: it takes `POST /v1/traces` with the JSON
 * encoding the OpenTelemetry exporter sends (ExportTraceServiceRequest), decodes each
 * span, and keeps them. Every decoded span is also appended to the printed log, so the
 * suite's secret guard (global-setup.ts) checks span attributes as it checks log lines.
 * `stall()` makes it take requests and never answer: a collector that hangs.
 */

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  scope: string;
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans(): ReceivedSpan[];
  /** Export requests received (answered or not). */
  readonly requests: number;
  /** Holds every request from now on unanswered, until `release()`. */
  stall(): void;
  /** Answers the held requests and those to come. */
  release(): void;
  close(): Promise<void>;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}

function decodeValue(value: OtlpAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  return null;
}

function decodeAttributes(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = decodeValue(value);
  return out;
}

/** OTLP/JSON ids are hex; a base64 id (the protobuf-to-JSON mapping) is turned into hex. */
function hexId(id: string | undefined): string {
  if (!id) return "";
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex");
}

export function decodeExport(body: OtlpRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: hexId(span.traceId),
          spanId: hexId(span.spanId),
          parentSpanId: hexId(span.parentSpanId),
          name: span.name,
          kind: span.kind ?? 0,
          startNs: BigInt(span.startTimeUnixNano),
          endNs: BigInt(span.endTimeUnixNano),
          attributes: decodeAttributes(span.attributes),
          statusCode: span.status?.code ?? 0,
          statusMessage: span.status?.message ?? "",
          scope: scopeSpans.scope?.name ?? "",
          resource,
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  let requests = 0;
  let stalled = false;
  const held: ServerResponse[] = [];

  const answer = (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    requests++;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (stalled) {
        held.push(res);
        return;
      }
      try {
        const spans = decodeExport(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        received.push(...spans);
        appendPrinted(
          spans
            .map((span) =>
              JSON.stringify({
                span: span.name,
                attributes: span.attributes,
                status: span.statusMessage,
              }),
            )
            .join("\n"),
        );
        answer(res);
      } catch (error) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    get requests() {
      return requests;
    },
    stall() {
      stalled = true;
    },
    release() {
      stalled = false;
      for (const res of held.splice(0)) answer(res);
    },
    async close() {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One trace's spans as a tree: each span under its parent, siblings by start time. */
export function spanTree(spans: ReceivedSpan[]): { span: ReceivedSpan; depth: number }[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : "";
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const out: { span: ReceivedSpan; depth: number }[] = [];
  const walk = (parent: string, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) =>
      a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0,
    );
    for (const span of list) {
      out.push({ span, depth });
      walk(span.spanId, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

/**
 * The trace as a text waterfall, as a tracing UI draws it: one line per span, indented
 * under its parent, with a bar placed on the trace's time axis and its duration.
 */
export function renderWaterfall(spans: ReceivedSpan[], width = 48): string {
  if (spans.length === 0) return "(no spans)";
  // bigint nanoseconds: Math.min and Math.max do not take them.
  let start = spans[0]!.startNs;
  let end = spans[0]!.endNs;
  for (const span of spans) {
    if (span.startNs < start) start = span.startNs;
    if (span.endNs > end) end = span.endNs;
  }
  const total = Number(end - start) || 1;
  const rows = spanTree(spans);
  const label = (span: ReceivedSpan, depth: number) => `${"  ".repeat(depth)}${span.name}`;
  const labelWidth = Math.max(...rows.map((r) => label(r.span, r.depth).length));
  const ms = (ns: bigint) => Number(ns) / 1e6;
  const lines = rows.map(({ span, depth }) => {
    const from = Math.floor((Number(span.startNs - start) / total) * width);
    const to = Math.max(from + 1, Math.ceil((Number(span.endNs - start) / total) * width));
    const bar = `${" ".repeat(from)}${"█".repeat(Math.min(to, width) - from)}`.padEnd(width);
    const duration = `${ms(span.endNs - span.startNs).toFixed(1)} ms`.padStart(10);
    const error = span.statusCode === 2 ? " ✗" : "";
    return `${label(span, depth).padEnd(labelWidth)} │${bar}│${duration}${error}`;
  });
  const traceId = spans[0]!.traceId;
  return [
    `trace ${traceId} · ${spans.length} spans · ${ms(end - start).toFixed(1)} ms`,
    ...lines,
  ].join("\n");
}
