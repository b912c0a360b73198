import type { Logger } from "../../logger.ts";
import type { MarketplaceClient, RejectedJob } from "../../marketplace/client.ts";
import type { Job, JobWithBids } from "../../marketplace/schemas.ts";
import type { Metrics } from "../../metrics.ts";
import type { Ledger } from "../../state/types.ts";
import type { DecisionLog } from "../telemetry/decision-log.ts";
import { isLiveBid, lookupBudget, QUIET_SPELL_MS, StakeWatch } from "./stake-watch.ts";

/** Attempts per listing within one poll: one quick retry for a blip; the next poll does the rest. */
const LISTING_ATTEMPTS = 2;
/**
 * A job of ours that left `posted` without being assigned (awaiting the poster's
 * approval, negotiating, or cancelled) still awaits an award: it is looked for among
 * assigned jobs at every poll, and given up on after an hour.
 */
const LIMBO_MAX_MS = 3_600_000;
/** The decision log's name for a decision the feed makes for every agent. */
const ALL_AGENTS = "(all agents)";
/** Polls that a job whose bid of ours was cancelled is offered for a new bid, listed or not. */
const REBID_POLLS = 3;

export interface FeedPage {
  /** Jobs that take bids (`posted`: the real service never sets `bidding`). */
  biddable: Job[];
  /** Jobs assigned to anyone, listed only when one of ours may be among them; each worker picks its own. */
  assigned: Job[];
  /** True when `biddable` is the whole listing (a poll), not one job of a notification. */
  complete?: boolean;
  /** Jobs in negotiation with a bid of ours that no listing showed (found by look-up). */
  negotiating?: JobWithBids[];
}

export interface JobFeedOptions {
  client: MarketplaceClient;
  logger: Logger;
  metrics?: Metrics;
  /**
   * Where bids placed before a restart are found, so their awards are not missed; and
   * the stakes looked up one by one when no listing shows their job (see StakeWatch).
   */
  ledger?: Pick<Ledger, "bidsOn" | "openStakes" | "endStake" | "get" | "noteOutcome">;
  /** The runner's poll interval: the look-up budget is per minute (see lookupBudget). */
  pollIntervalMs?: number;
  /** The marketplace ids of this runner's agents. */
  ourAgents?: () => ReadonlySet<string>;
  /** Where a job too large to read is recorded as every agent's skip (`too_large`). */
  decisions?: DecisionLog;
  now?: () => number;
}

interface Watched {
  /** Seen assigned to one of our agents: it leaves the watch once it is no longer assigned. */
  ours: boolean;
  /** When it was first missing from both listings, if it is. */
  limboSince?: number;
}

/**
 * The shared job feed: one `posted` listing per poll serves every agent, the bid list
 * of a new job is fetched once for all agents (to find bids of ours the ledger does
 * not know, e.g. placed by another runner of the same owner), and the `assigned`
 * listing is asked for only when it can hold news for us: at the first poll, when a
 * job we bid on left `posted`, while a job of ours is still assigned, or after a hint.
 */
export class JobFeed {
  readonly #client: MarketplaceClient;
  readonly #logger: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #ledger: Pick<Ledger, "bidsOn"> | undefined;
  /** The stakes no listing shows; undefined without a ledger. */
  readonly #stakes: StakeWatch | undefined;
  /** Jobs with a cancelled bid of ours, offered for a new bid for a few polls. */
  readonly #rebiddable = new Map<string, { job: Job; polls: number }>();
  /** By agent: the jobs whose cancelled bid it is to decide again (taken by its bidder). */
  readonly #reopened = new Map<string, Set<string>>();
  /** When a poll last reached the marketplace. */
  #lastPolledAt: number | undefined;
  readonly #ourAgents: () => ReadonlySet<string>;
  readonly #decisions: DecisionLog | undefined;
  /** Our agents as of the last assigned listing. */
  #listedFor: ReadonlySet<string> = new Set();
  readonly #now: () => number;
  readonly #bidders = new Map<string, Promise<Set<string>>>();
  readonly #reportedRejects = new Set<string>();
  /** Jobs with a bid of ours whose award is not known yet, or assigned to one of ours. */
  readonly #watched = new Map<string, Watched>();
  /** Job ids of the last `posted` listing. */
  #posted = new Set<string>();
  #firstPoll = true;
  #hinted = false;

