import type { Logger } from "../../logger.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { Bid, Job, JobWithBids } from "../../marketplace/schemas.ts";
import type { Metrics } from "../../metrics.ts";
import { mapBounded } from "../../pool.ts";
import { errorMessage } from "../../secrets.ts";
import type { Ledger } from "../../state/types.ts";

/**
 * Look-ups allowed per minute: a share per agent (stakes grow with the agents) and a
 * base for a small runner. At the default poll (30 s) 300 agents get 910 look-ups a
 * poll, so 1,000 jobs out of every listing are all looked at within two polls, at about
 * 6 requests per agent per minute (the target is 15 + 60/N).
 */
export const LOOKUPS_PER_AGENT_MINUTE = 6;
export const LOOKUPS_BASE_PER_MINUTE = 20;
/** Look-ups under way at once (the shared pool has 16 connections). */
const LOOKUP_CONCURRENCY = 8;
/**
 * A job a listing still shows (`posted`, or assigned) needs no look-up for its award;
 * only a cancelled bid (the service's stale-agent sweep) would go unseen, so it is
 * looked at this rarely, and at once after a quiet spell.
 */
const VISIBLE_RECHECK_MS = 10 * 60_000;
/**
 * The service cancels the pending bids of an agent silent for 5 minutes; a heartbeat
 * may be a minute old when the silence starts, so a gap of 4 minutes between answered
 * polls may have cost us bids.
 */
export const QUIET_SPELL_MS = 4 * 60_000;

/** Bid statuses after which the bid can no longer win. */
const DEAD_BID_STATUSES = new Set(["cancelled", "rejected", "withdrawn"]);
/** Job statuses in which the job still takes bids. */
const BIDDABLE_STATUSES = new Set(["open", "posted", "bidding"]);
/** Job statuses in which an award may still come (a poster deciding, or negotiating). */
const UNDECIDED_STATUSES = new Set([...BIDDABLE_STATUSES, "negotiating", "awaiting_approval"]);

/** The look-ups a poll may make, from the agents run and the poll interval. */
export function lookupBudget(agents: number, pollIntervalMs: number): number {
  const perMinute = LOOKUPS_PER_AGENT_MINUTE * agents + LOOKUPS_BASE_PER_MINUTE;
  return Math.max(1, Math.ceil((perMinute * pollIntervalMs) / 60_000));
}

/** Whether a bid of the marketplace's list can still win. */
export function isLiveBid(bid: Pick<Bid, "status">): boolean {
  return !DEAD_BID_STATUSES.has(bid.status);
}

/** What one round of look-ups found for the poll. */
export interface StakeNews {
  /** Jobs assigned to one of our agents that no listing showed. */
  assigned: Job[];
  /** Jobs still taking bids on which a bid of ours was cancelled (its stake ended now). */
  biddable: Job[];
  /** For each job of `biddable`, the agents whose bid was cancelled: they decide it again. */
  reopened: Map<string, Set<string>>;
  /** Jobs in negotiation with a bid of ours: their counter-offers are answered. */
  negotiating: JobWithBids[];
}

export interface StakeWatchOptions {
  client: Pick<MarketplaceClient, "getJob">;
  ledger: Pick<Ledger, "openStakes" | "endStake" | "get" | "noteOutcome">;
  logger: Logger;
  metrics?: Metrics;
  ourAgents: () => ReadonlySet<string>;
  /** Look-ups allowed in one round (see lookupBudget). */
  budget: () => number;
  now?: () => number;
}

interface Stake {
  /** Our agents with a stake in the job, with their bid's id when known. */
  agents: Map<string, string | undefined>;
  /** When the job was last looked up (0: never, or due again after a quiet spell). */
  checkedAt: number;
  /**
   * Assigned to one of our agents, as last looked up: handed to the workers at every
   * round (a worker at its limit takes it later), looked up again only rarely.
   */
  assigned?: Job;
}

/**
 * Every job the runner has a stake in (a bid not yet decided, a won job not yet done),
 * whether or not a listing still shows it: the service lists only its newest 100 jobs,
 * so a job with 100 newer ones behind it is found only by `GET /api/jobs/{id}`. Each poll
 * looks up at most a budget of them, the least recently checked first, skipping those a
 * listing of this poll showed; stakes the runner has given up on (lost, rejected,
 * cancelled, closed) are ended in the ledger and never looked up again.
 */
export class StakeWatch {
  readonly #options: StakeWatchOptions;
  readonly #now: () => number;
  /** By job id, least recently checked first (a check moves a stake to the end). */
  readonly #stakes = new Map<string, Stake>();
  /** Our agents whose stakes were loaded from the ledger. */
  #loadedFor = new Set<string>();

