import type { Logger } from "../../logger.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import type { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import type { JobWithBids } from "../../marketplace/schemas.ts";
import { errorMessage } from "../../secrets.ts";
import type { Ledger } from "../../state/types.ts";
import { type PaidAgent, PaymentReader } from "../delivery/payment-reader.ts";

/** Job statuses in which a poster's counter-offer may wait for an answer. */
const NEGOTIATION_LISTINGS = ["negotiating", "awaiting_approval"] as const;

/**
 * One of the runner's agents as the money watch sees it: its id (once registered), where
 * its payments are told, and how it answers the counter-offers on its bid of a job (the
 * fleet's agent worker is one; the watch needs nothing else of it).
 */
export interface OfferAnswerer extends PaidAgent {
  answerOffers(job: JobWithBids): Promise<void>;
}

export interface MoneyWatchDeps {
  client: MarketplaceClient;
  negotiation: NegotiationApi;
  ledger: Ledger;
  logger: Logger;
  /** The running agents, as they are now. */
  agents: () => readonly OfferAnswerer[];
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
 * marketplace paid for jobs whose results it accepted (its PaymentReader). The listings are asked for only
 * when they can hold news: for an agent they were not yet asked for (bids from before a
 * restart or another replica's), while the last ones held a job we bid on, and when a
 * job we bid on left `posted`.
 */
export class MoneyWatch {
  readonly #deps: MoneyWatchDeps;
  readonly #payments: PaymentReader;
  /** The agents the last negotiation listings were asked for. */
  #listedFor = new Set<string>();
  /** The last negotiation listings held a job this runner bid on. */
  #negotiating = false;

  constructor(deps: MoneyWatchDeps) {
    this.#deps = deps;
    this.#payments = new PaymentReader({
      client: deps.client,
      negotiation: deps.negotiation,
      ledger: deps.ledger,
      logger: deps.logger,
      agents: deps.agents,
    });
  }

  /** A successful result was accepted: its payment is read back once the poster signs off. */
  expectPayment(jobId: string, agentId: string): void {
    this.#payments.expect(jobId, agentId);
  }

  async poll(signal?: AbortSignal): Promise<void> {
    const agents = this.#deps.agents().filter((a) => a.agentId !== undefined);
    const newAgent = agents.some((a) => !this.#listedFor.has(a.agentId!));
    if (newAgent || this.#negotiating || this.#deps.offersPossible()) {
      this.#negotiating = await this.#negotiations(agents, signal);
      this.#listedFor = new Set(agents.map((a) => a.agentId!));
    }
    await this.#payments.poll(signal);
  }

  /** Answers the offers of listed jobs this runner bid on; true when there was one. */
  async #negotiations(agents: OfferAnswerer[], signal?: AbortSignal): Promise<boolean> {
    const { client, ledger } = this.#deps;
    if (agents.length === 0) return false;
    let ours = false;
    const listings = await Promise.all(
      NEGOTIATION_LISTINGS.map((status) => client.listJobs({ status }, signal)),
    );
    for (const job of listings.flatMap((l) => l.jobs)) {
      const bidders: OfferAnswerer[] = [];
      for (const agent of agents) {
        const entry = await ledger.get(agent.agentId!, job.job_id);
        if (entry?.bidAt) bidders.push(agent);
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
      for (const agent of bidders) await agent.answerOffers(full);
    }
    return ours;
  }
}
