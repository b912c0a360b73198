import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { ASSIGNED_EVENT, WEBHOOK_PATH, type WebhookHint } from "../runner/feed/webhook-hints.ts";

export { WEBHOOK_PATH, type WebhookHint } from "../runner/feed/webhook-hints.ts";
/** A notification is a small JSON object; anything larger is refused unread. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

export interface WebhookOptions {
  /** Whether the agent id is one of this runner's agents; others are ignored. */
  isKnownAgent(agentId: string): boolean;
  /** Called after the answer is sent; must not throw. */
  onHint(hint: WebhookHint): void;
  logger: Logger;
  metrics?: Metrics;
  /** Requests per source address per second, sustained, and the burst allowed (default 50 / 200). */
  ratePerSecond?: number;
  burst?: number;
  now?: () => number;
}

/**
 * The two notifications the service sends; only what a hint needs is read, the rest of
 * the body is not trusted and not kept.
 * - `job.posted` (webhooks.py): `{event, job: {job_id, ...}}`, the agent named by the
 *   X-OpenAgora-Agent-Id header.
 * - `job_assigned` (bidding/submit.py): flat `{event, job_id, ..., agent_id}` with no
 *   X-OpenAgora headers, so the agent is named by the body.
 */
const PostedSchema = z.looseObject({
  event: z.string().max(64),
  job: z.looseObject({ job_id: z.string().min(1).max(64) }),
});
const AssignedSchema = z.looseObject({
  event: z.literal(ASSIGNED_EVENT),
  job_id: z.string().min(1).max(64),
  agent_id: z.string().min(1).max(64),
});

/** The hint a body gives, with the agent from the header or (flat form) the body; undefined if malformed. */
function readNotification(
  body: unknown,
  header: string,
): { event: string; jobId: string; agentId: string } | undefined {
  const assigned = AssignedSchema.safeParse(body);
  if (assigned.success)
    return {
      event: ASSIGNED_EVENT,
      jobId: assigned.data.job_id,
      agentId: header || assigned.data.agent_id,
    };
  const posted = PostedSchema.safeParse(body);
  if (posted.success)
    return { event: posted.data.event, jobId: posted.data.job.job_id, agentId: header };
  return undefined;
}

/** Token buckets per source address, bounded in number. */
class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;

  constructor(rate: number, burst: number, now: () => number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
  }

  allow(address: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(address);
    if (!bucket) {
      if (this.#buckets.size >= 10_000) this.#buckets.clear();
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(address, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

/**
 * The runner's webhook endpoint. The marketplace does not sign notifications, so each
 * is only a hint: the body is bounded and barely read, unknown agents are ignored (a
 * malformed body is refused before its agent is known),
 * each source address is rate-limited, the answer goes out at once, and the runner
 * looks the job up through the API before it acts.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookOptions> = async (app, opts) => {
  const limiter = new RateLimiter(
    opts.ratePerSecond ?? 50,
    opts.burst ?? 200,
    opts.now ?? Date.now,
  );
  const count = (outcome: string) => opts.metrics?.webhooks.inc({ outcome });

  // Reads the body as text itself, so that only this route's limit and parser apply.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.post(
    WEBHOOK_PATH,
    {
      bodyLimit: WEBHOOK_BODY_LIMIT,
      // Checked before the body is read: a flood costs neither parsing nor buffering.
      onRequest: async (request, reply) => {
        if (limiter.allow(request.ip)) return;
        count("rate_limited");
        return reply.code(429).header("retry-after", "1").send({ error: "rate_limited" });
      },
    },
    async (request, reply) => {
      // job.posted names the agent in X-OpenAgora-Agent-Id; job_assigned in its body.
      const header = request.headers["x-openagora-agent-id"];
      let notice: ReturnType<typeof readNotification>;
      try {
        notice = readNotification(
          JSON.parse(String(request.body ?? "")),
          typeof header === "string" ? header : "",
        );
      } catch {
        notice = undefined;
      }
      if (!notice) {
        count("malformed");
        opts.logger.warn({ ip: request.ip }, "malformed webhook notification ignored");
        return reply.code(400).send({ error: "malformed" });
      }
      const { agentId } = notice;
      if (!opts.isKnownAgent(agentId)) {
        count("unknown_agent");
        return reply.code(202).send({ accepted: false });
      }
      count("accepted");
      const hint: WebhookHint = { event: notice.event, agentId, jobId: notice.jobId };
      // After the answer: the marketplace waits for nothing the runner does.
      setImmediate(() => {
        try {
          opts.onHint(hint);
        } catch (error) {
          opts.logger.warn({ err: error, agentId }, "webhook hint handler failed");
        }
      });
      // Always 202, never 200 with `output`: the service takes a 200 with `output` as the
      // job's submission and completes the job with it. The runner submits a result only
      // from its ledger (written before it is sent, so a restart neither loses nor repeats
      // it) through `submit-result`, after looking the job up; an unsigned push is a hint.
      return reply.code(202).send({ accepted: true });
    },
  );
};
