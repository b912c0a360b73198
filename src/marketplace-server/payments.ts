import { randomBytes } from "node:crypto";
import { isoTime } from "../contract/time.ts";
import { InternalError, notFound } from "./errors.ts";
import { newId } from "./ids.ts";
import type { MoneyStore, TransactionDoc } from "./money-store.ts";
import type { JobDoc, MarketplaceStore } from "./store.ts";

/**
 * Payments as the service makes them (payments/escrow.py, release.py, refund.py,
 * execution/quality.py): an escrow transaction when a job is posted, and at sign-off a
 * NEW release (or refund) transaction, the escrow's status following. No chain is
 * touched: the x402 hashes are made up, as the service's simulated mode makes them.
 */

/** The service's `quality_threshold` (config.py). */
export const QUALITY_THRESHOLD = 0.7;

/** The service's `check_quality_threshold`: what a quality score pays. */
export function qualityDecision(score: number) {
  const shown = score.toFixed(2);
  if (score >= QUALITY_THRESHOLD) {
    return {
      passed: true,
      action: "release_payment",
      quality_score: score,
      threshold: QUALITY_THRESHOLD,
      message: `Quality score ${shown} meets threshold ${QUALITY_THRESHOLD}`,
      requires_human_approval: true,
    } as const;
  }
  if (score >= QUALITY_THRESHOLD * 0.7) {
    return {
      passed: false,
      action: "partial_payment",
      quality_score: score,
      threshold: QUALITY_THRESHOLD,
      payment_ratio: 0.5,
      message: `Quality score ${shown} below threshold, partial payment suggested`,
      requires_human_approval: true,
    } as const;
  }
  return {
    passed: false,
    action: "refund",
    quality_score: score,
    threshold: QUALITY_THRESHOLD,
    message: `Quality score ${shown} too low, refund suggested`,
    requires_human_approval: true,
  } as const;
}

/** A made-up x402 transaction hash of the service's simulated shape (0x + 56 hex). */
const x402Hash = () => `0x${randomBytes(28).toString("hex")}`;

/** The escrow transaction of a job being posted (no payee: the marketplace holds the money). */
export function escrowTransaction(
  job: Pick<JobDoc, "job_id" | "poster_id" | "poster_wallet" | "budget_usd">,
  txnId: string,
  at: string,
): TransactionDoc {
  return {
    txn_id: txnId,
    txn_type: "escrow",
    job_id: job.job_id,
    bid_id: null,
    payer_id: job.poster_id,
    payer_wallet: job.poster_wallet,
    payee_id: null,
    payee_wallet: null,
    amount_usd: job.budget_usd,
    amount_usdc: job.budget_usd,
    x402_payment_id: null,
    x402_escrow_id: x402Hash(),
    status: "escrowed",
    created_at: at,
    confirmed_at: at,
    released_at: null,
  };
}

