import type { Sessions, Signer } from "../../marketplace/auth.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import type { Bid, JobWithBids } from "../../marketplace/schemas.ts";
import type { Ledger } from "../../state/types.ts";
import { answerOffer, type OfferAnswerDecision } from "../policy/offer-policy.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";

export interface OfferAnsweringDeps {
  ledger: Ledger;
  sessions: Sessions;
  negotiation: NegotiationApi;
  telemetry: AgentTelemetry;
}

type Answer = Exclude<OfferAnswerDecision, { action: "none" }>;

/**
 * Answers the poster's latest counter-offer on one agent's bid, once: decided by
 * `answerOffer` against the floor, sent signed in as the agent's own wallet, then
 * written to the ledger (after the call: an answer that reached the service shows in
 * the bid, so a crash in between is not answered twice). Without a key (payout-only)
 * every offer lapses. A refusal (4xx) is recorded as a lapse; an unknown outcome is
 * tried again at the next poll.
 */
export async function answerLatestOffer(
  agentId: string,
  job: JobWithBids,
  bid: Bid,
  floorUsd: number,
  signer: Signer | undefined,
  deps: OfferAnsweringDeps,
): Promise<void> {
  const decided = answerOffer(bid, floorUsd);
  if (decided.action === "none") return;
  // Counter-offers teach the price learner that the price was high; best effort.
  const counters = bid.counter_offers.filter((offer) => offer.by === "poster").length;
  await deps.ledger
    .noteOutcome(agentId, job.job_id, { counterOffers: counters })
    .catch((error) => deps.telemetry.error("could not note a counter-offer", error, job.job_id));
  if (await deps.ledger.offerAnswer(bid.bid_id, decided.offerIndex)) return; // answered before
  let answer: Answer =
    decided.action !== "lapse" && !signer
      ? {
          action: "lapse",
          offerIndex: decided.offerIndex,
          reason:
            "the runner holds no key for this agent's wallet (payout-only), so it cannot answer",
        }
      : decided;
  try {
    if (signer) await send(answer, bid.bid_id, signer, deps);
  } catch (error) {
    deps.telemetry.error(`negotiation (${answer.action}) failed`, error, job.job_id);
    if (!(isMarketplaceError(error) && error.isClientError)) return;
    answer = {
      action: "lapse",
      offerIndex: answer.offerIndex,
      reason: `the marketplace refused the ${answer.action}: ${error.detail ?? error.message}`,
    };
  }
  await deps.ledger.recordOfferAnswer({
    agentId,
    jobId: job.job_id,
    bidId: bid.bid_id,
    offerIndex: answer.offerIndex,
    action: answer.action,
    ...(answer.action !== "lapse" ? { priceUsd: answer.priceUsd } : {}),
    reason: answer.reason,
  });
  deps.telemetry.negotiated(job, bid.bid_id, answer);
}

async function send(answer: Answer, bidId: string, signer: Signer, deps: OfferAnsweringDeps) {
  if (answer.action === "accept")
    await deps.sessions.withSession(signer, (token) =>
      deps.negotiation.acceptCounter(bidId, "agent", token),
    );
  else if (answer.action === "counter") {
    const body = { new_price: answer.priceUsd, message: answer.message, by: "agent" as const };
    await deps.sessions.withSession(signer, (token) =>
      deps.negotiation.counter(bidId, body, token),
    );
  }
}
