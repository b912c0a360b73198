import { isoTime } from "../contract/time.ts";
import { authRequired } from "./auth.ts";
import { ApiError, badRequest, notFound } from "./errors.ts";
import type { BidDoc, JobDoc, MarketplaceStore } from "./store.ts";

/** Bids (and counter-offers) at or above this price wait for the poster's approval. */
export const APPROVAL_THRESHOLD = 10;
/** Counter-offers one bid may collect. */
export const MAX_ROUNDS = 5;
/** Bid statuses in which a counter-offer may be made. */
const NEGOTIABLE = new Set(["pending", "counter_offered", "counter_accepted"]);
/** Job statuses before a winner is chosen: negotiation moves the job among these. */
const UNAWARDED = new Set(["open", "posted", "bidding", "negotiating", "awaiting_approval"]);
const LIVE = new Set(["pending", "awaiting_approval", "counter_offered", "counter_accepted"]);

export type Side = "poster" | "agent";

/**
 * Counter-offers, acceptance, approval and rejection with the real service's rules
 * (marketplace-api.md, "Negotiation, in full"). `wallet` is the authenticated caller
 * (lower case) or null.
 */
export class NegotiationRules {
  readonly #store: MarketplaceStore;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, now: () => Date) {
    this.#store = store;
    this.#now = now;
  }

  counter(
    bidId: string,
    body: { new_price: number; message: string; by: string },
    wallet: string | null,
  ) {
    return this.#store.transaction(() => {
      const { bid, job } = this.#bidAndJob(bidId);
      const by = side(body.by);
      this.#authorize(by, bid, job, wallet);
      if (!NEGOTIABLE.has(bid.status)) throw badRequest(`Bid ${bidId} is not open for negotiation`);
      if (bid.counter_offers.length >= MAX_ROUNDS)
        throw badRequest("Maximum negotiation rounds reached");
      const offers = [
        ...bid.counter_offers,
        { price_usd: body.new_price, message: body.message, by, created_at: isoTime(this.#now()) },
      ];
      const requiresApproval = body.new_price >= APPROVAL_THRESHOLD;
      const status = requiresApproval ? "awaiting_approval" : "counter_offered";
      // A new offer voids an agreement reached on an earlier one.
      this.#store.updateBid(bidId, { counter_offers: offers, status, final_price_usd: null });
      if (UNAWARDED.has(job.status)) {
        this.#store.updateJob(job.job_id, {
          status: requiresApproval ? "awaiting_approval" : "negotiating",
        });
      }
      return { bid_id: bidId, status, counter_offers: offers, requires_approval: requiresApproval };
    });
  }

  acceptCounter(bidId: string, byText: string, wallet: string | null) {
    return this.#store.transaction(() => {
      const { bid, job } = this.#bidAndJob(bidId);
      const by = side(byText);
      this.#authorize(by, bid, job, wallet);
      const last = bid.counter_offers.at(-1);
      if (!last) throw badRequest("No counter-offer to accept");
      if (last.by === by) throw badRequest(`The last counter-offer was made by the ${by}`);
      if (!LIVE.has(bid.status)) throw badRequest(`Bid ${bidId} is not open for negotiation`);
      // A price at or above the threshold stays awaiting the poster's approval.
      const status = bid.status === "awaiting_approval" ? "awaiting_approval" : "counter_accepted";
      this.#store.updateBid(bidId, { status, final_price_usd: last.price_usd });
      return { bid_id: bidId, status, final_price: last.price_usd };
    });
  }

  /** The poster approves a bid awaiting approval: it goes back into negotiation at its price. */
  approve(bidId: string, wallet: string | null) {
    return this.#store.transaction(() => {
      const { bid, job } = this.#bidAndJob(bidId);
      this.#authorize("poster", bid, job, wallet);
      if (bid.status !== "awaiting_approval")
        throw badRequest(`Bid ${bidId} is not awaiting approval`);
      const status =
        bid.final_price_usd != null
          ? "counter_accepted"
          : bid.counter_offers.length > 0
            ? "counter_offered"
            : "pending";
      this.#store.updateBid(bidId, { status });
      this.#settleJob(job);
      return { bid_id: bidId, status, approved: true };
    });
  }

  reject(bidId: string, wallet: string | null) {
    return this.#store.transaction(() => {
      const { bid, job } = this.#bidAndJob(bidId);
      this.#authorize("poster", bid, job, wallet);
      if (!LIVE.has(bid.status))
        throw badRequest(`Bid ${bidId} cannot be rejected (status: ${bid.status})`);
      this.#store.updateBid(bidId, { status: "rejected" });
      this.#settleJob(job);
      return { bid_id: bidId, status: "rejected" };
    });
  }

  /**
   * Every bid awaiting approval, each with its `job` and `agent` (null when gone), as
   * negotiate.py `get_pending_approvals` lists them.
   */
  pendingApprovals() {
    const bids = this.#store.bidsAwaitingApproval();
    const agents = this.#store.agentsById(bids.map((b) => b.agent_id));
    const jobs = new Map<string, JobDoc | null>();
    const pending = bids.map((bid) => {
      if (!jobs.has(bid.job_id)) jobs.set(bid.job_id, this.#store.getJob(bid.job_id));
      return { ...bid, job: jobs.get(bid.job_id) ?? null, agent: agents.get(bid.agent_id) ?? null };
    });
    return { pending_approvals: pending, count: pending.length };
  }

  /** After approval or rejection the job shows the state of its remaining live bids. */
  #settleJob(job: JobDoc): void {
    if (!UNAWARDED.has(job.status)) return;
    const live = this.#store.listBids(job.job_id).filter((b) => LIVE.has(b.status));
    const status = live.some((b) => b.status === "awaiting_approval")
      ? "awaiting_approval"
      : live.some((b) => b.counter_offers.length > 0)
        ? "negotiating"
        : "posted";
    this.#store.updateJob(job.job_id, { status });
  }

  #bidAndJob(bidId: string): { bid: BidDoc; job: JobDoc } {
    const bid = this.#store.getBid(bidId);
    if (!bid) throw notFound("Bid");
    const job = this.#store.getJob(bid.job_id);
    if (!job) throw notFound("Job");
    return { bid, job };
  }

  /** The agent's side is its own wallet; the poster's its poster_wallet or poster_id. */
  #authorize(by: Side, bid: BidDoc, job: JobDoc, wallet: string | null): void {
    if (wallet === null) throw authRequired();
    if (by === "agent") {
      const agent = this.#store.getAgent(bid.agent_id);
      if (agent?.wallet_address.toLowerCase() !== wallet)
        throw new ApiError(403, "Only the bidding agent can negotiate for this bid");
    } else if (
      job.poster_wallet.toLowerCase() !== wallet &&
      job.poster_id.toLowerCase() !== wallet
    ) {
      throw new ApiError(403, "Only the job's poster can do this");
    }
  }
}

function side(by: string): Side {
  if (by !== "poster" && by !== "agent") throw badRequest("by must be 'poster' or 'agent'");
  return by;
}
