import { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { checkEpoch, isStaleEpoch, type StaleEpochError } from "./fence.ts";
import type {
  AgentTotals,
  BidRecord,
  JobStamp,
  Ledger,
  LedgerEntry,
  LedgerResult,
  OfferAnswer,
} from "./types.ts";

/** Options every backend accepts. */
export interface LedgerCommonOptions {
  metrics?: Metrics;
  logger?: Logger;
  /** Clock in epoch ms; tests inject one to make timestamps (and so ordering) deterministic. */
  now?: () => number;
}

/** A result as it is read back from storage: storage is a boundary like any other. */
export const ledgerResultSchema = z.object({
  success: z.boolean(),
  output: z.string(),
  tokensUsed: z.number().nonnegative(),
  model: z.string(),
  error: z.string().optional(),
});

/** The write methods; each is counted in `bazaar_runner_ledger_operations_total`. */
export const WRITE_OPERATIONS = [
  "recordBid",
  "recordBids",
  "endStake",
  "recordWon",
  "startExecution",
  "recordResult",
  "markAccepted",
  "closeResult",
  "recordSubmitFailure",
  "walletIndex",
  "addSpend",
  "recordOfferAnswer",
  "noteOnce",
  "recordPayment",
  "setEarnedSeen",
  "fenceJobs",
  "raiseFence",
  "noteOutcome",
] as const;
export type WriteOperation = (typeof WRITE_OPERATIONS)[number];

/** An offer answer as it is read back from storage. */
export const offerAnswerSchema = z.object({
  agentId: z.string().min(1),
  jobId: z.string().min(1),
  bidId: z.string().min(1),
  offerIndex: z.number().int().nonnegative(),
  action: z.enum(["accept", "counter", "lapse"]),
  priceUsd: z.number().nonnegative().optional(),
  reason: z.string(),
  answeredAt: z.string().optional(),
});

/** Copies an answer to exactly the OfferAnswer fields, checked; `answeredAt` is the ledger's. */
export function cleanOfferAnswer(answer: OfferAnswer): Omit<OfferAnswer, "answeredAt"> {
  const { answeredAt: _ignored, ...parsed } = offerAnswerSchema.parse(answer);
  return { ...parsed, reason: clip(parsed.reason) };
}

export function checkDay(day: string): void {
  if (typeof day !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(day))
    throw new InvalidArgumentError("ledger: day must be a UTC date YYYY-MM-DD");
}

export function checkUsd(usd: number): void {
  if (!Number.isFinite(usd) || usd < 0)
    throw new InvalidArgumentError("ledger: spend must be a finite, non-negative number of USD");
}

export function checkName(what: string, value: string): void {
  if (typeof value !== "string" || value.length === 0)
    throw new InvalidArgumentError(`ledger: ${what} must be a non-empty string`);
}

/** Every stamp of a `fenceJobs` call checked before any is written: bad input writes nothing. */
export function checkStamps(stamps: readonly JobStamp[]): void {
  for (const { agentId, jobId, epoch } of stamps) {
    checkKey(agentId, jobId);
    checkEpoch(epoch);
  }
}

/**
 * `fenceJobs` for a backend that stamps one entry at a time (inside its transaction):
 * every stamp checked first, then each stamped, its StaleEpochError kept in its place.
 */
export function stampEach(
  stamps: readonly JobStamp[],
  stamp: (stamp: JobStamp) => void,
): (StaleEpochError | undefined)[] {
  checkStamps(stamps);
  return stamps.map((one) => {
    try {
      stamp(one);
      return undefined;
    } catch (err) {
      if (isStaleEpoch(err)) return err;
      throw err;
    }
  });
}

/** Writes that change how many results are pending. */
const PENDING_CHANGING: ReadonlySet<string> = new Set([
  "recordResult",
  "markAccepted",
  "closeResult",
]);

/** What a backend offers besides the Ledger: a cheap count of pending results, if it has one. */
export interface LedgerBackend extends Ledger {
  pendingCount?(): Promise<number>;
}

/** Totals over one agent's entries; every backend counts with this one function. */
export function totalsOf(entries: Iterable<LedgerEntry>): AgentTotals {
  const totals: AgentTotals = { bids: 0, bidUsd: 0, won: 0, wonUsd: 0, succeeded: 0, failed: 0 };
  for (const e of entries) {
    if (e.bidAt !== undefined) {
      totals.bids++;
      totals.bidUsd += e.bidPriceUsd ?? 0;
    }
    if (e.wonAt !== undefined) {
      totals.won++;
      totals.wonUsd += e.bidPriceUsd ?? 0;
    }
    if (e.acceptedAt !== undefined && e.result?.success) totals.succeeded++;
    else if (e.acceptedAt !== undefined || e.closedAt !== undefined) totals.failed++;
  }
  return totals;
}

export function checkKey(agentId: string, jobId: string): void {
  if (typeof agentId !== "string" || agentId.length === 0)
    throw new InvalidArgumentError("ledger: agentId must be a non-empty string");
  if (typeof jobId !== "string" || jobId.length === 0)
    throw new InvalidArgumentError("ledger: jobId must be a non-empty string");
}

/** Copies a result to exactly the LedgerResult fields (no stray properties reach storage). */
export function cleanResult(result: LedgerResult): LedgerResult {
  const parsed = ledgerResultSchema.parse(result);
  const clean: LedgerResult = {
    success: parsed.success,
    output: parsed.output,
    tokensUsed: parsed.tokensUsed,
    model: parsed.model,
  };
  if (parsed.error !== undefined) clean.error = parsed.error;
  return clean;
}

/** Longest error or close reason kept: a marketplace may answer with a whole HTML page. */
export const MAX_REASON_CHARS = 2000;

export function clip(text: string): string {
  const value = String(text);
  return value.length <= MAX_REASON_CHARS ? value : `${value.slice(0, MAX_REASON_CHARS)}…`;
}

export function checkPrice(priceUsd: number): void {
  if (!Number.isFinite(priceUsd) || priceUsd < 0)
    throw new InvalidArgumentError("ledger: bid price must be a finite, non-negative number");
}

/** Adds one (job, agent) pair to a `bidsOn` answer. */
export function addBidder(map: Map<string, Set<string>>, jobId: string, agentId: string): void {
  const agents = map.get(jobId);
  if (agents) agents.add(agentId);
  else map.set(jobId, new Set([agentId]));
}

/** Checks a round's bids before any is written. */
export function checkBids(bids: readonly BidRecord[]): void {
  for (const bid of bids) {
    checkKey(bid.agentId, bid.jobId);
    checkPrice(bid.priceUsd);
    checkEpoch(bid.epoch);
  }
}

export function checkEpochMs(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidArgumentError("ledger: nextSubmitAt must be epoch milliseconds");
}

/**
 * Wraps a backend so that every write is counted by operation and outcome, failures are
 * logged, and `bazaar_runner_outbox_pending` follows the pending results: after each write
 * that changes it when the backend can count cheaply, else whenever the outbox lists them
 * (unfiltered `pendingResults()`) or `summary()` is read.
 */
export function instrument(
  backend: LedgerBackend,
  options: Pick<LedgerCommonOptions, "metrics" | "logger">,
): Ledger {
  const { metrics, logger } = options;
  if (!metrics && !logger) return backend;

  const refreshPending = async (): Promise<void> => {
    if (!metrics || !backend.pendingCount) return;
    try {
      metrics.outboxPending.set(await backend.pendingCount());
    } catch (err) {
      logger?.warn({ err, backend: backend.backend }, "ledger: counting pending results failed");
    }
  };

  /** Fencing at work, not a failure of the ledger: the caller lost the agent's lease. */
  const staleEpoch = (operation: WriteOperation, err: StaleEpochError, jobId?: string): void => {
    metrics?.ledgerOperations.inc({ operation, outcome: "stale_epoch" });
    logger?.warn(
      { backend: backend.backend, operation, agentId: err.agentId, jobId, problem: err.message },
      "ledger write refused: a newer lease epoch exists",
    );
  };

  const write = async <T>(
    operation: WriteOperation,
    agentId: string,
    jobId: string | undefined,
    run: () => Promise<T>,
  ): Promise<T> => {
    let value: T;
    try {
      value = await run();
    } catch (err) {
      if (isStaleEpoch(err)) {
        staleEpoch(operation, err, jobId);
        throw err;
      }
      metrics?.ledgerOperations.inc({ operation, outcome: "error" });
      logger?.error(
        { err, backend: backend.backend, operation, agentId, jobId },
        "ledger write failed",
      );
      throw err;
    }
    metrics?.ledgerOperations.inc({ operation, outcome: "ok" });
    if (PENDING_CHANGING.has(operation)) await refreshPending();
    return value;
  };

  const wrapped: Ledger = {
    backend: backend.backend,
    hasBid: (agentId, jobId) => backend.hasBid(agentId, jobId),
    recordBid: (agentId, jobId, bid, epoch) =>
      write("recordBid", agentId, jobId, () => backend.recordBid(agentId, jobId, bid, epoch)),
    recordBids: (bids) =>
      write("recordBids", `${bids.length} agents`, `${bids.length} bids`, () =>
        backend.recordBids(bids),
      ),
    bidsOn: (jobIds) => backend.bidsOn(jobIds),
    openStakes: () => backend.openStakes(),
    endStake: (agentId, jobId, reason, bidId) =>
      write("endStake", agentId, jobId, () => backend.endStake(agentId, jobId, reason, bidId)),
    recordWon: (agentId, jobId, epoch) =>
      write("recordWon", agentId, jobId, () => backend.recordWon(agentId, jobId, epoch)),
    startExecution: (agentId, jobId, epoch) =>
      write("startExecution", agentId, jobId, () => backend.startExecution(agentId, jobId, epoch)),
    recordResult: (agentId, jobId, result, epoch) =>
      write("recordResult", agentId, jobId, () =>
        backend.recordResult(agentId, jobId, result, epoch),
      ),
    fenceJobs: async (stamps) => {
      const refusals = await write(
        "fenceJobs",
        `${stamps.length} agents`,
        `${stamps.length} jobs`,
        () => backend.fenceJobs(stamps),
      );
      // Each refused stamp is fencing at work, counted and said as a refused fenceJob is.
      refusals.forEach((refusal, i) => {
        if (refusal) staleEpoch("fenceJobs", refusal, stamps[i]?.jobId);
      });
      return refusals;
    },
    raiseFence: (agentId, epoch) =>
      write("raiseFence", agentId, "*", () => backend.raiseFence(agentId, epoch)),
    markAccepted: (agentId, jobId) =>
      write("markAccepted", agentId, jobId, () => backend.markAccepted(agentId, jobId)),
    closeResult: (agentId, jobId, reason) =>
      write("closeResult", agentId, jobId, () => backend.closeResult(agentId, jobId, reason)),
    recordSubmitFailure: (agentId, jobId, error, nextSubmitAt) =>
      write("recordSubmitFailure", agentId, jobId, () =>
        backend.recordSubmitFailure(agentId, jobId, error, nextSubmitAt),
      ),
    get: (agentId, jobId) => backend.get(agentId, jobId),
    walletIndex: (agentKey) =>
      write("walletIndex", agentKey, undefined, () => backend.walletIndex(agentKey)),
    addSpend: (day, agent, usd) =>
      write("addSpend", agent, undefined, () => backend.addSpend(day, agent, usd)),
    spendOn: (day, agent) => backend.spendOn(day, agent),
    recordOfferAnswer: (answer) =>
      write("recordOfferAnswer", answer.agentId, answer.jobId, () =>
        backend.recordOfferAnswer(answer),
      ),
    offerAnswer: (bidId, offerIndex) => backend.offerAnswer(bidId, offerIndex),
    noteOnce: (key) => write("noteOnce", key, undefined, () => backend.noteOnce(key)),
    recordPayment: (payment) =>
      write("recordPayment", payment.agentId, payment.jobId, () => backend.recordPayment(payment)),
    payment: (jobId) => backend.payment(jobId),
    paidTotals: (agentId) => backend.paidTotals(agentId),
    unpaidResults: (agentId) => backend.unpaidResults(agentId),
    earnedSeen: (agentId) => backend.earnedSeen(agentId),
    setEarnedSeen: (agentId, usd) =>
      write("setEarnedSeen", agentId, undefined, () => backend.setEarnedSeen(agentId, usd)),
    agentTotals: (agentId) => backend.agentTotals(agentId),
    noteOutcome: (agentId, jobId, patch) =>
      write("noteOutcome", agentId, jobId, () => backend.noteOutcome(agentId, jobId, patch)),
    outcomes: (agentId, limit) => backend.outcomes(agentId, limit),
    pendingResults: async (agentId) => {
      const pending = await backend.pendingResults(agentId);
      if (agentId === undefined) metrics?.outboxPending.set(pending.length);
      return pending;
    },
    summary: async () => {
      const summary = await backend.summary();
      metrics?.outboxPending.set(summary.pendingResults);
      return summary;
    },
    close: () => backend.close(),
  };
  return wrapped;
}
