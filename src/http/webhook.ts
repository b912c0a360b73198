import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { WEBHOOK_PATH, type WebhookHint } from "../runner/push.ts";

export { WEBHOOK_PATH, type WebhookHint } from "../runner/push.ts";
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

/** Only what a hint needs; the rest of the body is not trusted and not kept. */
const NotificationSchema = z.looseObject({
  event: z.string().max(64),
  job: z.looseObject({ job_id: z.string().min(1).max(64) }),
});

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
 * is only a hint: the body is bounded and barely read, unknown agents are ignored,
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
      // The agent is named by the header the service sends (X-OpenAgora-Agent-Id).
      const header = request.headers["x-openagora-agent-id"];
      const agentId = typeof header === "string" ? header : "";
      if (!opts.isKnownAgent(agentId)) {
        count("unknown_agent");
        return reply.code(202).send({ accepted: false });
      }
      let parsed: z.infer<typeof NotificationSchema> | undefined;
      try {
        const result = NotificationSchema.safeParse(JSON.parse(String(request.body ?? "")));
        if (result.success) parsed = result.data;
      } catch {
        parsed = undefined;
      }
      if (!parsed) {
        count("malformed");
        opts.logger.warn({ agentId, ip: request.ip }, "malformed webhook notification ignored");
        return reply.code(400).send({ error: "malformed" });
      }
      count("accepted");
      const hint: WebhookHint = { event: parsed.event, agentId, jobId: parsed.job.job_id };
      // After the answer: the marketplace waits for nothing the runner does.
      setImmediate(() => {
        try {
          opts.onHint(hint);
        } catch (error) {
          opts.logger.warn({ err: error, agentId }, "webhook hint handler failed");
        }
      });
      return reply.code(202).send({ accepted: true });
    },
  );
};
