import type { Logger } from "../logger.ts";
import type { MarketplaceRules } from "./rules.ts";

/**
 * Auto-award for hands-off demos: N seconds after a job's first bid, the live bid with
 * the best confidence-to-price ratio wins. Timers are in-process; `rearm` restores them
 * after a restart from the jobs that have bids but no winner.
 */
export class AutoAwarder {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #closed = false;
  readonly #rules: MarketplaceRules;
  readonly #seconds: number;
  readonly #log: Logger;
  readonly #now: () => Date;

  constructor(rules: MarketplaceRules, seconds: number, log: Logger, now: () => Date) {
    this.#rules = rules;
    this.#seconds = seconds;
    this.#log = log;
    this.#now = now;
  }

  /** Arms the timer of a job whose first bid came at `firstBidAt`. */
  schedule(jobId: string, firstBidAt: Date): void {
    if (this.#closed || this.#timers.has(jobId)) return;
    const due = firstBidAt.getTime() + this.#seconds * 1000;
    const delay = Math.max(0, due - this.#now().getTime());
    const timer = setTimeout(() => {
      this.#timers.delete(jobId);
      this.#award(jobId);
    }, delay);
    timer.unref();
    this.#timers.set(jobId, timer);
  }

  /** Re-arms timers for every job still waiting for a winner (after a restart). */
  rearm(): void {
    for (const { jobId, firstBidAt } of this.#rules.jobsAwaitingAward()) {
      this.schedule(jobId, firstBidAt);
    }
  }

  #award(jobId: string): void {
    if (this.#closed) return;
    try {
      if (!this.#rules.isAwardable(jobId)) return;
      const best = this.#rules.bestBid(jobId);
      if (!best) return;
      this.#rules.selectBid(jobId, best.bid_id);
      this.#log.info(
        { jobId, bidId: best.bid_id, agentId: best.agent_id, priceUsd: best.price_usd },
        "auto-awarded job",
      );
    } catch (err) {
      this.#log.warn({ err, jobId }, "auto-award failed");
    }
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Jobs with an armed timer (for tests). */
  get pending(): string[] {
    return [...this.#timers.keys()];
  }
}
