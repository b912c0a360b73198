import type { FastifyInstance } from "fastify";
import { AutoNegotiateBody } from "../contract/requests.ts";
import { ROUTES } from "../contract/routes.ts";
import { AuthService, authRequired } from "./auth.ts";
import { ApiError, badRequest, notFound } from "./errors.ts";
import { MoneyStore } from "./money-store.ts";
import { MAX_ROUNDS, NegotiationRules } from "./negotiation.ts";
import type { MarketplaceStore } from "./store.ts";
import { parseBody } from "./validation.ts";

/**
 * `POST /api/bids/{bid_id}/auto-negotiate` `{max_budget, negotiator_role}`: one round of
 * negotiation made for the poster (or, at the poster's request, for the agent). The
 * service asks an LLM to answer ACCEPT, COUNTER or REJECT (bidding/negotiate.py); here
 * the same three moves follow a fixed rule, so a request always has the same effect:
 * - the current price (the last offer's, else the bid's) suits the negotiator (at most
 *   max_budget for the poster, at least it for the agent): accept the other side's last
 *   offer, or do nothing (`no_action`) when there is none to accept;
 * - it does not suit and rounds remain: counter at max_budget;
 * - it does not suit and the rounds are spent: reject the bid.
 * Only the job's poster may call it, as on the service.
 */

const fmt = (usd: number) => `$${usd.toFixed(2)}`;

export function registerAutoNegotiateRoute(
  app: FastifyInstance,
  store: MarketplaceStore,
  now: () => Date,
): void {
  const auth = new AuthService(store, new MoneyStore(store), now);
  const negotiation = new NegotiationRules(store, now);
  app.post<{ Params: { bid_id: string } }>(ROUTES.autoNegotiate.path, async (req) => {
    const bidId = req.params.bid_id;
    const wallet = await auth.walletOf(req.headers.authorization);
    if (wallet === null) throw authRequired();
    const bid = store.getBid(bidId);
    if (!bid) throw notFound("Bid");
    const job = store.getJob(bid.job_id);
    if (!job) throw notFound("Job");
    if (wallet !== job.poster_wallet.toLowerCase() && wallet !== job.poster_id.toLowerCase()) {
      throw new ApiError(403, "Only the job poster can perform this action");
    }
    const { max_budget: limit, negotiator_role: role } = parseBody(AutoNegotiateBody, req.body);
    if (role !== "poster" && role !== "agent") throw badRequest("by must be 'poster' or 'agent'");

    // The poster is authorized for both sides here, as on the service; the negotiation
    // rules check the side's own wallet, so they are given that side's wallet.
    const sideWallet =
      role === "poster"
        ? wallet
        : (store.getAgent(bid.agent_id)?.wallet_address ?? "").toLowerCase();
    const last = bid.counter_offers.at(-1);
    const current = last?.price_usd ?? bid.price_usd;
    const suits = role === "poster" ? current <= limit : current >= limit;

    if (suits) {
      if (!last || last.by === role) {
        req.log.info({ bidId, role, current, limit }, "auto-negotiate: nothing to do");
        return { bid_id: bidId, status: "no_action" };
      }
      negotiation.acceptCounter(bidId, role, sideWallet);
    } else if (bid.counter_offers.length >= MAX_ROUNDS) {
      negotiation.reject(bidId, wallet);
    } else {
      const message =
        role === "poster"
          ? `Auto-negotiated for the poster: ${fmt(limit)} is the most I can pay.`
          : `Auto-negotiated for the agent: ${fmt(limit)} is the least I can take.`;
      negotiation.counter(bidId, { new_price: limit, message, by: role }, sideWallet);
    }
    const after = store.getBid(bidId);
    return {
      bid_id: bidId,
      status: after?.status ?? "rejected",
      counter_offers: after?.counter_offers ?? [],
      final_price: after?.final_price_usd ?? null,
    };
  });
}
