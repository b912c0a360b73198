import { badRequest, notFound } from "./errors.ts";
import type { MoneyStore } from "./money-store.ts";
import type { MarketplaceStore } from "./store.ts";
import { isoTime, newId } from "./time.ts";

/** A quality score at or above this releases the whole price; from 0.7 × it, half. */
export const QUALITY_THRESHOLD = 0.8;
/** USDC on Base, as the real service pays. */
const CURRENCY = "USDC";
const CHAIN_ID = 8453;

/** What the poster's sign-off pays: the whole agreed price, half of it, or nothing. */
export function payout(agreedPrice: number, qualityScore: number, success: boolean) {
  if (success && qualityScore >= QUALITY_THRESHOLD)
    return { decision: "accept", status: "released", amount: agreedPrice } as const;
  if (success && qualityScore >= 0.7 * QUALITY_THRESHOLD)
    return { decision: "partial", status: "partial", amount: round6(agreedPrice / 2) } as const;
  return { decision: "reject", status: "refunded", amount: 0 } as const;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * `complete?quality_score=`: releases the agreed price (the winning bid's final price)
 * from escrow to the assigned agent's wallet_address by the quality rule, refunds the
 * rest of the budget to the poster, and writes each movement down as a transaction.
 * No chain is touched: the embedded marketplace keeps the record only.
 */
export class Payments {
  readonly #store: MarketplaceStore;
  readonly #money: MoneyStore;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, money: MoneyStore, now: () => Date) {
    this.#store = store;
    this.#money = money;
    this.#now = now;
  }

  complete(jobId: string, qualityScore: number) {
    if (!(qualityScore >= 0 && qualityScore <= 1))
      throw badRequest("quality_score must be between 0 and 1");
    return this.#store.transaction(() => {
      const job = this.#store.getJob(jobId);
      if (!job) throw notFound("Job");
      if (job.quality_score !== null) throw badRequest(`Job ${jobId} has already been signed off`);
      if (!job.result || !job.assigned_agent_id)
        throw badRequest(
          `Job ${jobId} has no submitted result to sign off (status: ${job.status})`,
        );
      const agent = this.#store.getAgent(job.assigned_agent_id);
      const winning = job.winning_bid_id ? this.#store.getBid(job.winning_bid_id) : null;
      const agreed = job.final_price_usd ?? winning?.final_price_usd ?? winning?.price_usd ?? 0;
      const pay = payout(agreed, qualityScore, job.result.success && agent !== null);
      const now = isoTime(this.#now());
      const record = (txnId: string, kind: string, payee: string, amount: number, status: string) =>
        this.#money.insertTransaction({
          txn_id: txnId,
          job_id: jobId,
          kind,
          payer: job.poster_wallet,
          payee_wallet: payee,
          amount_usd: round6(amount),
          currency: CURRENCY,
          chain_id: CHAIN_ID,
          status,
          created_at: now,
        });
      // The escrow's own transaction records the release: who was paid what, by its id on the job.
      const txnId = job.escrow_txn_id ?? newId("txn");
      record(txnId, "release", agent?.wallet_address ?? job.poster_wallet, pay.amount, pay.status);
      const rest = job.budget_usd - pay.amount;
      if (rest > 0) record(newId("txn"), "refund", job.poster_wallet, rest, "completed");
      this.#store.updateJob(jobId, {
        status: "completed",
        quality_score: qualityScore,
        completed_at: job.completed_at ?? now,
      });
      if (agent) {
        this.#store.updateAgent(agent.agent_id, {
          jobs_completed: agent.jobs_completed + 1,
          total_earned_usd: round6(agent.total_earned_usd + pay.amount),
        });
      }
      return {
        job_id: jobId,
        status: "completed",
        quality_score: qualityScore,
        quality_decision: pay.decision,
        agreed_price: agreed,
        payment_status: pay.status,
        amount_paid: pay.amount,
        txn_id: txnId,
      };
    });
  }

  /** A transaction; a job's escrow before its sign-off shows as `held`. */
  transaction(txnId: string) {
    const txn = this.#money.getTransaction(txnId);
    if (txn) return txn;
    const job = this.#store.listJobs().find((j) => j.escrow_txn_id === txnId);
    if (!job) throw notFound("Transaction");
    return {
      txn_id: txnId,
      job_id: job.job_id,
      kind: "escrow",
      payer: job.poster_wallet,
      payee_wallet: null,
      amount_usd: job.budget_usd,
      currency: CURRENCY,
      chain_id: CHAIN_ID,
      status: "held",
      created_at: job.created_at,
    };
  }

  jobTransactions(jobId: string) {
    const transactions = this.#money.jobTransactions(jobId);
    return { transactions, count: transactions.length };
  }
}
