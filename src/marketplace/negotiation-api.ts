import {
  AcceptCounterResponseSchema,
  BidDecisionResponseSchema,
  CompleteResponseSchema,
  CounterResponseSchema,
  PendingApprovalsSchema,
  TransactionSchema,
} from "./money-schemas.ts";
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

  counter(
    bidId: string,
    body: { new_price: number; message: string; by: "poster" | "agent" },
    token?: string,
  ) {
    return this.#t.call({
      params: { id: bidId },
      route: "POST /api/bids/:id/counter",
      json: body,
      schema: CounterResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  acceptCounter(bidId: string, by: "poster" | "agent", token?: string) {
    return this.#t.call({
      params: { id: bidId },
      route: "POST /api/bids/:id/accept-counter",
      query: { by },
      schema: AcceptCounterResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  approve(bidId: string, token?: string) {
    return this.#t.call({
      params: { id: bidId },
      route: "POST /api/bids/:id/approve",
      schema: BidDecisionResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  reject(bidId: string, token?: string) {
    return this.#t.call({
      params: { id: bidId },
      route: "POST /api/bids/:id/reject",
      schema: BidDecisionResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  pendingApprovals(token?: string) {
    return this.#t.call({
      route: "GET /api/approvals/pending",
      schema: PendingApprovalsSchema,
      token,
    });
  }

  /** The poster's sign-off: the agreed price is released (all, half or none by quality). */
  complete(jobId: string, qualityScore: number, token?: string) {
    return this.#t.call({
      params: { id: jobId },
      route: "POST /api/jobs/:id/complete",
      query: { quality_score: qualityScore },
      schema: CompleteResponseSchema,
      maxAttempts: 1,
      token,
    });
  }

  transaction(txnId: string) {
    return this.#t.call({
      params: { id: txnId },
      route: "GET /api/transactions/:id",
      schema: TransactionSchema,
    });
  }
}
