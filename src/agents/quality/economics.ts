/**
 * What a deliverable is expected to earn at a predicted quality, and whether one
 * repair round pays for itself. The poster's score is taken as the prediction give or
 * take SCORE_SPREAD (normal), so a prediction near a payment step counts both sides.
 */

/** Standard deviation assumed between the predicted quality and the poster's score. */
export const SCORE_SPREAD = 0.15;
/**
 * The share of the gap to 1 a repair round is assumed to close (the calibration of
 * predicted against actual scores in the ledger is where it is checked).
 */
export const REPAIR_LIFT = 0.5;

/** Eleven equally likely points of the standard normal (its quantiles at (i + ½)/11). */
const NORMAL_POINTS = [
  -1.691, -1.097, -0.748, -0.473, -0.229, 0, 0.229, 0.473, 0.748, 1.097, 1.691,
];

/** USD paid for a score, by the marketplace's rule (given by the runner). */
export type Payout = (quality: number) => number;

/** The mean payout over the poster's likely scores around `predicted`. */
export function expectedPayment(predicted: number, payout: Payout): number {
  let sum = 0;
  for (const z of NORMAL_POINTS) {
    sum += payout(Math.max(0, Math.min(1, predicted + SCORE_SPREAD * z)));
  }
  return sum / NORMAL_POINTS.length;
}

/** The quality a repair round is expected to reach from `predicted`. */
export function afterRepair(predicted: number): number {
  return predicted + REPAIR_LIFT * (1 - predicted);
}

/** What a repair round is expected to add to the payment (USD). */
export function repairGain(predicted: number, payout: Payout): number {
  return expectedPayment(afterRepair(predicted), payout) - expectedPayment(predicted, payout);
}