  constructor(options: JobFeedOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#ledger = options.ledger;
    this.#ourAgents = options.ourAgents ?? (() => new Set());
    this.#decisions = options.decisions;
    this.#now = options.now ?? Date.now;
    const ledger = options.ledger;
    const pollIntervalMs = options.pollIntervalMs ?? 30_000;
    this.#stakes = ledger
      ? new StakeWatch({
          client: this.#client,
          ledger,
          logger: this.#logger,
          metrics: this.#metrics,
          ourAgents: this.#ourAgents,
          budget: () => lookupBudget(this.#ourAgents().size, pollIntervalMs),
          now: this.#now,
        })
      : undefined;
  }

  /** How many jobs the runner has a stake in that may need a look-up (for tests and benches). */
  get stakes(): number {
    return this.#stakes?.size ?? 0;
  }

  /**
   * The jobs whose cancelled bid this agent is to decide again, once: its bidder forgets
   * what it decided about them.
   */
  takeReopened(agentId: string): ReadonlySet<string> | undefined {
    const jobs = this.#reopened.get(agentId);
    if (jobs) this.#reopened.delete(agentId);
    return jobs;
  }

  get hasReopened(): boolean {
    return this.#reopened.size > 0;
  }

  /** How many jobs the feed keeps an eye on for an award (for tests and status). */
  get watching(): number {
    return this.#watched.size;
  }

  /** One poll. Throws when the marketplace cannot be listed (the caller backs off). */
  async poll(signal?: AbortSignal, options: { attempts?: number } = {}): Promise<FeedPage> {
    const posted = await this.#client.listJobs({ status: "posted" }, signal, {
      maxAttempts: options.attempts ?? LISTING_ATTEMPTS,
    });
    this.#report(posted.rejected);
    const ids = new Set(posted.jobs.map((job) => job.job_id));
    await this.#watchBidsFromLedger([...ids].filter((id) => !this.#posted.has(id)));
    this.#posted = ids;
    // Forget bid lists of jobs that no longer take bids.
    for (const jobId of this.#bidders.keys()) if (!ids.has(jobId)) this.#bidders.delete(jobId);

    let assigned: Job[] = [];
    if (this.#assignedMayHaveNews()) {
      const listing = await this.#client.listJobs({ status: "assigned" }, signal, {
        maxAttempts: LISTING_ATTEMPTS,
      });
      this.#report(listing.rejected);
      this.#firstPoll = false;
      this.#hinted = false;
      this.#listedFor = new Set(this.#ourAgents());
      assigned = listing.jobs;
      this.#settle(assigned);
    }
    const now = this.#now();
    // Long without an answered poll: the service may have cancelled our pending bids.
    if (this.#lastPolledAt !== undefined && now - this.#lastPolledAt >= QUIET_SPELL_MS)
      this.#stakes?.quietSpell();
    this.#lastPolledAt = now;
    if (!this.#stakes) return { biddable: posted.jobs, assigned, complete: true };

    const visible = new Set([...ids, ...assigned.map((job) => job.job_id)]);
    const news = await this.#stakes.round(visible, signal);
    for (const [jobId, agents] of news.reopened) {
      for (const agentId of agents) {
        const jobs = this.#reopened.get(agentId);
        if (jobs) jobs.add(jobId);
        else this.#reopened.set(agentId, new Set([jobId]));
      }
      this.forget(jobId);
    }
    for (const job of news.biddable) this.#rebiddable.set(job.job_id, { job, polls: REBID_POLLS });
    const biddable = [...posted.jobs];
    for (const [jobId, entry] of this.#rebiddable) {
      if (!ids.has(jobId)) biddable.push(entry.job);
      if (--entry.polls <= 0) this.#rebiddable.delete(jobId);
    }
    const listedAssigned = new Set(assigned.map((job) => job.job_id));
    const found = news.assigned.filter((job) => !listedAssigned.has(job.job_id));
    return {
      biddable,
      assigned: found.length > 0 ? [...assigned, ...found] : assigned,
      complete: true,
      ...(news.negotiating.length > 0 ? { negotiating: news.negotiating } : {}),
    };
  }

  /**
   * A hint (a `job.assigned` notification) that a job may have been assigned to one of
   * our agents: the next poll lists assigned jobs. Only a hint: nothing is trusted.
   */
  hintAssigned(_jobId: string): void {
    // The next listing finds the job if it is ours, and watches it from then on.
    this.#hinted = true;
  }

  /** Agent ids that have bid on a job, fetched once per job and shared. */
  bidders(jobId: string): Promise<Set<string>> {
    let pending = this.#bidders.get(jobId);
    if (!pending) {
      pending = this.#client.listBids(jobId).then((bids) => {
        // A cancelled, rejected or withdrawn bid is no bid: it does not stop a new one.
        const live = bids.filter(isLiveBid);
        const agents = new Set(live.map((b) => b.agent_id));
        const ours = this.#ourAgents();
        for (const bid of live) {
          if (ours.has(bid.agent_id)) {
            this.#watch(jobId);
            this.#stakes?.noteBid(jobId, bid.agent_id, bid.bid_id);
          }
        }
        return agents;
      });
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

  /** Records our own bid: later checks see it without a request, and its award is watched for. */
  noteBid(jobId: string, agentId: string, bidId?: string): void {
    this.#watch(jobId);
    this.#stakes?.noteBid(jobId, agentId, bidId);
    void this.#bidders
      .get(jobId)
      ?.then((set) => set.add(agentId))
      .catch(() => undefined);
  }

  #watch(jobId: string): void {
    if (!this.#watched.has(jobId)) this.#watched.set(jobId, { ours: false });
  }

  /** New jobs of the listing that the ledger says we bid on (before a restart). */
  async #watchBidsFromLedger(newIds: string[]): Promise<void> {
    if (!this.#ledger || newIds.length === 0) return;
    try {
      for (const jobId of (await this.#ledger.bidsOn(newIds)).keys()) this.#watch(jobId);
    } catch (error) {
      // Without the ledger's word, look at the assigned jobs rather than miss an award.
      this.#hinted = true;
      this.#logger.warn({ err: error }, "ledger: could not look up earlier bids");
    }
  }

  /**
   * A job with a bid of ours, award not known, missing from the last `posted` listing:
   * countered (`negotiating`, `awaiting_approval`), awarded, or withdrawn.
   */
  get bidLeftPosted(): boolean {
    for (const [jobId, watched] of this.#watched)
      if (!watched.ours && !this.#posted.has(jobId)) return true;
    return false;
  }

  #assignedMayHaveNews(): boolean {
    if (this.#firstPoll || this.#hinted || this.bidLeftPosted) return true;
    // An agent of ours not there at the last listing (started late, claimed from another
    // replica after a failover or hand-over) may hold awards from before.
    for (const agentId of this.#ourAgents()) if (!this.#listedFor.has(agentId)) return true;
    for (const watched of this.#watched.values()) if (watched.ours) return true;
    return false;
  }

  /** Updates the watch from an assigned listing. */
  #settle(assigned: Job[]): void {
    const ours = this.#ourAgents();
    const assignedTo = new Map(assigned.map((job) => [job.job_id, job.assigned_agent_id]));
    for (const job of assigned) {
      if (job.assigned_agent_id && ours.has(job.assigned_agent_id)) {
        this.#watched.set(job.job_id, { ours: true });
      }
    }
    const now = this.#now();
    for (const [jobId, watched] of this.#watched) {
      if (this.#posted.has(jobId)) continue;
      const agent = assignedTo.get(jobId);
      if (agent !== undefined) {
        // Someone else's award: nothing more to wait for.
        if (!(agent && ours.has(agent))) this.#watched.delete(jobId);
        continue;
      }
      // Neither posted nor assigned: ours is done, or it waits elsewhere for a while.
      if (watched.ours) {
        this.#watched.delete(jobId);
      } else if (watched.limboSince === undefined) {
        watched.limboSince = now;
      } else if (now - watched.limboSince >= LIMBO_MAX_MS) {
        this.#watched.delete(jobId);
      }
    }
  }

  #report(rejected: RejectedJob[]): void {
    for (const reject of rejected) {
      const key = `${reject.jobId}|${reject.problem}`;
      if (this.#reportedRejects.has(key)) continue;
      this.#reportedRejects.add(key);
      if (this.#reportedRejects.size > 10_000) this.#reportedRejects.clear();
      this.#metrics?.jobsSkipped.inc({ reason: reject.reason });
      this.#logger.warn(
        { jobId: reject.jobId, problem: reject.problem, reason: reject.reason },
        reject.reason === "too_large" ? "job too large, skipped" : "malformed job skipped",
      );
      if (reject.reason === "too_large" && reject.jobId !== undefined) {
        // No agent saw the job: one skip in the decision log stands for all of them.
        this.#decisions?.record(ALL_AGENTS, {
          at: new Date(this.#now()).toISOString(),
          jobId: reject.jobId,
          agent: ALL_AGENTS,
          agentId: null,
          outcome: "skip",
          reason: "too_large",
          detail: `the listing held more of this job than is read (${reject.problem})`,
        });
      }
    }
  }
}
