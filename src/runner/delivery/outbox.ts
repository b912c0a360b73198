import type { Logger } from "../../logger.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError, type MarketplaceCode } from "../../marketplace/errors.ts";
import type { Metrics } from "../../metrics.ts";
import { backoffDelay } from "../../retry.ts";
import { errorMessage } from "../../secrets.ts";
import type { Ledger, LedgerEntry } from "../../state/types.ts";
import { inJobSpan } from "../../tracing/tracing.ts";

export interface OutboxOptions {
  client: MarketplaceClient;
  ledger: Ledger;
  logger: Logger;
  metrics?: Metrics;
  /** How often the loop looks for due results. */
  intervalMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * With replicas: whether this replica runs the agent, so that only its holder submits
   * an agent's pending results (a new holder submits those an old one left).
   */
  owns?: (agentId: string) => boolean;
  /** Called with each submission's outcome, for status and events. */
  onOutcome?: (entry: LedgerEntry, outcome: SubmitOutcome) => void;
}

export type SubmitOutcome =
  | { kind: "accepted"; status: string }
  | { kind: "closed"; reason: string }
  | { kind: "retry"; error: string; nextSubmitAt: number };

/** Statuses after which the marketplace will never accept this result. */
const FINAL_CODES = new Set<MarketplaceCode>([
  "BR_ERR_MARKETPLACE_REJECTED",
  "BR_ERR_MARKETPLACE_FORBIDDEN",
  "BR_ERR_MARKETPLACE_NOT_FOUND",
  "BR_ERR_MARKETPLACE_CONFLICT",
]);
/**
 * A failure report (`success: false`) is sent at most this many times. The service
 * answers every one with 500 (it sets a `failed` status its own status list lacks) and
 * leaves the job `assigned`, so retrying would never end. After the last attempt the
 * result is closed and the job left to its poster; it is never executed again (the LLM
 * cost is spent, and the poster decides: select another bid, or cancel).
 */
export const MAX_FAILURE_REPORTS = 3;

/**
 * Submits results from the ledger until the marketplace accepts them or says the job
 * is no longer ours. Results are written to the ledger before they get here, so a
 * crash at any point leaves them to be submitted after the restart.
 */
