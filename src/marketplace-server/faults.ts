import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { InvalidArgumentError } from "../errors.ts";

/**
 * Fault injection, for tests and the soak bench only: makes matching routes misbehave
 * the way a real marketplace or the network between can. Off unless rules are set.
 *
 *   setFaults({ rules: [{ route: "POST /api/jobs/:id/submit-result", fault: "error500", times: 2 }] })
 */

export type FaultKind =
  /** 500, plain text `Internal Server Error`. */
  | "error500"
  /** 429 with `Retry-After` and a JSON detail. */
  | "rateLimit"
  /** 503 with an HTML page, as a proxy in front of the service answers. */
  | "html503"
  /** The real answer, cut in half: the request takes effect, its JSON is unreadable. */
  | "truncatedJson"
  /**
   * For listings (`{jobs: [...]}`): every other job (the 1st, 3rd, ...) comes back
   * malformed (no title, a string budget, null capabilities); the rest are intact.
   */
  | "malformedJobs"
  /** Waits `delayMs`, then answers normally. */
  | "delay"
  /** Closes the connection without an answer. */
  | "drop";

export interface FaultRule {
  /**
   * `METHOD /path`, where a path segment `:name` or `*` matches any one segment and
   * METHOD may be `*`; e.g. `POST /api/jobs/:id/submit-result`, `* /api/jobs`.
   */
  route: string;
  fault: FaultKind;
  /** Chance that a matching request is hit, 0..1 (default 1). */
  probability?: number;
  /** Hit only the next N matching requests, then the rule is spent. */
  times?: number;
  /** For `delay` (default 1000). */
  delayMs?: number;
  /** For `rateLimit`: the `Retry-After` value in seconds (default 1). */
  retryAfterSeconds?: number;
  /**
   * For `error500` and `drop`: let the request take effect first, then lose the answer
   * (the case a client must survive: "did my submission land?").
   */
  after?: boolean;
}

export interface FaultRules {
  rules: FaultRule[];
  /** Random source in [0, 1) for `probability` (default Math.random); seed it for repeatable runs. */
  random?: () => number;
}

interface ActiveRule {
  rule: FaultRule;
  method: string;
  segments: string[];
  remaining: number;
}

/** A fault decided for one request. */
interface Decision {
  rule: FaultRule;
}

const HTML_503 =
  "<html><head><title>503 Service Temporarily Unavailable</title></head><body>" +
  "<center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center>" +
  "</body></html>";

function pathSegments(path: string): string[] {
  return path.split("/").filter((s) => s.length > 0);
}

function compile(rule: FaultRule): ActiveRule {
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(rule.route);
  if (!match) throw new InvalidArgumentError(`fault route must be "METHOD /path": ${rule.route}`);
  return {
    rule,
    method: match[1]!.toUpperCase(),
    segments: pathSegments(match[2]!),
    remaining: rule.times ?? Number.POSITIVE_INFINITY,
  };
}

function matches(active: ActiveRule, method: string, segments: string[]): boolean {
  if (active.method !== "*" && active.method !== method) return false;
  if (active.segments.length !== segments.length) return false;
  return active.segments.every((p, i) => p === "*" || p.startsWith(":") || p === segments[i]);
}

export class FaultInjector {
  private active: ActiveRule[] = [];
  private random: () => number = Math.random;
  private readonly decisions = new WeakMap<FastifyRequest, Decision>();
  /** How many requests each fault kind has hit, for tests and the bench's report. */
  readonly injected: Record<FaultKind, number> = {
    error500: 0,
    rateLimit: 0,
    html503: 0,
    truncatedJson: 0,
    malformedJobs: 0,
    delay: 0,
    drop: 0,
  };

  constructor(rules: FaultRules | null = null) {
    this.set(rules);
  }

  set(rules: FaultRules | null): void {
    this.active = (rules?.rules ?? []).map(compile);
    this.random = rules?.random ?? Math.random;
  }

  /** The first matching rule that fires for this request, consuming one of its `times`. */
  private decide(method: string, url: string): FaultRule | null {
    if (this.active.length === 0) return null;
    const segments = pathSegments(url.split("?")[0] ?? "");
    for (const active of this.active) {
      if (active.remaining <= 0 || !matches(active, method, segments)) continue;
      if (this.random() >= (active.rule.probability ?? 1)) continue;
      active.remaining -= 1;
      this.injected[active.rule.fault] += 1;
      return active.rule;
    }
    return null;
  }

  /** Adds the hooks to the app; they do nothing while no rule is set. */
  install(app: FastifyInstance): void {
    app.addHook("onRequest", async (request, reply) => {
      const rule = this.decide(request.method, request.url);
      if (!rule) return;
      switch (rule.fault) {
        case "delay":
          await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 1000));
          return;
        case "truncatedJson":
        case "malformedJobs":
          this.decisions.set(request, { rule });
          return;
        case "error500":
        case "drop":
          if (rule.after) {
            this.decisions.set(request, { rule });
            return;
          }
          return rule.fault === "drop" ? drop(request, reply) : serverError(reply);
        case "rateLimit": {
          const seconds = rule.retryAfterSeconds ?? 1;
          return reply
            .code(429)
            .header("retry-after", String(seconds))
            .send({ detail: "Rate limit exceeded. Please retry later." });
        }
        case "html503":
          return reply.code(503).type("text/html").send(HTML_503);
      }
    });

    app.addHook("onSend", async (request, reply, payload) => {
      const decision = this.decisions.get(request);
      if (!decision) return payload;
      this.decisions.delete(request);
      switch (decision.rule.fault) {
        case "truncatedJson": {
          const text = typeof payload === "string" ? payload : JSON.stringify(payload ?? "");
          return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
        }
        case "malformedJobs":
          return typeof payload === "string" ? malformJobs(payload) : payload;
        case "error500":
          reply.code(500).type("text/plain");
          return "Internal Server Error";
        case "drop":
          request.raw.socket?.destroy();
          return payload;
        default:
          return payload;
      }
    });
  }
}

function serverError(reply: FastifyReply): FastifyReply {
  return reply.code(500).type("text/plain").send("Internal Server Error");
}

function drop(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  request.raw.socket?.destroy();
  return reply;
}

/** Breaks every other job of a `{jobs: [...]}` payload; other payloads pass unchanged. */
function malformJobs(payload: string): string {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return payload;
  }
  if (typeof body !== "object" || body === null || !("jobs" in body) || !Array.isArray(body.jobs)) {
    return payload;
  }
  body.jobs = body.jobs.map((job: unknown, i: number) => {
    if (i % 2 !== 0 || typeof job !== "object" || job === null) return job;
    const { title: _title, ...rest } = job as Record<string, unknown>;
    return { ...rest, budget_usd: "a lot", required_capabilities: null };
  });
  return JSON.stringify(body);
}
