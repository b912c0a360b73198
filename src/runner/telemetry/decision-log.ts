import type { DecisionRecord } from "./status-types.ts";

/** How many jobs' decisions are kept; older jobs are forgotten first. */
const DEFAULT_MAX_JOBS = 500;

/**
 * Each agent's latest decision per job (bid, or skip with its reason), for the recent
 * jobs only: memory stays bounded however many jobs go by.
 */
export class DecisionLog {
  readonly #maxJobs: number;
  /** jobId → (agent key → decision); Map order is insertion order, oldest job first. */
  readonly #jobs = new Map<string, Map<string, DecisionRecord>>();

  constructor(maxJobs = DEFAULT_MAX_JOBS) {
    this.#maxJobs = maxJobs;
  }

  record(agentKey: string, decision: DecisionRecord): void {
    let byAgent = this.#jobs.get(decision.jobId);
    if (!byAgent) {
      byAgent = new Map();
      this.#jobs.set(decision.jobId, byAgent);
      if (this.#jobs.size > this.#maxJobs) {
        const oldest = this.#jobs.keys().next().value;
        if (oldest !== undefined) this.#jobs.delete(oldest);
      }
    }
    byAgent.set(agentKey, decision);
  }

  /** Every agent's decision on one job, in the order they were made. */
  forJob(jobId: string): DecisionRecord[] {
    return [...(this.#jobs.get(jobId)?.values() ?? [])];
  }

  /** The most recent decisions across jobs, newest first. */
  recent(limit = 200): DecisionRecord[] {
    const all: DecisionRecord[] = [];
    for (const byAgent of this.#jobs.values()) all.push(...byAgent.values());
    all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    return all.slice(0, Math.max(0, limit));
  }

  get jobCount(): number {
    return this.#jobs.size;
  }
}
