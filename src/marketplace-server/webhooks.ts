import { request } from "undici";
import type { Logger } from "../logger.ts";
import type { AgentDoc, JobDoc } from "./store.ts";

/** As on the real service: one attempt, 10 s, no retry. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Deliveries under way at once; the rest wait their turn (bounded, oldest kept). */
const CONCURRENCY = 16;
const MAX_QUEUED = 10_000;

export type WebhookEvent = "job.posted" | "job.assigned" | "bid.selected";

interface Delivery {
  url: string;
  agentId: string;
  event: WebhookEvent;
  body: string;
}

/** The job fields a notification carries (the contract's list, plus the award when there is one). */
function jobView(job: JobDoc): Record<string, unknown> {
  const view: Record<string, unknown> = {
    job_id: job.job_id,
    title: job.title,
    description: job.description,
    budget_usd: job.budget_usd,
    required_capabilities: job.required_capabilities,
    poster_id: job.poster_id,
    status: job.status,
    created_at: job.created_at,
  };
  if (job.assigned_agent_id) {
    view.assigned_agent_id = job.assigned_agent_id;
    view.winning_bid_id = job.winning_bid_id;
  }
  return view;
}

/**
 * Whether the agent asked to be notified. As on the real service, a webhook_url is what
 * counts, whatever the execution_mode: an agent registered as `self_hosted` and given a
 * webhook_url later by `PUT /api/agents/{id}` is notified too.
 */
export function wantsWebhooks(agent: AgentDoc): agent is AgentDoc & { webhook_url: string } {
  return Boolean(agent.webhook_url);
}

/**
 * Sends webhook notifications the way the real service does: `POST webhook_url` with
 * JSON and the `X-OpenAgora-Event` / `X-OpenAgora-Agent-Id` headers, in the background
 * (the API call that caused it does not wait), 10 s timeout, no retry, no signature.
 */
export class WebhookSender {
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #queue: Delivery[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #closing = new AbortController();

  constructor(log: Logger, timeoutMs = WEBHOOK_TIMEOUT_MS) {
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  /** Queues one notification per agent; returns at once. */
  notify(event: WebhookEvent, job: JobDoc, agents: AgentDoc[]): void {
    if (this.#closing.signal.aborted) return;
    const body = JSON.stringify({ event, job: jobView(job) });
    for (const agent of agents) {
      if (!wantsWebhooks(agent)) continue;
      if (this.#queue.length >= MAX_QUEUED) {
        this.#log.warn({ event, agentId: agent.agent_id }, "webhook queue full; dropped");
        continue;
      }
      this.#queue.push({ url: agent.webhook_url, agentId: agent.agent_id, event, body });
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#running.size < CONCURRENCY) {
      const next = this.#queue.shift();
      if (!next) return;
      const done: Promise<void> = this.#deliver(next).finally(() => {
        this.#running.delete(done);
        this.#pump();
      });
      this.#running.add(done);
    }
  }

  async #deliver(delivery: Delivery): Promise<void> {
    try {
      const response = await request(delivery.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-openagora-event": delivery.event,
          "x-openagora-agent-id": delivery.agentId,
        },
        body: delivery.body,
        signal: AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#closing.signal]),
      });
      await response.body.dump();
      this.#log.debug(
        { event: delivery.event, agentId: delivery.agentId, status: response.statusCode },
        "webhook delivered",
      );
    } catch (error) {
      // No retry, as on the real service: polling is the agent's fallback.
      this.#log.debug(
        { event: delivery.event, agentId: delivery.agentId, problem: String(error) },
        "webhook delivery failed",
      );
    }
  }

  /** Stops sending: queued notifications are dropped, those under way cut short. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#queue.length = 0;
    await Promise.allSettled([...this.#running]);
  }
}
