import type { Ledger } from "../../state/types.ts";

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
