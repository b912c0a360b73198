import type { ServerResponse } from "node:http";
import type { FastifyBaseLogger, FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type {
  RunnerEvent,
  StatusSnapshot,
  StatusSource,
} from "../runner/telemetry/status-types.ts";
import { errorMessage } from "../secrets.ts";

export interface StreamTimings {
  /** Shortest gap between two `status` events (a fresh snapshot after changes). */
  statusIntervalMs: number;
  /** Without events, a snapshot is still compared this often (states change quietly too). */
  idleCheckMs: number;
  /** Comment lines that keep proxies from closing an idle stream. */
  heartbeatMs: number;
}

export const DEFAULT_STREAM_TIMINGS: StreamTimings = {
  statusIntervalMs: 2_000,
  idleCheckMs: 10_000,
  heartbeatMs: 15_000,
};

/** A client that stops reading is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1_000_000;

const EventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});

const DecisionsQuery = z.object({
  job_id: z.string().min(1).max(200).optional(),
});

export interface StatusRoutesOptions {
  status: StatusSource;
  timings?: Partial<StreamTimings>;
}

/** The JSON API of the dashboard: snapshot, recent events, and the live event stream. */
export const statusRoutes: FastifyPluginAsync<StatusRoutesOptions> = async (app, opts) => {
  const { status } = opts;
  const timings = { ...DEFAULT_STREAM_TIMINGS, ...opts.timings };
  const streams = new Set<EventStream>();

  app.get("/api/status", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return status.snapshot();
  });

  app.get("/api/events", async (request, reply) => {
    const parsed = EventsQuery.safeParse(request.query);
    if (!parsed.success) {
      return reply.code(400).send({ error: "bad_request", message: "limit must be 1..5000" });
    }
    reply.header("cache-control", "no-store");
    return { events: status.recentEvents(parsed.data.limit) };
  });

  /** Why each agent bid or not: of one job, or the most recent decisions. */
  app.get("/api/decisions", async (request, reply) => {
    const parsed = DecisionsQuery.safeParse(request.query);
    if (!parsed.success) {
      return reply.code(400).send({ error: "bad_request", message: "job_id must be a job id" });
    }
    reply.header("cache-control", "no-store");
    return { decisions: status.decisions(parsed.data.job_id) };
  });

  app.get("/api/events/stream", (request, reply) => {
    reply.hijack();
    const headers: Record<string, string | string[] | number> = {};
    // Keep headers set earlier in the request (the auth cookie) on the hijacked response.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) headers[name] = value;
    }
    Object.assign(headers, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    reply.raw.writeHead(200, headers);
    const stream = new EventStream(reply.raw, status, timings, request.log, () =>
      streams.delete(stream),
    );
    streams.add(stream);
    stream.start();
  });

  // Open streams would keep close() waiting forever: end them first.
  app.addHook("preClose", async () => {
    for (const stream of [...streams]) stream.close();
  });
};

/** The snapshot without its clock, to tell whether anything really changed. */
function fingerprint(snapshot: StatusSnapshot): string {
  return JSON.stringify({ ...snapshot, now: undefined });
}

/** One server-sent-events client: new events at once, snapshots throttled, heartbeats. */
class EventStream {
  private readonly res: ServerResponse;
  private readonly status: StatusSource;
  private readonly timings: StreamTimings;
  private readonly log: FastifyBaseLogger;
  private readonly onClosed: () => void;
  private unsubscribe: (() => void) | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private busy = false;
  private closed = false;
  private lastFingerprint = "";
  private lastCheckAt = 0;

  constructor(
    res: ServerResponse,
    status: StatusSource,
    timings: StreamTimings,
    log: FastifyBaseLogger,
    onClosed: () => void,
  ) {
    this.res = res;
    this.status = status;
    this.timings = timings;
    this.log = log;
    this.onClosed = onClosed;
  }

  start(): void {
    this.res.on("close", () => this.close());
    this.res.on("error", () => this.close());
    this.write(`retry: 3000\n: connected\n\n`);
    this.unsubscribe = this.status.onEvent((event: RunnerEvent) => {
      this.write(`data: ${JSON.stringify(event)}\n\n`);
      this.dirty = true;
    });
    this.statusTimer = setInterval(
      () => void this.maybeSendStatus(),
      this.timings.statusIntervalMs,
    );
    this.heartbeatTimer = setInterval(() => this.write(": ping\n\n"), this.timings.heartbeatMs);
    this.statusTimer.unref();
    this.heartbeatTimer.unref();
    // The first snapshot at once, so a client needs no separate fetch to be current.
    this.dirty = true;
    void this.maybeSendStatus();
  }

  private async maybeSendStatus(): Promise<void> {
    if (this.closed || this.busy) return;
    const idleDue = Date.now() - this.lastCheckAt >= this.timings.idleCheckMs;
    if (!this.dirty && !idleDue) return;
    this.busy = true;
    const wasDirty = this.dirty;
    this.dirty = false;
    this.lastCheckAt = Date.now();
    try {
      const snapshot = await this.status.snapshot();
      const print = fingerprint(snapshot);
      if (wasDirty || print !== this.lastFingerprint) {
        this.lastFingerprint = print;
        this.write(`event: status\ndata: ${JSON.stringify(snapshot)}\n\n`);
      }
    } catch (error) {
      this.log.warn({ error: errorMessage(error) }, "status snapshot for event stream failed");
    } finally {
      this.busy = false;
    }
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.log.warn("event stream client is not reading; closing it");
      this.close();
      return;
    }
    this.res.write(chunk);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statusTimer);
    clearInterval(this.heartbeatTimer);
    this.unsubscribe?.();
    if (!this.res.writableEnded) this.res.end();
    this.onClosed();
  }
}