export class Outbox {
  readonly #options: OutboxOptions;
  readonly #inFlight = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: OutboxOptions) {
    this.#options = options;
  }

  start(): void {
    const interval = this.#options.intervalMs ?? 1000;
    this.#timer = setInterval(() => void this.flush(), interval);
    this.#timer.unref();
    void this.flush();
  }

  /** Submits every due result now (also called right after a result is recorded). */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (!this.#running) {
      this.#running = this.#flushOnce().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  /** Submits one entry now, unless a submission of it is already under way. */
  async submit(entry: LedgerEntry): Promise<SubmitOutcome | undefined> {
    const key = `${entry.agentId}|${entry.jobId}`;
    if (this.#inFlight.has(key) || !entry.result) return undefined;
    this.#inFlight.add(key);
    try {
      // Each attempt is a span of the job's trace (tracing on), its HTTP call beneath it.
      const outcome = await inJobSpan(
        entry.agentId,
        entry.jobId,
        "bazaar.submission",
        { "bazaar.submission.attempt": entry.submitAttempts + 1 },
        async (span) => {
          const outcome = await this.#submit(entry);
          span?.setAttribute("bazaar.submission.outcome", outcome.kind);
          return outcome;
        },
      );
      this.#options.onOutcome?.(entry, outcome);
      return outcome;
    } catch (error) {
      // The ledger could not record the outcome: the entry stays pending and is
      // tried again at the next round, which at worst repeats a submission the
      // marketplace answers with 400 (recognised as ours below).
      this.#options.logger.error(
        { agentId: entry.agentId, jobId: entry.jobId, problem: errorMessage(error) },
        "ledger write after submission failed",
      );
      return undefined;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #flushOnce(): Promise<void> {
    let pending: LedgerEntry[];
    try {
      pending = await this.#options.ledger.pendingResults();
    } catch (error) {
      this.#options.logger.error(
        { problem: errorMessage(error) },
        "ledger unreadable; results will be submitted later",
      );
      return;
    }
    this.#options.metrics?.outboxPending.set(pending.length);
    const now = Date.now();
    for (const entry of pending) {
      if (this.#closed) break;
      if ((entry.nextSubmitAt ?? 0) > now) continue;
      if (this.#options.owns && !this.#options.owns(entry.agentId)) continue;
      await this.submit(entry);
    }
  }

  async #submit(entry: LedgerEntry): Promise<SubmitOutcome> {
    const { client, ledger, logger, metrics } = this.#options;
    const result = entry.result!;
    const log = logger.child({ agentId: entry.agentId, jobId: entry.jobId });
    // A ledger from before this limit may hold a failure report tried many times.
    if (!result.success && entry.submitAttempts >= MAX_FAILURE_REPORTS)
      return this.#giveUpFailure(entry, entry.lastSubmitError ?? "no answer", log);
    try {
      const response = await client.submitResult(entry.jobId, {
        success: result.success,
        output: result.output,
        tokens_used: Math.round(result.tokensUsed),
        model: result.model,
        executed_by: entry.agentId,
      });
      await ledger.markAccepted(entry.agentId, entry.jobId);
      metrics?.resultsSubmitted.inc({ agent: entry.agentId, outcome: "accepted" });
      log.info({ status: response.status, attempts: entry.submitAttempts + 1 }, "result accepted");
      return { kind: "accepted", status: response.status };
    } catch (error) {
      if (isMarketplaceError(error) && FINAL_CODES.has(error.code)) {
        // A 400 may mean an earlier attempt of ours landed but its answer was lost.
        if (error.code === "BR_ERR_MARKETPLACE_REJECTED" && (await this.#alreadyOurs(entry))) {
          await ledger.markAccepted(entry.agentId, entry.jobId);
          metrics?.resultsSubmitted.inc({ agent: entry.agentId, outcome: "accepted" });
          log.info("result already accepted by an earlier attempt");
          return { kind: "accepted", status: "completed" };
        }
        const reason = `marketplace answered ${error.status}${error.detail ? `: ${error.detail}` : ""}`;
        await ledger.closeResult(entry.agentId, entry.jobId, reason);
        metrics?.resultsSubmitted.inc({
          agent: entry.agentId,
          outcome: `rejected_${error.status}`,
        });
        log.warn({ reason }, "result refused; kept in the ledger, not retried");
        return { kind: "closed", reason };
      }
      const attempts = entry.submitAttempts + 1;
      const problem = errorMessage(error);
      if (!result.success && attempts >= MAX_FAILURE_REPORTS) {
        await ledger.recordSubmitFailure(entry.agentId, entry.jobId, problem, Date.now());
        return this.#giveUpFailure({ ...entry, submitAttempts: attempts }, problem, log);
      }
      const delay = backoffDelay(attempts, {
        baseMs: this.#options.baseDelayMs ?? 1000,
        capMs: this.#options.maxDelayMs ?? 300_000,
      });
      const nextSubmitAt = Date.now() + Math.round(delay);
      await ledger.recordSubmitFailure(entry.agentId, entry.jobId, problem, nextSubmitAt);
      metrics?.resultsSubmitted.inc({ agent: entry.agentId, outcome: "retry" });
      log.warn(
        { problem, attempts, retryInMs: Math.round(delay) },
        "result submission failed; will retry",
      );
      return { kind: "retry", error: problem, nextSubmitAt };
    }
  }

  /** The failure report could not be recorded: closed, said once, the job left to its poster. */
  async #giveUpFailure(entry: LedgerEntry, problem: string, log: Logger): Promise<SubmitOutcome> {
    const reason = `the marketplace did not record the failure report after ${entry.submitAttempts} attempts (last: ${problem}); the job stays assigned, left to its poster`;
    await this.#options.ledger.closeResult(entry.agentId, entry.jobId, reason);
    this.#options.metrics?.resultsSubmitted.inc({
      agent: entry.agentId,
      outcome: "failure_unrecorded",
    });
    log.warn({ attempts: entry.submitAttempts, problem }, "failure report not recorded; given up");
    return { kind: "closed", reason };
  }

  async #alreadyOurs(entry: LedgerEntry): Promise<boolean> {
    try {
      const job = await this.#options.client.getJob(entry.jobId);
      return (
        job.result?.executed_by === entry.agentId &&
        (job.status === "completed" || job.status === "failed")
      );
    } catch {
      return false;
    }
  }
}
