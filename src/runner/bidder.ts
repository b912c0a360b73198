import type { AgentConfig } from "../agents/types.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError } from "../marketplace/errors.ts";
import type { Job } from "../marketplace/schemas.ts";
import type { Ledger } from "../state/types.ts";
import { type BidDecision, decideBid, type PlaceDecision } from "./bid-decision.ts";
import type { JobFeed } from "./job-feed.ts";
import type { AgentTelemetry } from "./telemetry.ts";

/** Bid attempts per job whose outcome was unknown (5xx, timeouts) before giving up on it. */
const MAX_BID_ATTEMPTS = 3;

export interface BidderDeps {
  client: MarketplaceClient;
  ledger: Ledger;
  telemetry: AgentTelemetry;
  /** The longest one poll waits for this agent's round of decisions. */
  pollIntervalMs: number;
  evaluationTimeoutMs: number;
  /** Aborted when the worker is forced to stop. */
  lifetime: AbortSignal;
}

/** What the bidder needs of its agent at the moment it decides. */
export interface BidderAgent {
  agentId: string;
  config: AgentConfig;
  /** True while the agent takes new work. */
  accepting: () => boolean;
  evaluate: (job: Job, signal: AbortSignal) => Promise<unknown>;
}

/**
 * One agent's bidding: each biddable job is decided once (bid, or skip with its reason),
 * and a bid whose outcome is unknown is tried again, a few times, at later polls.
 */
export class Bidder {
  readonly #deps: BidderDeps;
  /** Jobs already decided (bid, skipped, or given up on) under the current config. */
  readonly #decided = new Set<string>();
  readonly #attempts = new Map<string, number>();
  /** The round of bid decisions under way, if any. */
  #round: Promise<void> | undefined;

  constructor(deps: BidderDeps) {
    this.#deps = deps;
  }

  /** Forgets what was decided: a changed config or a new agent id decides afresh. */
  reset(): void {
    this.#decided.clear();
  }

  /** Decides on the jobs of one poll, waiting for that at most about one poll interval. */
  async consider(jobs: Job[], feed: JobFeed, agent: BidderAgent): Promise<void> {
    // A round still under way (a slow or hung evaluateJob) keeps its jobs; this poll's
    // are seen again at the next one.
    if (this.#round) return;
    const round = this.#considerAll(jobs, feed, agent).finally(() => {
      this.#round = undefined;
    });
    this.#round = round;
    // So that one agent's slow evaluator holds up no other agent.
    let timer: NodeJS.Timeout | undefined;
    const cutoff = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#deps.pollIntervalMs);
    });
    await Promise.race([round, cutoff]).finally(() => clearTimeout(timer));
  }

  async #considerAll(jobs: Job[], feed: JobFeed, agent: BidderAgent): Promise<void> {
    for (const job of jobs) {
      if (!agent.accepting()) return;
      if (this.#decided.has(job.job_id)) continue;
      try {
        await this.#consider(job, feed, agent);
      } catch (error) {
        this.#deps.telemetry.bidAttemptFailed();
        this.#deps.telemetry.error("bid decision failed", error, job.job_id);
      }
    }
  }

  async #consider(job: Job, feed: JobFeed, agent: BidderAgent): Promise<void> {
    const { telemetry, ledger } = this.#deps;
    if (!this.#attempts.has(job.job_id)) telemetry.jobSeen();
    const decision = await decideBid({
      job,
      config: agent.config,
      hasBid: () => ledger.hasBid(agent.agentId, job.job_id),
      evaluate: (signal) => agent.evaluate(job, signal),
      evaluationTimeoutMs: this.#deps.evaluationTimeoutMs,
      lifetime: this.#deps.lifetime,
    });
    if (!decision) return; // stopping
    if (decision.kind === "skip") return this.#skip(job, decision);

    // An earlier attempt whose outcome was unknown may have landed, and another runner
    // of the same owner may have bid: the marketplace's bid list says.
    if ((await feed.bidders(job.job_id)).has(agent.agentId)) {
      await ledger.recordBid(agent.agentId, job.job_id, {
        bidId: "unknown",
        priceUsd: decision.priceUsd,
      });
      telemetry.bidFound(job, decision.priceUsd);
      return this.#skip(job, {
        kind: "skip",
        reason: "already_bid",
        detail: "the marketplace already lists a bid of this agent",
      });
    }
    await this.#place(job, decision, feed, agent.agentId);
  }

  async #place(job: Job, decision: PlaceDecision, feed: JobFeed, agentId: string): Promise<void> {
    const { telemetry } = this.#deps;
    const attempts = (this.#attempts.get(job.job_id) ?? 0) + 1;
    this.#attempts.set(job.job_id, attempts);
    try {
      const bid = await this.#deps.client.placeBid(job.job_id, {
        agent_id: agentId,
        price_usd: decision.priceUsd,
        estimated_quality: decision.confidence,
        estimated_time_seconds: Math.round(decision.estimatedTimeMinutes * 60),
        approach_summary: decision.approach,
      });
      await this.#deps.ledger.recordBid(agentId, job.job_id, {
        bidId: bid.bid_id,
        priceUsd: decision.priceUsd,
      });
      feed.noteBid(job.job_id, agentId);
      this.#decided.add(job.job_id);
      telemetry.bidPlaced(job, bid.bid_id, decision);
    } catch (error) {
      // A refused bid (4xx) is final. An unknown outcome (5xx, timeout) may have landed:
      // the bid list is fetched again before the next attempt.
      const refused = isMarketplaceError(error) && error.isClientError;
      if (refused || attempts >= MAX_BID_ATTEMPTS) {
        this.#skip(job, {
          kind: "skip",
          reason: refused ? "bid_refused" : "bid_failed",
          detail: refused
            ? "the marketplace refused the bid"
            : `no answer to the bid after ${attempts} attempts`,
        });
      } else {
        feed.forget(job.job_id);
        telemetry.bidAttemptFailed();
      }
      telemetry.error("bid failed", error, job.job_id);
    }
  }

  #skip(job: Job, decision: Extract<BidDecision, { kind: "skip" }>): void {
    this.#decided.add(job.job_id);
    this.#deps.telemetry.decided(job, decision);
    if (decision.reason === "evaluation_failed")
      this.#deps.telemetry.error(
        "job evaluation failed; not bidding",
        new Error(decision.detail),
        job.job_id,
      );
  }
}
