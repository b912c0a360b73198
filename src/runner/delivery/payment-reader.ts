import { parseTime } from "../../contract/time.ts";
import type { Logger } from "../../logger.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { transactionAmount } from "../../marketplace/money-schemas.ts";
import type { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import type { JobWithBids } from "../../marketplace/schemas.ts";
import { errorMessage } from "../../secrets.ts";
import type { Ledger, PaymentRecord } from "../../state/types.ts";
import { expectedPayment, releasedAmount } from "../policy/payment-rule.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";

/** An agent whose payments are read: its id (once registered) and where it says so. */
export interface PaidAgent {
  readonly agentId: string | undefined;
  readonly telemetry: Pick<AgentTelemetry, "paid">;
}

export interface PaymentReaderDeps {
  client: Pick<MarketplaceClient, "listJobs" | "getJob" | "getAgent">;
  negotiation: Pick<NegotiationApi, "transaction">;
  ledger: Ledger;
  logger: Logger;
  agents: () => readonly PaidAgent[];
  /** Awaited jobs read one by one (with their bids and escrow), at most this many per poll (default 5). */
  lookupsPerPoll?: number;
}

/** Escrow statuses after which the agent was paid (the embedded marketplace says `partial` too). */
const RELEASED = new Set(["released", "partial"]);
/** A release whose growth of the total has not shown within this long is counted on its escrow. */
const GROWTH_WAIT_MS = 60 * 60_000;
/** The service's clock and ours may differ by this much. */
const CLOCK_SLACK_MS = 60_000;
/** Float sums of the service's `total_earned_usd` are compared with this slack. */
const EPSILON = 1e-6;

/** A signed-off job whose escrow was released: paid, once the agent's total shows it. */
interface Release {
  jobId: string;
  agentId: string;
  amountUsd: number;
  record: PaymentRecord;
  /** The sign-off, epoch ms (the service's time, UTC). */
  completedAt: number;
}

/**
 * Reads back what the marketplace paid for the results it accepted. On the service a
 * payment is a new transaction that only the caller of `complete` sees, and the job
 * keeps pointing at its escrow, which has no payee. So a job's payment is known from:
 * its `quality_score` (and winning bid) by the service's rule (payment-rule.ts); its
 * escrow's status (`released`: paid; `refunded`: nothing); and the agent's
 * `total_earned_usd`, whose growth since the total last accounted for must cover it.
 * Each payment is written to the ledger keyed by job, with the total accounted for, so
 * neither a restart nor another replica counts one twice or misses one.
 */
export class PaymentReader {
  readonly #d: PaymentReaderDeps;
  /** Accepted successful results without a payment on record: job id → agent id. */
  readonly #awaiting = new Map<string, string>();
  /** Agents whose unpaid results were read from the ledger (once each). */
  readonly #loaded = new Set<string>();
  /** Where the next poll's lookups start among the candidates. */
  #lookupTurn = 0;

  constructor(deps: PaymentReaderDeps) {
    this.#d = deps;
  }

  /** A successful result was accepted: its payment is read once the poster signs off. */
  expect(jobId: string, agentId: string): void {
    this.#awaiting.set(jobId, agentId);
  }

  async poll(signal?: AbortSignal): Promise<void> {
    await this.#loadFromLedger();
    if (this.#awaiting.size === 0) return;
    const signedOff = await this.#signedOff(signal);
    const releases = new Map<string, Release[]>();
    for (const job of signedOff) {
      const agentId = this.#awaiting.get(job.job_id);
      if (agentId === undefined) continue;
      const settled = await this.#settle(job, agentId);
      if (settled === "waiting") continue;
      if ("record" in settled) {
        const list = releases.get(agentId) ?? [];
        list.push(settled);
        releases.set(agentId, list);
      } else await this.#write(settled);
    }
    for (const [agentId, list] of releases) await this.#attribute(agentId, list, signal);
  }

  /** After a restart (or when an agent starts here): its accepted results not yet paid. */
  async #loadFromLedger(): Promise<void> {
    for (const agent of this.#d.agents()) {
      const agentId = agent.agentId;
      if (agentId === undefined || this.#loaded.has(agentId)) continue;
      try {
        for (const entry of await this.#d.ledger.unpaidResults(agentId))
          this.#awaiting.set(entry.jobId, agentId);
        this.#loaded.add(agentId);
      } catch (error) {
        this.#d.logger.debug(
          { agentId, problem: errorMessage(error) },
          "could not read the agent's unpaid results; tried again at the next poll",
        );
      }
    }
  }

  /**
   * The awaited jobs the poster has signed off, with their bids. Candidates are those the
   * `completed` listing (newest 100) shows signed off, then those it does not show at
   * all (a job that left the listing is still found); at most `lookupsPerPoll` of them
   * are read per poll, in turn, so a job whose escrow never moves costs a bounded share.
   */
  async #signedOff(signal?: AbortSignal): Promise<JobWithBids[]> {
    const { client } = this.#d;
    const listed = new Set<string>();
    const candidates: string[] = [];
    const completed = await client.listJobs({ status: "completed" }, signal);
    for (const job of completed.jobs) {
      if (!this.#awaiting.has(job.job_id)) continue;
      listed.add(job.job_id);
      if (job.quality_score != null || job.human_review_decision) candidates.push(job.job_id);
    }
    for (const jobId of this.#awaiting.keys()) if (!listed.has(jobId)) candidates.push(jobId);
    const budget = Math.min(candidates.length, this.#d.lookupsPerPoll ?? 5);
    const turn = candidates.length === 0 ? 0 : this.#lookupTurn % candidates.length;
    this.#lookupTurn = turn + budget;
    const jobs: JobWithBids[] = [];
    const running = new Set(this.#d.agents().map((a) => a.agentId));
    for (let i = 0; i < budget; i++) {
      const jobId = candidates[(turn + i) % candidates.length]!;
      // Not ours to read any more (the agent left this replica), or read by another first.
      if (!running.has(this.#awaiting.get(jobId)) || (await this.#d.ledger.payment(jobId))) {
        this.#awaiting.delete(jobId);
        continue;
      }
      try {
        const job = await client.getJob(jobId, signal);
        if (expectedPayment(job) !== undefined) jobs.push(job);
      } catch (error) {
        this.#d.logger.debug({ jobId, problem: errorMessage(error) }, "could not read the job");
      }
    }
    return jobs;
  }

  /**
   * What a signed-off job's escrow says: a release (to be matched with the agent's
   * total), a payment of nothing to write down at once, or still waiting (the escrow not
   * yet released or refunded: the release failed or has not happened yet).
   */
  async #settle(job: JobWithBids, agentId: string): Promise<Release | PaymentRecord | "waiting"> {
    const expected = expectedPayment(job)!;
    const nothing = (outcome: PaymentRecord["outcome"]): PaymentRecord => ({
      jobId: job.job_id,
      agentId,
      amountUsd: 0,
      outcome,
      qualityScore: job.quality_score ?? null,
    });
    // Paid to whoever the job was assigned to: not this agent any more.
    if (job.assigned_agent_id !== agentId || !job.escrow_txn_id) return nothing("unpaid");
    let status: string;
    let escrowUsd: number;
    try {
      const escrow = await this.#d.negotiation.transaction(job.escrow_txn_id);
      status = escrow.status;
      escrowUsd = transactionAmount(escrow);
    } catch (error) {
      this.#d.logger.debug(
        { jobId: job.job_id, problem: errorMessage(error) },
        "could not read the job's escrow; tried again at the next poll",
      );
      return "waiting";
    }
    if (status === "refunded") return nothing("refunded");
    if (!RELEASED.has(status)) return "waiting";
    if (expected.outcome === "refunded") {
      // Released although the rule says refund: paid, but by no rule the runner knows.
      this.#d.logger.warn(
        { jobId: job.job_id, agentId, status, qualityScore: job.quality_score },
        "escrow released for a sign-off the quality rule refunds; payment not counted",
      );
      return nothing("unpaid");
    }
    const amountUsd = releasedAmount(expected, escrowUsd);
    return {
      jobId: job.job_id,
      agentId,
      amountUsd,
      completedAt: job.completed_at ? parseTime(job.completed_at).getTime() : Date.now(),
      record: {
        jobId: job.job_id,
        agentId,
        amountUsd,
        outcome: expected.outcome,
        qualityScore: job.quality_score ?? null,
      },
    };
  }

  /**
   * Matches an agent's released jobs with the growth of its `total_earned_usd` since the
   * total last accounted for, oldest sign-off first: each is counted once the growth
   * covers it (the service bumps the total just after it releases the escrow). A release
   * signed off before the total was first accounted for is inside that first total, and
   * one whose growth never showed within GROWTH_WAIT_MS is counted on the escrow alone
   * (said once): neither waits for growth that will not come.
   */
  async #attribute(agentId: string, releases: Release[], signal?: AbortSignal): Promise<void> {
    const { client, ledger, logger } = this.#d;
    let total: number;
    try {
      total = (await client.getAgent(agentId)).total_earned_usd ?? 0;
    } catch (error) {
      logger.debug({ agentId, problem: errorMessage(error) }, "could not read the agent's total");
      return;
    }
    if (signal?.aborted) return;
    releases.sort((a, b) => a.completedAt - b.completedAt);
    const known = await ledger.earnedSeen(agentId);
    // The first account: the releases seen now are taken as already inside the total.
    let seen = known?.usd ?? Math.max(0, total - releases.reduce((sum, r) => sum + r.amountUsd, 0));
    const since = known ? Date.parse(known.since) : Date.now();
    const now = Date.now();
    for (const release of releases) {
      if (release.amountUsd <= total - seen + EPSILON) {
        seen += release.amountUsd;
        await this.#write(release.record);
        await ledger.setEarnedSeen(agentId, seen);
      } else if (release.completedAt < since - CLOCK_SLACK_MS) {
        // Paid before the first account: inside it already.
        await this.#write(release.record);
      } else if (release.completedAt < now - GROWTH_WAIT_MS) {
        logger.warn(
          { agentId, jobId: release.jobId, amountUsd: release.amountUsd, total, seen },
          "escrow released long ago but total_earned_usd never grew by it; counted on the escrow alone",
        );
        await this.#write(release.record);
      } else {
        logger.debug(
          { agentId, jobId: release.jobId, amountUsd: release.amountUsd, total, seen },
          "escrow released; waiting for total_earned_usd to show the payment",
        );
      }
    }
    const stillAwaited = [...this.#awaiting.values()].includes(agentId);
    if (!stillAwaited && total - seen > EPSILON) {
      // Earnings no result of this runner explains (hosted work, a review elsewhere).
      logger.info(
        { agentId, unexplainedUsd: total - seen },
        "total_earned_usd grew by more than the payments this runner can attribute to its jobs",
      );
      seen = total;
    }
    await ledger.setEarnedSeen(agentId, seen);
  }

  /** Writes a job's payment down once and tells the operator (a replica that wrote it first told them). */
  async #write(record: PaymentRecord): Promise<void> {
    const recorded = await this.#d.ledger.recordPayment(record);
    this.#awaiting.delete(record.jobId);
    // The poster's score and the payment, beside the quality gate's prediction (merged:
    // written again by a replica that read the same sign-off, never twice over).
    await this.#d.ledger
      .noteOutcome(record.agentId, record.jobId, {
        qualityScore: record.qualityScore,
        paidUsd: record.amountUsd,
      })
      .catch((error: unknown) => {
        this.#d.logger.warn(
          { jobId: record.jobId, problem: errorMessage(error) },
          "could not record the sign-off beside the job's outcome",
        );
      });
    if (!recorded) return;
    const agent = this.#d.agents().find((a) => a.agentId === record.agentId);
    agent?.telemetry.paid(record.jobId, record.amountUsd, record.qualityScore, record.outcome);
  }
}
