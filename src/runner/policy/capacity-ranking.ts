import type { PlaceDecision } from "./bid-decision.ts";

/**
 * When capacity is short, take the best jobs (issue 25, point 3). An agent whose open
 * commitments leave fewer slots than it has candidate jobs, or whose spend cap has less
 * left today than the candidates' expected LLM cost, bids on the jobs of the highest
 * expected margin, not on whichever the listing gave first:
 *
 *   expected margin = P × price − expected LLM cost
 *
 * where P is the learner's win probability for that price when the decision carries one,
 * else the executor's confidence, and the cost is the price floor's token estimate
 * (price-floor.ts). With room for every candidate nothing is ranked: all are bid on, in
 * the order they came.
 *
 * The open commitments are the jobs in flight (and won jobs waiting for a slot) plus the
 * bids that may still be awarded, each at its chance of being awarded: the learner's win
 * probability when it had one, else even odds. Most bids are lost, so counting each as a
 * whole job would stop an agent bidding while its bids wait for posters. A new job needs
 * a whole free slot: it is the one that may be won now.
 */

/** A bid the agent would place, in the units the ranking needs. */
export interface MarginInputs {
  /** The price the agent would bid, USD. */
  priceUsd: number;
  /** The chance the bid brings its price: the win probability, else the confidence. */
  probability: number;
  /** The expected LLM cost of doing the job, USD. */
  costUsd: number;
}

/** What the agent can still take on. */
export interface SpareCapacity {
  /** The agent's max_concurrent_jobs. */
  maxConcurrent: number;
  /** Jobs it is executing now, and jobs won that wait for a slot. */
  inFlight: number;
  /** Its bids that may still be awarded. */
  openBids: number;
  /** The jobs those bids are expected to bring: the sum of their chances of being awarded. */
  expectedAwards: number;
  /** What today's spend caps leave, USD; undefined when no cap is set. */
  spendLeftUsd?: number | undefined;
  /** The LLM cost those bids are expected to bring (each cost × its chance), USD; 0 when unknown. */
  expectedSpendUsd?: number;
}

/** A candidate left out, and why (the detail of its skip). */
export interface RankedOut<T> {
  candidate: T;
  marginUsd: number;
  /** 1 is the best margin of the round. */
  rank: number;
  /** No slot left, or its cost does not fit what the spend cap leaves. */
  short: "slots" | "spend";
  detail: string;
}

export interface Ranking<T> {
  /** False when every candidate fits: `take` is then the candidates, in their order. */
  short: boolean;
  /** The candidates to bid on, best margin first when capacity is short. */
  take: T[];
  rankedOut: RankedOut<T>[];
}

export function expectedMarginUsd(c: MarginInputs): number {
  return c.probability * c.priceUsd - c.costUsd;
}

/** The chance a bid is awarded when the learner gives none: even odds. */
export const AWARD_PRIOR = 0.5;

const learnedWinProbability = (decision: {
  basis?: { winProbability?: number };
}): number | undefined => {
  const p = decision.basis?.winProbability;
  return typeof p === "number" && Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : undefined;
};

/** A bid's chance of being awarded: the learner's win probability, else AWARD_PRIOR. */
export function awardProbability(
  decision: PlaceDecision & { basis?: { winProbability?: number } },
): number {
  return learnedWinProbability(decision) ?? AWARD_PRIOR;
}

/**
 * P of a decision: adaptive pricing's win probability for the price it chose when its
 * basis carries one, else the executor's confidence; clamped to 0..1.
 */
export function paymentProbability(
  decision: PlaceDecision & { basis?: { winProbability?: number } },
): number {
  const p = learnedWinProbability(decision) ?? decision.confidence;
  return Math.min(1, Math.max(0, Number.isFinite(p) ? p : 0));
}

/** Loads and costs are compared with this much slack (float sums). */
const EPSILON = 1e-9;

/** Whole slots free for new jobs: max_concurrent_jobs less what is committed (never below 0). */
export function spareSlots(capacity: Omit<SpareCapacity, "openBids" | "spendLeftUsd">): number {
  const free = capacity.maxConcurrent - capacity.inFlight - capacity.expectedAwards;
  return Math.max(0, Math.floor(free + EPSILON));
}

/**
 * Which candidates to bid on. Not short (as many slots as candidates and a spend cap
 * that covers all their costs besides what the bids out are expected to cost): all of
 * them, in order. Short: by expected margin, best first (ties keep their order), each
 * taken while a slot is left and its cost fits what the cap leaves after the better
 * ones; a cheaper job further down may still fit. The best may go while the cap leaves
 * anything at all, as the cap itself lets an agent bid until its spend reaches it.
 */
export function rankByMargin<T extends MarginInputs>(
  candidates: readonly T[],
  capacity: SpareCapacity,
): Ranking<T> {
  const slots = spareSlots(capacity);
  const spendLeft =
    (capacity.spendLeftUsd ?? Number.POSITIVE_INFINITY) - (capacity.expectedSpendUsd ?? 0);
  const totalCost = candidates.reduce((sum, c) => sum + Math.max(0, c.costUsd), 0);
  if (candidates.length <= slots && totalCost <= spendLeft + EPSILON)
    return { short: false, take: [...candidates], rankedOut: [] };
  const capLeft = `$${round4(capacity.spendLeftUsd ?? 0)} left of today's spend cap, $${round4(capacity.expectedSpendUsd ?? 0)} of it expected for the bids out`;

  const ranked = candidates
    .map((candidate, index) => ({ candidate, index, marginUsd: expectedMarginUsd(candidate) }))
    .sort((a, b) => b.marginUsd - a.marginUsd || a.index - b.index);
  const take: T[] = [];
  const rankedOut: RankedOut<T>[] = [];
  let slotsLeft = slots;
  let budgetLeft = spendLeft;
  ranked.forEach(({ candidate, marginUsd }, i) => {
    const rank = i + 1;
    const cost = Math.max(0, candidate.costUsd);
    const head = `expected margin $${round4(marginUsd)} (${round3(candidate.probability)} × $${candidate.priceUsd} − $${round4(cost)} LLM cost) ranks ${rank} of ${ranked.length}`;
    if (slotsLeft <= 0) {
      rankedOut.push({
        candidate,
        marginUsd,
        rank,
        short: "slots",
        detail: `${head}; room for ${slots} more (max_concurrent_jobs ${capacity.maxConcurrent}: ${capacity.inFlight} in flight, ${capacity.openBids} bids open expected to bring ${round3(capacity.expectedAwards)})`,
      });
      return;
    }
    const first = take.length === 0 && budgetLeft > 0;
    if (!first && cost > budgetLeft + EPSILON) {
      rankedOut.push({
        candidate,
        marginUsd,
        rank,
        short: "spend",
        detail: `${head}; its cost does not fit the $${round4(Math.max(0, budgetLeft))} the spend cap leaves after the better jobs (${capLeft})`,
      });
      return;
    }
    take.push(candidate);
    slotsLeft--;
    budgetLeft -= cost;
  });
  return { short: true, take, rankedOut };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const round4 = (n: number) => Math.round(n * 1e4) / 1e4;