  constructor(options: StakeWatchOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#stakes.size;
  }

  /** A bid of ours was placed (or found): its job is watched until decided. */
  noteBid(jobId: string, agentId: string, bidId?: string): void {
    const stake = this.#stakes.get(jobId);
    if (stake) stake.agents.set(agentId, bidId);
    else this.#stakes.set(jobId, { agents: new Map([[agentId, bidId]]), checkedAt: this.#now() });
  }

  /** The runner may have been silent long enough for the service to cancel its bids. */
  quietSpell(): void {
    for (const stake of this.#stakes.values()) stake.checkedAt = 0;
  }

  /**
   * One round: loads the stakes of agents not loaded yet, then looks up the jobs due
   * (within the budget) and sorts out what they hold. `visible`: the jobs this poll's
   * listings showed.
   */
  async round(visible: ReadonlySet<string>, signal?: AbortSignal): Promise<StakeNews> {
    const news: StakeNews = { assigned: [], biddable: [], reopened: new Map(), negotiating: [] };
    await this.#load();
    const due = this.#due(visible);
    if (due.length > 0)
      await mapBounded(due, LOOKUP_CONCURRENCY, async (jobId) => {
        if (signal?.aborted) return;
        // One job's trouble (the ledger unreadable a moment) stays its own: looked at
        // again at a later round, and the poll goes on.
        await this.#check(jobId, news, signal).catch((error: unknown) => {
          this.#count("error");
          this.#options.logger.warn({ jobId, problem: errorMessage(error) }, "stake check failed");
        });
      });
    const handed = new Set(news.assigned.map((job) => job.job_id));
    for (const [jobId, stake] of this.#stakes)
      if (stake.assigned && !handed.has(jobId)) news.assigned.push(stake.assigned);
    return news;
  }

