import type { Logger } from "../../logger.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { errorMessage } from "../../secrets.ts";
import { awardPushed } from "../../tracing/award-notice.ts";
import type { FeedPage } from "./job-feed.ts";

/** The path on the runner's port where the marketplace posts webhook notifications. */
export const WEBHOOK_PATH = "/webhooks/agentbazaar";

/** The service's two notifications (webhooks.py sends the first, bidding/submit.py the second). */
export const POSTED_EVENT = "job.posted";
export const ASSIGNED_EVENT = "job_assigned";

/** What a notification tells the runner: only a hint, checked against the API before acting. */
export interface WebhookHint {
  event: string;
  agentId: string;
  jobId: string;
}

/** The webhook_url agents register with when PUBLIC_URL is set. */
export function webhookUrl(publicUrl: string | undefined): string | undefined {
  return publicUrl === undefined ? undefined : `${publicUrl}${WEBHOOK_PATH}`;
}

/** Polling stays relaxed while a notification came within this many relaxed intervals. */
const PUSH_ACTIVE_INTERVALS = 10;

/**
 * The wait between polls: AGENT_POLL_INTERVAL, or four times it while notifications
 * arrive (the last one within ten relaxed intervals). Polling is the fallback for a
 * notification that never came.
 */
export function pollIntervalFor(baseMs: number, lastHintAt: number, now: number): number {
  const relaxed = baseMs * 4;
  return now - lastHintAt < PUSH_ACTIVE_INTERVALS * relaxed ? relaxed : baseMs;
}

/** A second notification of the same event and job within this time is not followed again. */
const HINT_DEDUPE_MS = 30_000;

export interface HintFollowerDeps {
  client: Pick<MarketplaceClient, "getJob">;
  logger: Logger;
  /** Whether the agent id is one of this runner's running agents. */
  isOurAgent(agentId: string): boolean;
  /** The runner's one dispatch (shared with polls): a posted job is decided, an assigned one taken up. */
  dispatch(page: FeedPage): Promise<void>;
  /** Tells the job feed a job may have been assigned to one of ours. */
  assignedHint(jobId: string): void;
  /** False while the marketplace is down or the runner stops: hints are not followed. */
  following(): boolean;
  signal: AbortSignal;
  now?: () => number;
}

/**
 * Follows webhook notifications: each is a hint, never a fact. The job is fetched from
 * the API (once per job and event for a while, however many agents were notified) and
 * acted on as the API shows it, at once rather than at the next poll: a posted job is
 * decided, a job assigned to one of ours is taken up (its work starts).
 */
export class HintFollower {
  readonly #d: HintFollowerDeps;
  readonly #hinted = new Map<string, number>();
  #lastHintAt = 0;

  constructor(deps: HintFollowerDeps) {
    this.#d = deps;
  }

  /** When the last notification came (epoch ms): polling relaxes while they come. */
  get lastHintAt(): number {
    return this.#lastHintAt;
  }

  follow(hint: WebhookHint): void {
    const now = (this.#d.now ?? Date.now)();
    this.#lastHintAt = now;
    if (hint.event !== POSTED_EVENT && hint.event !== ASSIGNED_EVENT) {
      this.#d.logger.debug({ event: hint.event, jobId: hint.jobId }, "webhook event not followed");
      return;
    }
    if (!this.#d.following()) return;
    const key = `${hint.event}|${hint.jobId}`;
    if ((this.#hinted.get(key) ?? 0) > now - HINT_DEDUPE_MS) return;
    if (this.#hinted.size >= 10_000) this.#hinted.clear();
    this.#hinted.set(key, now);
    void this.#act(hint.jobId).catch((error: unknown) => {
      this.#d.logger.debug(
        { jobId: hint.jobId, problem: errorMessage(error) },
        "webhook hint not followed",
      );
    });
  }

  async #act(jobId: string): Promise<void> {
    const { bids: _bids, ...job } = await this.#d.client.getJob(jobId, this.#d.signal);
    if (job.status === "posted") {
      await this.#d.dispatch({ biddable: [job], assigned: [] });
    } else if (job.status === "assigned" && job.assigned_agent_id) {
      if (!this.#d.isOurAgent(job.assigned_agent_id)) return;
      this.#d.assignedHint(job.job_id);
      awardPushed(job.job_id); // the award span says it came by push
      await this.#d.dispatch({ biddable: [], assigned: [job] });
    }
  }
}
