import { request } from "undici";
import { BazaarRunnerError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { AgentDoc, JobDoc } from "./store.ts";

/** As on the real service: one attempt, 10 s, no retry. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** The assignment call's timeout (submit.py `_call_agent_webhook`: 30 s). */
export const ASSIGNMENT_TIMEOUT_MS = 30_000;
/** The most of an agent's answer read (the answer to an assignment may carry its output). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Deliveries under way at once; the rest wait their turn (bounded, oldest kept). */
const CONCURRENCY = 16;
const MAX_QUEUED = 10_000;

/**
 * `job.posted` (webhooks.py) goes to matched agents; `job_assigned` (bidding/submit.py)
 * to the winner of a selection when its execution_mode is `webhook`. The service also
 * defines `job.assigned` and `bid.selected` notifications but never sends them.
 */
export type WebhookEvent = "job.posted" | "job_assigned";

interface Delivery {
  url: string;
  agentId: string;
  event: WebhookEvent;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Reads the answer (status and text); without it the answer is discarded. */
  onAnswer?: (status: number, text: string) => void;
}

/** What an agent answered to an assignment that counts as its result. */
export interface WebhookResult {
  success: boolean;
  output: string;
}

/** The job fields a `job.posted` notification carries (webhooks.py). */
function jobView(job: JobDoc): Record<string, unknown> {
  return {
    job_id: job.job_id,
    title: job.title,
    description: job.description,
    budget_usd: job.budget_usd,
    required_capabilities: job.required_capabilities,
    poster_id: job.poster_id,
    status: job.status,
    created_at: job.created_at,
  };
}

/** Python's truthiness of a JSON value (`if result.get("output")`). */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && value !== null) return Object.keys(value).length > 0;
  return Boolean(value);
}

/**
 * The result an answer to `job_assigned` carries, or null: a 200 whose JSON object has a
 * non-empty `output` (submit.py). `success` defaults to true. A non-text output is kept
 * as its JSON text, so that every client reads a string.
 */
export function assignmentResult(status: number, text: string): WebhookResult | null {
  if (status !== 200) return null;
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return null;
  const { output, success } = answer as Record<string, unknown>;
  if (!truthy(output)) return null;
  return {
    success: success === undefined ? true : truthy(success),
    output: typeof output === "string" ? output : JSON.stringify(output),
  };
}

/**
 * Whether the agent asked to be notified. As on the real service, a webhook_url is what
 * counts, whatever the execution_mode: an agent registered as `self_hosted` and given a
 * webhook_url later by `PUT /api/agents/{id}` is notified too.
 */
export function wantsWebhooks(agent: AgentDoc): agent is AgentDoc & { webhook_url: string } {
  return Boolean(agent.webhook_url);
}

/** The answer's text, refused past MAX_ANSWER_BYTES. */
async function readCapped(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES)
      throw new BazaarRunnerError(
        "BR_ERR_BODY_TOO_LARGE",
        `answer larger than ${MAX_ANSWER_BYTES} bytes`,
      );
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Sends webhooks the way the real service does, in the background (the API call that
 * caused it does not wait), once, with no retry and no signature: `job.posted` with JSON
 * and the `X-OpenAgora-Event` / `X-OpenAgora-Agent-Id` headers (10 s), and the flat
 * `job_assigned` call without them (30 s), whose answer may be the agent's result.
 */
export class WebhookSender {
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #queue: Delivery[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  readonly #assignmentTimeoutMs: number;

  constructor(
    log: Logger,
    timeoutMs = WEBHOOK_TIMEOUT_MS,
    assignmentTimeoutMs = ASSIGNMENT_TIMEOUT_MS,
  ) {
    this.#log = log;
    this.#timeoutMs = timeoutMs;
    this.#assignmentTimeoutMs = assignmentTimeoutMs;
  }

  /** Queues `job.posted` to each matched agent that has a webhook_url; returns at once. */
  jobPosted(job: JobDoc, agents: AgentDoc[]): void {
    const event = "job.posted";
    const body = JSON.stringify({ event, job: jobView(job) });
    for (const agent of agents) {
      if (!wantsWebhooks(agent)) continue;
      this.#enqueue({
        url: agent.webhook_url,
        agentId: agent.agent_id,
        event,
        body,
        headers: {
          "content-type": "application/json",
          "x-openagora-event": event,
          "x-openagora-agent-id": agent.agent_id,
        },
        timeoutMs: this.#timeoutMs,
      });
    }
  }

  /**
   * Calls a `webhook` agent with the job it was just assigned (submit.py
   * `_call_agent_webhook`): the flat `job_assigned` body, no X-OpenAgora headers, 30 s.
   * `onResult` gets the result when the answer carries one.
   */
  jobAssigned(job: JobDoc, agent: AgentDoc, onResult: (result: WebhookResult) => void): void {
    if (agent.execution_mode !== "webhook" || !wantsWebhooks(agent)) return;
    const event = "job_assigned";
    this.#enqueue({
      url: agent.webhook_url,
      agentId: agent.agent_id,
      event,
      body: JSON.stringify({
        event,
        job_id: job.job_id,
        title: job.title,
        description: job.description,
        budget_usd: job.budget_usd,
        final_price_usd: job.final_price_usd,
        agent_id: agent.agent_id,
      }),
      headers: { "content-type": "application/json" },
      timeoutMs: this.#assignmentTimeoutMs,
      onAnswer: (status, text) => {
        const result = assignmentResult(status, text);
        if (result) onResult(result);
        else
          this.#log.debug(
            { event, agentId: agent.agent_id, status },
            "webhook answer has no result",
          );
      },
    });
  }

  #enqueue(delivery: Delivery): void {
    if (this.#closing.signal.aborted) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#log.warn(
        { event: delivery.event, agentId: delivery.agentId },
        "webhook queue full; dropped",
      );
      return;
    }
    this.#queue.push(delivery);
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
        headers: delivery.headers,
        body: delivery.body,
        signal: AbortSignal.any([AbortSignal.timeout(delivery.timeoutMs), this.#closing.signal]),
      });
      if (delivery.onAnswer) {
        delivery.onAnswer(response.statusCode, await readCapped(response.body));
      } else {
        await response.body.dump();
      }
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
