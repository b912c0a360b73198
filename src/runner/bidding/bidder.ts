import type { AgentConfig } from "../../agents/types.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { isStaleEpoch, type StaleEpochError } from "../../state/fence.ts";
import type { Ledger } from "../../state/types.ts";
import type { JobFeed } from "../feed/job-feed.ts";
import { type BidDecision, decideBid, type PlaceDecision } from "../policy/bid-decision.ts";
import {
  AWARD_PRIOR,
  awardProbability,
  paymentProbability,
  rankByMargin,
  type SpareCapacity,
  spareSlots,
} from "../policy/capacity-ranking.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import { notePricedBid } from "./agent-pricing.ts";
import type { BidIntent, BidPlacer, DecidedBids } from "./bid-intent.ts";
import type { RoundBids } from "./round-bids.ts";

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
  /** True while the agent takes new work (with replicas: while its lease has time left). */
  accepting: () => boolean;
  /** The lease epoch its ledger writes carry (replicas only). */
  epoch?: number;
  /** The ledger refused a write: a newer holder has the agent. */
  fenced?: (error: StaleEpochError) => void;
  evaluate: (job: Job, signal: AbortSignal) => Promise<unknown>;
  /** The spend caps and the price floor: the bid as it may be placed, or a skip. */
  price: (job: Job, decision: PlaceDecision) => Promise<BidDecision>;
  /** What it can take on; absent: every bid decided is placed (no ranking). */
  capacity?: AgentCapacity;
}

/** What an agent can take on, to rank a round's bids when capacity is short (capacity-ranking.ts). */
export interface AgentCapacity {
  /** Its max_concurrent_jobs and the jobs it is executing now. */
  load(): { maxConcurrent: number; inFlight: number };
  /** What today's spend caps leave, USD; undefined when no cap is set. */
  spendLeftUsd(): Promise<number | undefined>;
  /** The expected LLM cost of doing a job (the price floor's token estimate), USD. */
  costUsd(job: Job): number;
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
  /** Listed jobs this agent has a bid on (bids that may still be awarded), with each one's chance of it. */
  readonly #bidOn = new Map<string, { award: number; costUsd: number }>();
  /** Jobs ranked out for want of a slot: decided again once a slot is free. */
  readonly #deferred = new Set<string>();
  /** The round of bid decisions under way, if any. */
  #round: Promise<void> | undefined;

  constructor(deps: BidderDeps) {
    this.#deps = deps;
  }

  /** Forgets what was decided: a changed config or a new agent id decides afresh. */
  reset(): void {
    this.#decided.clear();
    this.#deferred.clear();
  }

