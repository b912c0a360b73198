import type { Logger } from "../logger.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import { transactionAmount, transactionPayee } from "../marketplace/money-schemas.ts";
import type { NegotiationApi } from "../marketplace/negotiation-api.ts";
import type { JobWithBids } from "../marketplace/schemas.ts";
import { errorMessage } from "../secrets.ts";
import type { Ledger } from "../state/types.ts";
import { sameAddress } from "../wallet/keys.ts";
import type { AgentWorker } from "./agent-worker.ts";

/** Job statuses in which a poster's counter-offer may wait for an answer. */
const NEGOTIATION_LISTINGS = ["negotiating", "awaiting_approval"] as const;

export interface MoneyWatchDeps {
  client: MarketplaceClient;
  negotiation: NegotiationApi;
  ledger: Ledger;
  logger: Logger;
  workers: () => AgentWorker[];
  /**
   * Whether a job we bid on may be in negotiation: a counter-offer moves a job out of
   * `posted` (the job feed's `bidLeftPosted`).
   */
  offersPossible: () => boolean;
}

/**
 * Once per poll: finds counter-offers on this runner's bids through the `negotiating`
 * and `awaiting_approval` listings (two requests, plus one per listed job this runner
 * bid on, never one per bid), lets each bidding agent answer, and reads back what the
 * marketplace paid for jobs whose results it accepted. The listings are asked for only
 * when they can hold news: for an agent they were not yet asked for (bids from before a
 * restart or another replica's), while the last ones held a job we bid on, and when a
 * job we bid on left `posted`.
 */
export class MoneyWatch {
  readonly #deps: MoneyWatchDeps;
  /** Jobs whose successful result the marketplace took: job id → agent id, until paid. */
  readonly #awaitingPayment = new Map<string, string>();
  /** The agents the last negotiation listings were asked for. */
  #listedFor = new Set<string>();
  /** The last negotiation listings held a job this runner bid on. */
  #negotiating = false;

  constructor(deps: MoneyWatchDeps) {
    this.#deps = deps;
  }

  /** A successful result was accepted: its payment is read back once the poster signs off. */
  expectPayment(jobId: string, agentId: string): void {
    this.#awaitingPayment.set(jobId, agentId);
  }

  async poll(signal?: AbortSignal): Promise<void> {
    const workers = this.#deps.workers().filter((w) => w.agentId !== undefined);
    const newAgent = workers.some((w) => !this.#listedFor.has(w.agentId!));
    if (newAgent || this.#negotiating || this.#deps.offersPossible()) {
      this.#negotiating = await this.#negotiations(workers, signal);
      this.#listedFor = new Set(workers.map((w) => w.agentId!));
    }
    if (this.#awaitingPayment.size > 0) await this.#payments(signal);
  }

  /** Answers the offers of listed jobs this runner bid on; true when there was one. */
  async #negotiations(workers: AgentWorker[], signal?: AbortSignal): Promise<boolean> {
    const { client, ledger } = this.#deps;
    if (workers.length === 0) return false;
    let ours = false;
    const listings = await Promise.all(
      NEGOTIATION_LISTINGS.map((status) => client.listJobs({ status }, signal)),
    );
    for (const job of listings.flatMap((l) => l.jobs)) {
      const bidders: AgentWorker[] = [];
      for (const worker of workers) {
        const entry = await ledger.get(worker.agentId!, job.job_id);
        if (entry?.bidAt) bidders.push(worker);
      }
      if (bidders.length === 0) continue;
      ours = true;
      let full: JobWithBids;
      try {
        full = await client.getJob(job.job_id, signal);
      } catch (error) {
        this.#deps.logger.debug(
          { jobId: job.job_id, problem: errorMessage(error) },
          "could not read a job in negotiation",
        );
        continue;
      }
      for (const worker of bidders) await worker.answerOffers(full);
    }
    return ours;
  }

  async #payments(signal?: AbortSignal): Promise<void> {
    const { client, negotiation, ledger } = this.#deps;
    const completed = await client.listJobs({ status: "completed" }, signal);
    for (const job of completed.jobs) {
      const agentId = this.#awaitingPayment.get(job.job_id);
      if (agentId === undefined || job.quality_score == null) continue;
      const worker = this.#deps.workers().find((w) => w.agentId === agentId);
      let amount = 0;
      let status = "unknown";
      if (job.escrow_txn_id) {
        try {
          const txn = await negotiation.transaction(job.escrow_txn_id);
          status = txn.status;
          // Only what reached this agent's own wallet counts as paid.
          if (sameAddress(transactionPayee(txn), worker?.wallet?.address))
            amount = transactionAmount(txn);
        } catch (error) {
          this.#deps.logger.debug(
            { jobId: job.job_id, problem: errorMessage(error) },
            "could not read the job's transaction",
          );
          continue; // tried again at the next poll
        }
      }
      this.#awaitingPayment.delete(job.job_id);
      if (!(await ledger.noteOnce(`paid:${job.job_id}`))) continue;
      worker?.telemetry.paid(job.job_id, amount, job.quality_score, status);
    }
  }
}