export class Payments {
  readonly #store: MarketplaceStore;
  readonly #money: MoneyStore;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, money: MoneyStore, now: () => Date) {
    this.#store = store;
    this.#money = money;
    this.#now = now;
  }

  /**
   * `complete?quality_score=`, as the service runs it: no sign-in and no status check.
   * The job is set `completed` with the score first (that stays even when the payment
   * then fails, as on the service); then the quality rule pays the winning bid's
   * ORIGINAL price (or half, or refunds), and jobs_completed is left alone. What the
   * service raises (unknown job, no escrow, no agent, an escrow already settled) is a
   * 500 here too.
   */
  complete(jobId: string, qualityScore: number) {
    const now = isoTime(this.#now());
    this.#store.updateJob(jobId, {
      status: "completed",
      quality_score: qualityScore,
      completed_at: now,
    });
    return this.#store.transaction(() => {
      const job = this.#store.getJob(jobId);
      if (!job) throw new InternalError(`complete: job ${jobId} not found`);
      const score = job.quality_score ?? 0;
      const decision = qualityDecision(score);
      const escrowId = job.escrow_txn_id;
      if (!escrowId) throw new InternalError(`complete: no escrow found for job ${jobId}`);
      const agentId = job.assigned_agent_id;
      const agent = agentId ? this.#store.getAgent(agentId) : null;
      if (!agentId || !agent) throw new InternalError(`complete: agent ${agentId} not found`);
      const bid = job.winning_bid_id ? this.#store.getBid(job.winning_bid_id) : null;
      const agreed = bid ? bid.price_usd : job.budget_usd;
      const base = { job_id: jobId, quality_score: score, quality_decision: decision };
      if (decision.action === "refund") {
        const refund = this.refund(escrowId);
        return {
          ...base,
          agreed_price: agreed,
          payment_status: "refunded",
          amount_paid: 0,
          txn_id: refund?.txn_id ?? null,
        };
      }
      const amount =
        decision.action === "partial_payment" ? agreed * decision.payment_ratio : agreed;
      const release = this.release(escrowId, agentId, agent.wallet_address, amount);
      return {
        ...base,
        agreed_price: agreed,
        payment_status: decision.action === "partial_payment" ? "partial" : "released",
        amount_paid: amount,
        txn_id: release.txn_id,
      };
    });
  }

  /**
   * Releases escrowed money to an agent (release.py `release_payment`): a new `release`
   * transaction, the escrow `released`, the agent's total_earned_usd up by the amount.
   * An amount of 0 releases the whole escrow, as the service's `amount or escrow` does.
   */
  release(escrowTxnId: string, payeeId: string, payeeWallet: string, amount: number) {
    return this.#store.transaction(() => {
      const escrow = this.#money.getTransaction(escrowTxnId);
      if (!escrow) throw new InternalError(`Escrow transaction ${escrowTxnId} not found`);
      if (escrow.status !== "escrowed") {
        throw new InternalError(`Escrow is not active (status: ${escrow.status})`);
      }
      const paid = amount || escrow.amount_usd;
      const now = isoTime(this.#now());
      const txn: TransactionDoc = {
        ...escrow,
        txn_id: newId("txn"),
        txn_type: "release",
        payee_id: payeeId,
        payee_wallet: payeeWallet,
        amount_usd: paid,
        amount_usdc: paid,
        x402_payment_id: x402Hash(),
        status: "released",
        created_at: now,
        confirmed_at: null,
        released_at: now,
      };
      this.#money.insertTransaction(txn);
      this.#money.settleTransaction(escrowTxnId, "released", now);
      const agent = this.#store.getAgent(payeeId);
      if (agent) {
        this.#store.updateAgent(payeeId, { total_earned_usd: agent.total_earned_usd + paid });
      }
      return txn;
    });
  }

  /**
   * Refunds an escrow to its payer (refund.py `refund_payment`): a new `refund`
   * transaction and the escrow `refunded`; null (nothing done) unless it is escrowed.
   */
  refund(escrowTxnId: string): TransactionDoc | null {
    return this.#store.transaction(() => {
      const escrow = this.#money.getTransaction(escrowTxnId);
      if (escrow?.status !== "escrowed") return null;
      const now = isoTime(this.#now());
      const txn: TransactionDoc = {
        ...escrow,
        txn_id: newId("txn"),
        txn_type: "refund",
        payee_id: escrow.payer_id,
        payee_wallet: escrow.payer_wallet,
        x402_payment_id: x402Hash(),
        status: "refunded",
        created_at: now,
        confirmed_at: null,
        released_at: now,
      };
      this.#money.insertTransaction(txn);
      this.#money.settleTransaction(escrowTxnId, "refunded", now);
      return txn;
    });
  }

  transaction(txnId: string): TransactionDoc {
    const txn = this.#money.getTransaction(txnId);
    if (!txn) throw notFound("Transaction");
    return txn;
  }

  jobTransactions(jobId: string) {
    const transactions = this.#money.jobTransactions(jobId);
    return { transactions, count: transactions.length };
  }
}