  /**
   * Decides on the jobs of one poll and resolves with the bids to place and their placer
   * (the caller places a round's bids together, see round-placement.ts); `agentNow` gives
   * the agent as it is, asked only when there is a job to decide. Waits for the decisions at most about one poll interval, so
   * that one agent's slow evaluator holds up no other agent: what is decided after that
   * is dropped, and those jobs are decided again at a later poll.
   *
   * Undefined, synchronously, when there is nothing to decide: most polls bring nothing
   * new and 10,000 agents hear each one, so nothing is built for it (no promise, no
   * timer). `listed`, the job ids of a complete listing (one set for the whole round),
   * lets the bidder forget the jobs no longer listed.
   */
  decide(
    jobs: Job[],
    feed: JobFeed,
    agentNow: () => BidderAgent,
    known: Pick<RoundBids, "hasBid" | "want">,
    listed?: ReadonlySet<string>,
  ): Promise<DecidedBids> | undefined {
    // A bid of this agent that the marketplace cancelled (its stale-agent sweep): the job
    // is decided afresh, once per cancellation.
    if (feed.hasReopened) this.#reopen(feed.takeReopened(agentNow().agentId));
    // A round still under way (a slow or hung evaluateJob) keeps its jobs; this poll's
    // are seen again at the next one.
    if (this.#round) return undefined;
    if (listed) this.#forgetGone(listed);
    if (this.#deferred.size > 0) this.#reconsider(agentNow());
    if (jobs.every((job) => this.#decided.has(job.job_id))) return undefined;
    const fresh = jobs.filter((job) => !this.#decided.has(job.job_id));
    known.want(fresh.map((job) => job.job_id));
    const agent = agentNow();
    return this.#decideRound(fresh, feed, agent, known).then((intents) => ({
      placer: this.placer(agent, feed),
      intents,
    }));
  }

  /**
   * What placing a round's bids asks of this agent, as it was when it decided them: the
   * gate and the fence callback of that moment, and the feed the jobs came from.
   */
  placer(agent: BidderAgent, feed: JobFeed): BidPlacer {
    const { telemetry } = this.#deps;
    return {
      send: (intent) => this.#send(intent, agent, feed),
      placed: (intent, bidId) => {
        feed.noteBid(intent.job.job_id, intent.agentId, bidId);
        this.#decided.add(intent.job.job_id);
        this.#noteOpenBid(intent.job, agent, intent.decision);
        telemetry.bidPlaced(intent.job, bidId, intent.decision);
        void notePricedBid(
          this.#deps.ledger,
          intent.agentId,
          intent.job.job_id,
          intent.decision,
          (e) => telemetry.error("could not record the bid's price basis", e, intent.job.job_id),
        );
      },
      // Said once per agent; the bids stand.
      unrecorded: (intent, error) =>
        telemetry.error("ledger write of a bid failed", error, intent.job.job_id),
      // No bid; the job is decided again at the next poll.
      unfenced: (intent, error) => {
        telemetry.bidAttemptFailed();
        telemetry.error("bid decision failed", error, intent.job.job_id);
      },
      fenced: (error) => agent.fenced?.(error),
    };
  }

  async #decideRound(
    jobs: Job[],
    feed: JobFeed,
    agent: BidderAgent,
    known: Pick<RoundBids, "hasBid">,
  ): Promise<BidIntent[]> {
    const intents: BidIntent[] = [];
    let open = true;
    const round = this.#decideAll(jobs, feed, agent, known, (intent) => {
      if (open) intents.push(intent);
    }).finally(() => {
      this.#round = undefined;
    });
    this.#round = round;
    let timer: NodeJS.Timeout | undefined;
    const cutoff = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#deps.pollIntervalMs);
    });
    await Promise.race([round, cutoff]).finally(() => clearTimeout(timer));
    open = false;
    return this.#rank(intents, agent);
  }

  /**
   * The round's bids that the agent's capacity takes: all of them while it has room,
   * else the best by expected margin (capacity-ranking.ts); each left out is a skip.
   * Those left out for want of a slot are decided again once one is free.
   */
  async #rank(intents: BidIntent[], agent: BidderAgent): Promise<BidIntent[]> {
    const capacity = agent.capacity;
    if (!capacity || intents.length === 0) return intents;
    const ranking = rankByMargin(
      intents.map((intent) => ({
        intent,
        priceUsd: intent.decision.priceUsd,
        probability: paymentProbability(intent.decision),
        costUsd: capacity.costUsd(intent.job),
      })),
      {
        ...this.#commitments(capacity.load()),
        // A cap that cannot be read counts as room left, as checkSpendCap does.
        spendLeftUsd: await capacity.spendLeftUsd().catch(() => undefined),
      },
    );
    for (const out of ranking.rankedOut) {
      const { job } = out.candidate.intent;
      this.#skip(job, { kind: "skip", reason: "capacity_ranked_out", detail: out.detail });
      if (out.short === "slots") this.#deferred.add(job.job_id);
    }
    return ranking.take.map((c) => c.intent);
  }

  /** A slot is free again: the jobs ranked out for want of one are decided afresh. */
  #reconsider(agent: BidderAgent): void {
    const load = agent.capacity?.load();
    if (load && spareSlots(this.#commitments(load)) === 0) return;
    for (const jobId of this.#deferred) this.#decided.delete(jobId);
    this.#deferred.clear();
  }

  /** A bid of this agent on a listed job: it may be awarded (its decision, when known, says how likely). */
  #noteOpenBid(job: Job, agent: BidderAgent, decision?: PlaceDecision): void {
    this.#bidOn.set(job.job_id, {
      award: decision ? awardProbability(decision) : AWARD_PRIOR,
      costUsd: agent.capacity?.costUsd(job) ?? 0,
    });
  }

  /** The agent's load with its open bids, each at its chance of being awarded. */
  #commitments(load: {
    maxConcurrent: number;
    inFlight: number;
  }): Omit<SpareCapacity, "spendLeftUsd"> {
    let expectedAwards = 0;
    let expectedSpendUsd = 0;
    for (const { award, costUsd } of this.#bidOn.values()) {
      expectedAwards += award;
      expectedSpendUsd += award * costUsd;
    }
    return { ...load, openBids: this.#bidOn.size, expectedAwards, expectedSpendUsd };
  }

  #reopen(jobIds: ReadonlySet<string> | undefined): void {
    for (const jobId of jobIds ?? []) {
      this.#decided.delete(jobId);
      this.#attempts.delete(jobId);
      this.#bidOn.delete(jobId);
      this.#deferred.delete(jobId);
    }
  }

  /** Jobs no longer listed take no bids: what was decided about them is dropped (bounded state). */
  #forgetGone(listed: ReadonlySet<string>): void {
    for (const jobId of this.#decided) if (!listed.has(jobId)) this.#decided.delete(jobId);
    for (const jobId of this.#attempts.keys()) if (!listed.has(jobId)) this.#attempts.delete(jobId);
    for (const jobId of this.#bidOn.keys()) if (!listed.has(jobId)) this.#bidOn.delete(jobId);
    for (const jobId of this.#deferred) if (!listed.has(jobId)) this.#deferred.delete(jobId);
  }

  async #decideAll(
    jobs: Job[],
    feed: JobFeed,
    agent: BidderAgent,
    known: Pick<RoundBids, "hasBid">,
    bid: (intent: BidIntent) => void,
  ): Promise<void> {
    for (const job of jobs) {
      if (!agent.accepting()) return;
      if (this.#decided.has(job.job_id)) continue;
      try {
        const decision = await this.#decideOne(job, feed, agent, known);
        if (decision)
          bid({
            agentId: agent.agentId,
            job,
            decision,
            ...(agent.epoch !== undefined ? { epoch: agent.epoch } : {}),
          });
      } catch (error) {
        if (isStaleEpoch(error)) {
          agent.fenced?.(error);
          return;
        }
        this.#deps.telemetry.bidAttemptFailed();
        this.#deps.telemetry.error("bid decision failed", error, job.job_id);
      }
    }
  }

  /** The bid to place on a job, if any; a skip is recorded here. */
  async #decideOne(
    job: Job,
    feed: JobFeed,
    agent: BidderAgent,
    known: Pick<RoundBids, "hasBid">,
  ): Promise<PlaceDecision | undefined> {
    const { telemetry, ledger } = this.#deps;
    if (!this.#attempts.has(job.job_id)) telemetry.jobSeen();
    const decision = await decideBid({
      job,
      config: agent.config,
      hasBid: () => known.hasBid(agent.agentId, job.job_id),
      evaluate: (signal) => agent.evaluate(job, signal),
      evaluationTimeoutMs: this.#deps.evaluationTimeoutMs,
      lifetime: this.#deps.lifetime,
    });
    if (!decision) return undefined; // stopping
    if (decision.kind === "skip") {
      if (decision.reason === "already_bid") this.#noteOpenBid(job, agent);
      this.#skip(job, decision);
      return undefined;
    }
    const priced = await agent.price(job, decision);
    if (priced.kind === "skip") {
      this.#skip(job, priced);
      return undefined;
    }

    // An earlier attempt whose outcome was unknown may have landed, and another runner
    // of the same owner may have bid: the marketplace's bid list says.
    if ((await feed.bidders(job.job_id)).has(agent.agentId)) {
      await ledger.recordBid(
        agent.agentId,
        job.job_id,
        { bidId: "unknown", priceUsd: priced.priceUsd },
        agent.epoch,
      );
      telemetry.bidFound(job, priced.priceUsd);
      this.#noteOpenBid(job, agent, priced);
      this.#skip(job, {
        kind: "skip",
        reason: "already_bid",
        detail: "the marketplace already lists a bid of this agent",
      });
      return undefined;
    }
    return priced;
  }

  /**
   * Sends one bid (its job already stamped with the lease epoch, with replicas); returns
   * its id, or undefined after recording why it failed. The lease must still have time
   * left at the moment the bid goes out.
   */
  async #send(intent: BidIntent, agent: BidderAgent, feed: JobFeed): Promise<string | undefined> {
    const { job, decision } = intent;
    if (!agent.accepting()) return undefined;
    const { telemetry } = this.#deps;
    const { agentId } = agent;
    const attempts = (this.#attempts.get(job.job_id) ?? 0) + 1;
    this.#attempts.set(job.job_id, attempts);
    try {
      const bid = await telemetry.tracedBid(job, decision, () =>
        this.#deps.client.placeBid(job.job_id, {
          agent_id: agentId,
          price_usd: decision.priceUsd,
          estimated_quality: decision.confidence,
          estimated_time_seconds: Math.round(decision.estimatedTimeMinutes * 60),
          approach_summary: decision.approach,
        }),
      );
      return bid.bid_id;
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
      return undefined;
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
