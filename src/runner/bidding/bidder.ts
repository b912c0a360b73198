import type { AgentConfig } from "../../agents/types.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { mapBounded } from "../../pool.ts";
import { isStaleEpoch, type StaleEpochError } from "../../state/fence.ts";
import type { BidRecord, Ledger } from "../../state/types.ts";
import type { JobFeed } from "../feed/job-feed.ts";
import { type BidDecision, decideBid, type PlaceDecision } from "../policy/bid-decision.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";

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

/** A bid decided in a round, to be placed with the round's others. */
export interface BidIntent {
  job: Job;
  decision: PlaceDecision;
  agentId: string;
  /** The agent as it was when the bid was decided: its lease epoch, fence callback, gate. */
  agent: BidderAgent;
  feed: JobFeed;
  bidder: Bidder;
}

/** Bids of a round under way at once (the shared HTTP pool has 16 connections). */
export const BID_CONCURRENCY = 16;

/**
 * Places a round's bids: concurrently through a bounded pool, then one ledger write
 * for all that the marketplace took (one SQLite transaction, one MongoDB bulkWrite).
 * A bid placed but not recorded is still known: the marketplace's bid list is checked
 * before any bid on the job after a restart.
 */
export async function placeRound(
  intents: readonly BidIntent[],
  ledger: Pick<Ledger, "recordBids" | "recordBid" | "fenceJobs">,
  concurrency = BID_CONCURRENCY,
): Promise<number> {
  const sendable = await fenceRound(intents, ledger);
  const sent = await mapBounded(sendable, concurrency, async (intent) => {
    const bidId = await intent.bidder.send(intent);
    return bidId === undefined ? undefined : { intent, bidId };
  });
  const placed = sent.filter((s): s is { intent: BidIntent; bidId: string } => s !== undefined);
  if (placed.length === 0) return 0;
  const record = ({ intent, bidId }: { intent: BidIntent; bidId: string }): BidRecord => ({
    agentId: intent.agentId,
    jobId: intent.job.job_id,
    bidId,
    priceUsd: intent.decision.priceUsd,
    ...(intent.agent.epoch !== undefined ? { epoch: intent.agent.epoch } : {}),
  });
  try {
    await ledger.recordBids(placed.map(record));
  } catch (error) {
    if (isStaleEpoch(error)) {
      // The batch is all or nothing: one agent lost its lease meanwhile. Each bid is
      // recorded alone, so only the fenced agents lose their records (and are dropped).
      await Promise.all(placed.map((p) => recordOne(ledger, p.intent, record(p))));
    } else {
      for (const { intent } of placed) intent.bidder.unrecorded(intent, error);
    }
  }
  for (const { intent, bidId } of placed) intent.bidder.placed(intent, bidId);
  return placed.length;
}

/**
 * Replicas: each job is stamped with its agent's lease epoch before the bid goes out, in
 * one ledger write for the round. Returns the intents that may be sent: not those of an
 * agent a newer holder has (fenced), nor any fenced one while the ledger cannot be
 * written (those jobs are decided again at the next poll).
 */
async function fenceRound(
  intents: readonly BidIntent[],
  ledger: Pick<Ledger, "fenceJobs">,
): Promise<readonly BidIntent[]> {
  const leased = intents.filter((intent) => intent.agent.epoch !== undefined);
  if (leased.length === 0) return intents;
  let refusals: Awaited<ReturnType<Ledger["fenceJobs"]>>;
  try {
    refusals = await ledger.fenceJobs(
      leased.map(({ agentId, job, agent }) => ({
        agentId,
        jobId: job.job_id,
        epoch: agent.epoch ?? 0,
      })),
    );
  } catch (error) {
    for (const intent of leased) intent.bidder.unfenced(intent, error);
    return intents.filter((intent) => intent.agent.epoch === undefined);
  }
  const refused = new Set<BidIntent>();
  refusals.forEach((refusal, i) => {
    const intent = leased[i];
    if (!refusal || !intent) return;
    refused.add(intent);
    intent.agent.fenced?.(refusal);
  });
  return refused.size === 0 ? intents : intents.filter((intent) => !refused.has(intent));
}

async function recordOne(
  ledger: Pick<Ledger, "recordBid">,
  intent: BidIntent,
  { agentId, jobId, bidId, priceUsd, epoch }: BidRecord,
): Promise<void> {
  try {
    await ledger.recordBid(agentId, jobId, { bidId, priceUsd }, epoch);
  } catch (error) {
    if (isStaleEpoch(error)) intent.agent.fenced?.(error);
    else intent.bidder.unrecorded(intent, error);
  }
}

/**
 * The ledger's bids on the jobs a round decides, looked up once for every agent. Only the
 * jobs some agent is about to decide are looked up: a listing keeps a job `posted` while
 * it takes bids, so most listed jobs were decided at earlier polls, and their bids (up to
 * one per agent) would be read again each round for nothing. A poll without new jobs
 * asks nothing.
 */
