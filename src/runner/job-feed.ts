import type { Logger } from "../logger.ts";
import type { MarketplaceClient, RejectedJob } from "../marketplace/client.ts";
import type { Job } from "../marketplace/schemas.ts";
import type { Metrics } from "../metrics.ts";

/** Job statuses that still take bids. */
const BIDDABLE = ["posted", "bidding"] as const;
/** Attempts per listing within one poll: one quick retry for a blip; the next poll does the rest. */
const LISTING_ATTEMPTS = 2;

export interface FeedPage {
  /** Jobs that take bids, newest listing. */
  biddable: Job[];
  /** Jobs assigned to anyone; each worker picks its own. */
  assigned: Job[];
}

/**
 * The shared job feed: one listing per status per poll serves every agent, and the
 * bid list of a new job is fetched once for all agents (to find bids of ours that
 * the ledger does not know, e.g. placed by another runner of the same owner).
 */
export class JobFeed {
  readonly #client: MarketplaceClient;
  readonly #logger: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #bidders = new Map<string, Promise<Set<string>>>();
  readonly #reportedRejects = new Set<string>();

  constructor(client: MarketplaceClient, logger: Logger, metrics?: Metrics) {
    this.#client = client;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /** One poll. Throws when the marketplace cannot be listed (the caller backs off). */
  async poll(signal?: AbortSignal): Promise<FeedPage> {
    // One listing first: while the marketplace is down a poll costs that listing's few
    // attempts, not a few per status. The poll loop is the retry beyond that.
    const assigned = await this.#client.listJobs({ status: "assigned" }, signal, {
      maxAttempts: LISTING_ATTEMPTS,
    });
    const biddable = await Promise.all(
      BIDDABLE.map((status) =>
        this.#client.listJobs({ status }, signal, { maxAttempts: LISTING_ATTEMPTS }),
      ),
    );
    const seen = new Map<string, Job>();
    for (const listing of biddable) {
      this.#report(listing.rejected);
      for (const job of listing.jobs) seen.set(job.job_id, job);
    }
    this.#report(assigned.rejected);
    // Forget bid lists of jobs that no longer take bids.
    for (const jobId of this.#bidders.keys()) if (!seen.has(jobId)) this.#bidders.delete(jobId);
    return { biddable: [...seen.values()], assigned: assigned.jobs };
  }

  /** Agent ids that have bid on a job, fetched once per job and shared. */
  bidders(jobId: string): Promise<Set<string>> {
    let pending = this.#bidders.get(jobId);
    if (!pending) {
      pending = this.#client.listBids(jobId).then((bids) => new Set(bids.map((b) => b.agent_id)));
      // A failed fetch is not cached: the next agent or poll asks again.
      pending.catch(() => this.#bidders.delete(jobId));
      this.#bidders.set(jobId, pending);
    }
    return pending;
  }

  /** Drops the cached bid list of a job, so the next check asks the marketplace again. */
  forget(jobId: string): void {
    this.#bidders.delete(jobId);
  }

  /** Records our own bid so later checks within this process see it without a request. */
  noteBid(jobId: string, agentId: string): void {
    void this.#bidders
      .get(jobId)
      ?.then((set) => set.add(agentId))
      .catch(() => undefined);
  }

  #report(rejected: RejectedJob[]): void {
    for (const reject of rejected) {
      const key = `${reject.jobId}|${reject.problem}`;
      if (this.#reportedRejects.has(key)) continue;
      this.#reportedRejects.add(key);
      if (this.#reportedRejects.size > 10_000) this.#reportedRejects.clear();
      this.#metrics?.jobsSkipped.inc({ reason: "malformed" });
      this.#logger.warn({ jobId: reject.jobId, problem: reject.problem }, "malformed job skipped");
    }
  }
}
