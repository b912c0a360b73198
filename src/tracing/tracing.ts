import type { Attributes, Context, Span, SpanKind, Tracer } from "@opentelemetry/api";
import { jobTraceIds } from "./trace-ids.ts";

type OtelApi = typeof import("@opentelemetry/api");

/**
 * The runtime side of tracing: what the runner's hooks call. Nothing of OpenTelemetry is
 * loaded here (types only): the API, the SDK, the exporter and the AI SDK's integration
 * load in sdk.ts, and only when tracing is switched on, which hands the API over with
 * the tracer. Until then every function below returns at its first line.
 */

/** What sdk.ts installs when tracing is on. */
export interface ActiveTracing {
  /** `@opentelemetry/api`, as sdk.ts loaded it. */
  api: OtelApi;
  tracer: Tracer;
  /** Whether the root sampler keeps this trace: the same answer on every replica. */
  sampled(traceId: string): boolean;
  /** The next span started gets these ids (the job's root span, whose id is derived). */
  pinNextIds(traceId: string, spanId: string): void;
}

let active: ActiveTracing | undefined;

/** Switches the hooks on (sdk.ts) or off again (shutdown, tests). */
export function installTracing(tracing: ActiveTracing | undefined): void {
  active = tracing;
}

export function tracingOn(): boolean {
  return active !== undefined;
}

/** The trace id of one (agent, job) when tracing is on: for log lines and the dashboard. */
export function jobTraceId(agentId: string | null | undefined, jobId: string): string | undefined {
  if (!active || !agentId) return undefined;
  return jobTraceIds(agentId, jobId).traceId;
}

/** The trace id of the span the caller runs in, if any (the log mixin). */
export function activeTraceId(): string | undefined {
  if (!active) return undefined;
  return active.api.trace.getActiveSpan()?.spanContext().traceId;
}

/**
 * The job's root span as a remote parent: every span of the job hangs from it, on any
 * replica, whether or not this process ever emits the root itself.
 */
function jobContext(tracing: ActiveTracing, agentId: string, jobId: string): Context {
  const { traceId, rootSpanId } = jobTraceIds(agentId, jobId);
  const { trace, ROOT_CONTEXT, TraceFlags } = tracing.api;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId: rootSpanId,
    traceFlags: tracing.sampled(traceId) ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

export interface JobSpanOptions {
  /** When the step began, if before now (e.g. the moment the job was seen). */
  startTime?: Date;
  kind?: SpanKind;
}

/** Starts a span of the job's trace; the caller ends it. Undefined when tracing is off. */
export function startJobSpan(
  agentId: string | null | undefined,
  jobId: string,
  name: string,
  attributes: Attributes,
  options: JobSpanOptions = {},
): Span | undefined {
  if (!active || !agentId) return undefined;
  return active.tracer.startSpan(
    name,
    {
      attributes,
      kind: options.kind ?? active.api.SpanKind.INTERNAL,
      startTime: options.startTime,
    },
    jobContext(active, agentId, jobId),
  );
}

/** A step of the job that is over as it is told (a decision, an award, a payment read back). */
export function recordJobStep(
  agentId: string | null | undefined,
  jobId: string,
  name: string,
  attributes: Attributes,
  options: JobSpanOptions & { error?: string } = {},
): void {
  const span = startJobSpan(agentId, jobId, name, attributes, options);
  if (!span) return;
  if (options.error !== undefined) failSpan(span, options.error);
  span.end();
}

/**
 * Runs `work` inside a span of the job's trace, so that what it calls (marketplace
 * requests, LLM calls) are its children; the span ends with the work, an error marks it.
 * With tracing off, `work` runs as it is.
 */
export function inJobSpan<T>(
  agentId: string | null | undefined,
  jobId: string,
  name: string,
  attributes: Attributes,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  const span = startJobSpan(agentId, jobId, name, attributes);
  if (!span) return work(undefined);
  return endWhenSettled(
    span,
    inSpan(span, () => work(span)),
  );
}

/** Runs `work` with `span` as the active span (its children's parent). */
export function inSpan<T>(span: Span | undefined, work: () => T): T {
  if (!span || !active) return work();
  const { context, trace } = active.api;
  return context.with(trace.setSpan(context.active(), span), work);
}

/** Marks a span failed, with the error's name only in its status (messages may quote job text). */
export function failSpan(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SPAN_STATUS_ERROR, message: message.slice(0, 300) });
}

/** SpanStatusCode.ERROR (a const enum's value: the API need not be loaded for it). */
const SPAN_STATUS_ERROR = 2;

/**
 * The job's root span (`bazaar.job`), emitted once its story is over on this side (paid,
 * skipped, failed, refused), with the derived id its children already name as parent.
 * It starts when the job was posted, when that is known.
 */
export function endJobTrace(
  agentId: string | null | undefined,
  jobId: string,
  attributes: Attributes,
  postedAt?: Date,
): void {
  if (!active || !agentId) return;
  const { traceId, rootSpanId } = jobTraceIds(agentId, jobId);
  active.pinNextIds(traceId, rootSpanId);
  const now = new Date();
  const span = active.tracer.startSpan(
    "bazaar.job",
    {
      root: true,
      kind: active.api.SpanKind.INTERNAL,
      attributes: { "bazaar.agent.id": agentId, "bazaar.job.id": jobId, ...attributes },
      startTime: postedAt && postedAt <= now ? postedAt : now,
    },
    active.api.ROOT_CONTEXT,
  );
  span.end(now);
}

/**
 * A client span for one marketplace request, only inside a job's trace (a bid, a
 * submission): polls and heartbeats outside any job make no traces of their own.
 */
export function startClientSpan(name: string, attributes: Attributes): Span | undefined {
  if (!active) return undefined;
  const { context, trace, SpanKind: kinds } = active.api;
  const parent = context.active();
  if (!trace.getSpan(parent)) return undefined;
  return active.tracer.startSpan(name, { kind: kinds.CLIENT, attributes }, parent);
}

/**
 * A child of the active span (a tool's run inside an execution), or just `work` when
 * there is none. `describe` turns the result into attributes.
 */
export function inChildSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  describe?: (value: T) => Attributes,
): Promise<T> {
  if (!active) return work();
  const { context, trace } = active.api;
  const parent = context.active();
  if (!trace.getSpan(parent)) return work();
  const span = active.tracer.startSpan(name, { attributes }, parent);
  return endWhenSettled(span, context.with(trace.setSpan(parent, span), work), describe);
}

/** Ends `span` when `work` settles: with `describe`'s attributes, or marked failed. */
function endWhenSettled<T>(
  span: Span,
  work: Promise<T>,
  describe?: (value: T) => Attributes,
): Promise<T> {
  return work.then(
    (value) => {
      if (describe) span.setAttributes(describe(value));
      span.end();
      return value;
    },
    (error: unknown) => {
      failSpan(span, error);
      span.end();
      throw error;
    },
  );
}