export class RoundBids {
  readonly #ledger: Pick<Ledger, "bidsOn">;
  /** Jobs an agent will decide that no look-up covers yet. */
  readonly #wanted = new Set<string>();
  /** Each job's look-up, once started. */
  readonly #loads = new Map<string, Promise<Map<string, Set<string>>>>();
  /** The look-up asked for but not yet sent (it takes every job wanted until then). */
  #next: Promise<Map<string, Set<string>>> | undefined;

  constructor(ledger: Pick<Ledger, "bidsOn">) {
    this.#ledger = ledger;
  }

  /** Notes the jobs an agent is about to decide, before it asks about any. */
  want(jobIds: Iterable<string>): void {
    for (const jobId of jobIds) if (!this.#loads.has(jobId)) this.#wanted.add(jobId);
  }

  async hasBid(agentId: string, jobId: string): Promise<boolean> {
    let load = this.#loads.get(jobId);
    if (!load) {
      this.#wanted.add(jobId);
      load = this.#next ??= this.#lookUp();
    }
    return (await load).get(jobId)?.has(agentId) ?? false;
  }

  /**
   * One look-up of every job wanted, sent once the current turn ends: every agent hears a
   * poll in one synchronous pass, so the agents after the first to ask have named their
   * jobs by then. A failed look-up is forgotten: the next ask tries again.
   */
  #lookUp(): Promise<Map<string, Set<string>>> {
    const load: Promise<Map<string, Set<string>>> = Promise.resolve().then(() => {
      this.#next = undefined;
      const jobIds = [...this.#wanted];
      this.#wanted.clear();
      for (const jobId of jobIds) this.#loads.set(jobId, load);
      return this.#ledger.bidsOn(jobIds);
    });
    load.catch(() => {
      for (const [jobId, covering] of this.#loads) if (covering === load) this.#loads.delete(jobId);
    });
    return load;
  }
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

  /**
   * Decides on the jobs of one poll and resolves with the bids to place (the caller
   * places a round's bids together); `agentNow` gives the agent as it is, asked only when
   * there is a job to decide. Waits for the decisions at most about one poll interval, so
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
  ): Promise<BidIntent[]> | undefined {
    // A bid of this agent that the marketplace cancelled (its stale-agent sweep): the job
    // is decided afresh, once per cancellation.
    if (feed.hasReopened) this.#reopen(feed.takeReopened(agentNow().agentId));
    // A round still under way (a slow or hung evaluateJob) keeps its jobs; this poll's
    // are seen again at the next one.
    if (this.#round) return undefined;
    if (listed) this.#forgetGone(listed);
    if (jobs.every((job) => this.#decided.has(job.job_id))) return undefined;
    const fresh = jobs.filter((job) => !this.#decided.has(job.job_id));
    known.want(fresh.map((job) => job.job_id));
    return this.#decideRound(fresh, feed, agentNow(), known);
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
    return intents;
  }

  #reopen(jobIds: ReadonlySet<string> | undefined): void {
    for (const jobId of jobIds ?? []) {
      this.#decided.delete(jobId);
      this.#attempts.delete(jobId);
    }
  }

  /** Jobs no longer listed take no bids: what was decided about them is dropped (bounded state). */
  #forgetGone(listed: ReadonlySet<string>): void {
    for (const jobId of this.#decided) if (!listed.has(jobId)) this.#decided.delete(jobId);
    for (const jobId of this.#attempts.keys()) if (!listed.has(jobId)) this.#attempts.delete(jobId);
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
        if (decision) bid({ job, decision, agentId: agent.agentId, agent, feed, bidder: this });
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
  async send(intent: BidIntent): Promise<string | undefined> {
    const { job, decision, agent, feed } = intent;
    if (!agent.accepting()) return undefined;
    const { telemetry } = this.#deps;
    const { agentId } = agent;
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

  /** The ledger could not stamp the job with the lease epoch: no bid; decided again at the next poll. */
  unfenced(intent: BidIntent, error: unknown): void {
    this.#deps.telemetry.bidAttemptFailed();
    this.#deps.telemetry.error("bid decision failed", error, intent.job.job_id);
  }

  /** A bid the marketplace took (and the ledger recorded, or tried to). */
  placed(intent: BidIntent, bidId: string): void {
    intent.feed.noteBid(intent.job.job_id, intent.agentId, bidId);
    this.#decided.add(intent.job.job_id);
    this.#deps.telemetry.bidPlaced(intent.job, bidId, intent.decision);
  }

  /** The ledger could not record a round's bids: said once per agent; the bids stand. */
  unrecorded(intent: BidIntent, error: unknown): void {
    this.#deps.telemetry.error("ledger write of a bid failed", error, intent.job.job_id);
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
