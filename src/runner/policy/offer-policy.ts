import type { Bid } from "../../marketplace/schemas.ts";

/** Counter-offers one bid may collect on the service. */
export const MAX_ROUNDS = 5;
/** Bid statuses in which the service takes a counter-offer. */
const COUNTERABLE = new Set(["pending", "counter_offered", "counter_accepted"]);
/** Bid statuses in which an offer can still be accepted. */
const OPEN = new Set(["pending", "counter_offered", "counter_accepted", "awaiting_approval"]);

/** How the agent answers the poster's latest counter-offer on one of its bids. */
export type OfferAnswerDecision =
  | { action: "none"; reason: string }
  | { action: "accept"; offerIndex: number; priceUsd: number; reason: string }
  | { action: "counter"; offerIndex: number; priceUsd: number; message: string; reason: string }
  | { action: "lapse"; offerIndex: number; reason: string };

/**
 * The answer to a bid's latest counter-offer, as a value: accept at or above the floor;
 * below it, counter once at the floor; otherwise let it lapse. Never below the floor,
 * never past the round limit, never the same counter twice.
 */
export function answerOffer(
  bid: Pick<Bid, "status" | "counter_offers">,
  floorUsd: number,
): OfferAnswerDecision {
  const offers = bid.counter_offers;
  const offerIndex = offers.length - 1;
  const last = offers[offerIndex];
  if (!last) return { action: "none", reason: "no counter-offer on the bid" };
  if (last.by !== "poster") return { action: "none", reason: "the last offer is the agent's own" };
  if (!OPEN.has(bid.status)) return { action: "none", reason: `the bid is ${bid.status}` };
  const offered = last.price_usd;
  if (offered >= floorUsd)
    return {
      action: "accept",
      offerIndex,
      priceUsd: offered,
      reason: `$${offered} is at or above the floor of $${floorUsd}`,
    };
  const countered = offers.some((o) => o.by === "agent");
  if (countered)
    return {
      action: "lapse",
      offerIndex,
      reason: `$${offered} is below the floor of $${floorUsd} and the agent has countered once already`,
    };
  if (offers.length >= MAX_ROUNDS)
    return {
      action: "lapse",
      offerIndex,
      reason: `$${offered} is below the floor of $${floorUsd} and the ${MAX_ROUNDS}-round limit is reached`,
    };
  if (!COUNTERABLE.has(bid.status))
    return {
      action: "lapse",
      offerIndex,
      reason: `$${offered} is below the floor of $${floorUsd} and the bid (${bid.status}) takes no counter-offer`,
    };
  return {
    action: "counter",
    offerIndex,
    priceUsd: floorUsd,
    message: `$${floorUsd} is the lowest I can do: it covers the estimated model cost of this job with a margin.`,
    reason: `$${offered} is below the floor of $${floorUsd}; countered once at the floor`,
  };
}
