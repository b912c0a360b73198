import type { JobWithBids } from "../../marketplace/schemas.ts";
import type { PaymentRecord } from "../../state/types.ts";

/**
 * What the service pays for a signed-off job, as its code does it (payments/release.py,
 * execution/quality.py; the `review` route in api.py):
 * - `complete?quality_score=`: the agreed price is the winning bid's original
 *   `price_usd` (an accepted counter-offer's `final_price_usd` does not count), paid in
 *   full at a quality score of at least 0.7 (the service's `quality_threshold`), half of
 *   it from 0.7 × 0.7 (0.49), and refunded to the poster below;
 * - `review` (hosted execution): the reviewer's decision on the job's `final_price_usd`
 *   (else its budget): accept pays it, partial half, reject nothing.
 * A release of 0 releases the escrow's whole amount instead (`amount_usd or escrow`).
 */
export const QUALITY_THRESHOLD = 0.7;
const PARTIAL_FROM = QUALITY_THRESHOLD * 0.7; // computed as the service does: 0.48999…
const PARTIAL_RATIO = 0.5;

export interface ExpectedPayment {
  outcome: "released" | "partial" | "refunded";
  /** USD the agent is paid (before the escrow-amount fallback of a release of 0). */
  amountUsd: number;
}

/** The payment a signed-off job makes by the service's rule; undefined before the sign-off. */
export function expectedPayment(job: JobWithBids): ExpectedPayment | undefined {
  const review = job.human_review_decision;
  if (review === "accept" || review === "partial" || review === "reject") {
    const agreed = job.final_price_usd || job.budget_usd || 0;
    if (review === "accept") return { outcome: "released", amountUsd: agreed };
    if (review === "partial") return { outcome: "partial", amountUsd: agreed * PARTIAL_RATIO };
    return { outcome: "refunded", amountUsd: 0 };
  }
  const quality = job.quality_score;
  if (quality == null) return undefined;
  const winning = job.bids.find((b) => b.bid_id === job.winning_bid_id);
  const agreed = winning ? winning.price_usd : (job.budget_usd ?? 0);
  if (quality >= QUALITY_THRESHOLD) return { outcome: "released", amountUsd: agreed };
  if (quality >= PARTIAL_FROM) return { outcome: "partial", amountUsd: agreed * PARTIAL_RATIO };
  return { outcome: "refunded", amountUsd: 0 };
}

/** What a sign-off at `quality` pays on an agreed price, by the rule above (the quality gate's payout). */
export function paymentAtQuality(quality: number, agreedUsd: number): number {
  if (quality >= QUALITY_THRESHOLD) return agreedUsd;
  if (quality >= PARTIAL_FROM) return agreedUsd * PARTIAL_RATIO;
  return 0;
}

/** A release as the escrow shows it happened: the amount, with the service's fallback for 0. */
export function releasedAmount(expected: ExpectedPayment, escrowAmountUsd: number): number {
  return expected.amountUsd || escrowAmountUsd;
}

export type PaymentOutcome = PaymentRecord["outcome"];
