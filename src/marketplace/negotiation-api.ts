import { CompleteResponseSchema, PendingApprovalsSchema } from "../contract/responses.ts";
import { route } from "../contract/routes.ts";
import {
  AcceptCounterResponseSchema,
  BidDecisionResponseSchema,
  CounterResponseSchema,
  TransactionSchema,
} from "./money-schemas.ts";
import type { CounterRequest } from "./schemas.ts";
import type { MarketplaceTransport } from "./transport.ts";

/**
 * Negotiation, approval and payment calls (marketplace-api.md, "Negotiation, in full"
 * and "Identity"). Calls that move a bid are never retried: a repeat could counter
 * twice. The caller passes the session token where the service requires one.
 */
export class NegotiationApi {
  readonly #t: MarketplaceTransport;

  constructor(transport: MarketplaceTransport) {
    this.#t = transport;
  }

  counter(bidId: string, body: CounterRequest, token?: string) {
    return this.#t.call({
      params: { bid_id: bidId },
      route: route("counterBid"),
      json: body,
      schema: CounterResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  acceptCounter(bidId: string, by: "poster" | "agent", token?: string) {
    return this.#t.call({
      params: { bid_id: bidId },
      route: route("acceptCounter"),
      query: { by },
      schema: AcceptCounterResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  approve(bidId: string, token?: string) {
    return this.#t.call({
      params: { bid_id: bidId },
      route: route("approveBid"),
      schema: BidDecisionResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  reject(bidId: string, token?: string) {
    return this.#t.call({
      params: { bid_id: bidId },
      route: route("rejectBid"),
      schema: BidDecisionResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  pendingApprovals(token?: string) {
    return this.#t.call({
      route: route("pendingApprovals"),
      schema: PendingApprovalsSchema,
      token,
    });
  }

  /** The poster's sign-off: the agreed price is released (all, half or none by quality). */
  complete(jobId: string, qualityScore: number, token?: string) {
    return this.#t.call({
      params: { job_id: jobId },
      route: route("completeJob"),
      query: { quality_score: qualityScore },
      schema: CompleteResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  transaction(txnId: string) {
    return this.#t.call({
      params: { txn_id: txnId },
      route: route("getTransaction"),
      schema: TransactionSchema,
    });
  }
}