  /** Loads the open stakes of our agents from the ledger (once per agent; again after a failure). */
  async #load(): Promise<void> {
    const ours = this.#options.ourAgents();
    let fresh = false;
    for (const agentId of ours) if (!this.#loadedFor.has(agentId)) fresh = true;
    if (!fresh) return;
    try {
      const entries = await this.#options.ledger.openStakes();
      for (const entry of entries) {
        if (!ours.has(entry.agentId) || this.#loadedFor.has(entry.agentId)) continue;
        const stake = this.#stakes.get(entry.jobId);
        if (stake) stake.agents.set(entry.agentId, entry.bidId);
        else
          this.#stakes.set(entry.jobId, {
            agents: new Map([[entry.agentId, entry.bidId]]),
            checkedAt: 0,
          });
      }
      this.#loadedFor = new Set(ours);
      // Stakes from the ledger were last checked by an earlier run: first in line.
      this.#requeueUnchecked();
    } catch (error) {
      this.#options.logger.warn(
        { problem: errorMessage(error) },
        "ledger: could not read open stakes",
      );
    }
  }

  #requeueUnchecked(): void {
    const unchecked = [...this.#stakes].filter(([, stake]) => stake.checkedAt === 0);
    for (const [jobId] of unchecked) this.#stakes.delete(jobId);
    const rest = [...this.#stakes];
    this.#stakes.clear();
    for (const [jobId, stake] of [...unchecked, ...rest]) this.#stakes.set(jobId, stake);
  }

  /** The jobs to look up this round, least recently checked first, at most the budget. */
  #due(visible: ReadonlySet<string>): string[] {
    const budget = this.#options.budget();
    const now = this.#now();
    const due: string[] = [];
    for (const [jobId, stake] of this.#stakes) {
      if (due.length >= budget) break;
      // Shown by a listing, or known to be ours: only a rare look (or one after a quiet spell).
      const known = (visible.has(jobId) || stake.assigned !== undefined) && stake.checkedAt > 0;
      if (known && now - stake.checkedAt < VISIBLE_RECHECK_MS) continue;
      due.push(jobId);
    }
    return due;
  }

  async #check(jobId: string, news: StakeNews, signal?: AbortSignal): Promise<void> {
    const stake = this.#stakes.get(jobId);
    if (!stake) return;
    // Checked now, whatever the answer: to the end of the line.
    this.#stakes.delete(jobId);
    stake.checkedAt = this.#now();
    this.#stakes.set(jobId, stake);
    let job: JobWithBids;
    try {
      job = await this.#options.client.getJob(jobId, signal);
    } catch (error) {
      if (isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND")) {
        await this.#end(jobId, stake, "the job is gone (404)", "gone");
        return;
      }
      this.#count("error");
      this.#options.logger.debug({ jobId, problem: errorMessage(error) }, "stake look-up failed");
      return;
    }
    // With replicas an agent may have moved to another replica: its stakes are that
    // replica's to settle now.
    const ours = this.#options.ourAgents();
    for (const agentId of [...stake.agents.keys()])
      if (!ours.has(agentId)) stake.agents.delete(agentId);
    if (stake.agents.size === 0) {
      this.#stakes.delete(jobId);
      return;
    }
    const assignee = job.assigned_agent_id ?? undefined;
    delete stake.assigned;
    if (assignee !== undefined && stake.agents.has(assignee)) {
      if (job.status === "assigned") {
        // Executed already (a failure report the service cannot record keeps the job
        // assigned): the outbox has the result; nothing more to look for.
        if ((await this.#options.ledger.get(assignee, jobId))?.resultAt !== undefined) {
          await this.#end(jobId, stake, "a result of ours is on record", "done");
          return;
        }
        this.#count("assigned");
        const { bids: _bids, ...plain } = job;
        stake.assigned = plain;
        news.assigned.push(plain);
        return;
      }
      // Ours and no longer assigned: done (submitted, executed by the service, closed).
      await this.#end(jobId, stake, `the job is ${job.status}`, "closed");
      return;
    }
    if (!UNDECIDED_STATUSES.has(job.status)) {
      const reason =
        assignee !== undefined
          ? `lost: the job went to another agent (${job.status})`
          : `the job is ${job.status}`;
      await this.#end(jobId, stake, reason, assignee !== undefined ? "lost" : "closed");
      return;
    }
    await this.#sortBids(job, stake, news);
  }

  /** The job still awaits its award: each agent's bid is looked at (cancelled, rejected, countered). */
  async #sortBids(job: JobWithBids, stake: Stake, news: StakeNews): Promise<void> {
    let outcome = "pending";
    let negotiating = false;
    for (const [agentId, bidId] of [...stake.agents]) {
      const bids = job.bids.filter((b) => b.agent_id === agentId);
      const live = bids.filter(isLiveBid);
      if (live.length > 0) {
        if (live.some((b) => b.status === "counter_offered")) negotiating = true;
        continue;
      }
      const last = bids.at(-1);
      const cancelled = last?.status === "cancelled";
      const reason = last
        ? `bid ${last.status}${cancelled && typeof last.cancelled_reason === "string" ? `: ${last.cancelled_reason}` : ""}`
        : "no bid of the agent is listed";
      let ended: boolean;
      try {
        ended = await this.#options.ledger.endStake(
          agentId,
          job.job_id,
          reason,
          last?.bid_id ?? bidId,
        );
      } catch (error) {
        this.#options.logger.warn(
          { agentId, jobId: job.job_id, problem: errorMessage(error) },
          "ledger: could not end a stake; looked at again later",
        );
        continue;
      }
      stake.agents.delete(agentId);
      outcome = cancelled ? "cancelled" : "rejected";
      if (!ended) continue; // another replica, or an earlier round, saw it first
      if (cancelled && BIDDABLE_STATUSES.has(job.status)) {
        this.#options.logger.info(
          { agentId, jobId: job.job_id, reason },
          "a bid of ours was cancelled by the marketplace; the job is decided again",
        );
        const reopened = news.reopened.get(job.job_id);
        if (reopened) reopened.add(agentId);
        else {
          news.reopened.set(job.job_id, new Set([agentId]));
          const { bids: _bids, ...plain } = job;
          news.biddable.push(plain);
        }
      }
    }
    if (stake.agents.size === 0) this.#stakes.delete(job.job_id);
    if (negotiating) news.negotiating.push(job);
    this.#count(negotiating ? "negotiating" : outcome);
  }

  async #end(jobId: string, stake: Stake, reason: string, outcome: string): Promise<void> {
    this.#count(outcome);
    for (const [agentId, bidId] of [...stake.agents]) {
      try {
        await this.#options.ledger.endStake(agentId, jobId, reason, bidId);
        // Another bid won: a lesson for price learning (see policy/price-learning.ts).
        if (outcome === "lost") {
          await this.#options.ledger
            .noteOutcome(agentId, jobId, { result: "lost" })
            .catch((error) =>
              this.#options.logger.warn(
                { agentId, jobId, problem: errorMessage(error) },
                "ledger: could not note a lost bid for price learning",
              ),
            );
        }
        stake.agents.delete(agentId);
      } catch (error) {
        this.#options.logger.warn(
          { agentId, jobId, problem: errorMessage(error) },
          "ledger: could not end a stake; looked at again later",
        );
      }
    }
    if (stake.agents.size === 0) this.#stakes.delete(jobId);
  }

  #count(outcome: string): void {
    this.#options.metrics?.stakeLookups.inc({ outcome });
  }
}
