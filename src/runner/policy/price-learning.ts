import type { JobOutcome } from "../../state/outcomes.ts";
import type { PlaceDecision } from "./bid-decision.ts";
import { QUALITY_THRESHOLD } from "./payment-rule.ts";
import { BUDGET_SHARE } from "./price-floor.ts";

/**
 * Prices that learn (issue 25): per agent and job class, a bandit over a small grid of
 * multipliers of the fixed price (`base_rate × (1 + 0.5 × confidence)`), each arm's
 * win probability a Beta posterior, chosen to maximise the expected profit
 * `P(win) × (expected payment − LLM cost)`. A pure function of the outcomes, the job and
 * a seed: replicas reading the same ledger choose the same price for the same job.
 */

/** The multipliers of the fixed price the learner chooses among. */
export const DEFAULT_GRID: readonly number[] = [0.6, 0.7, 0.8, 0.9, 1, 1.15, 1.3, 1.5, 1.75, 2];
/** Default AGENT_PRICE_EXPLORATION: the most bids that may leave the best-known price. */
export const DEFAULT_EXPLORATION = 0.1;

export interface LearnerSettings {
  grid: readonly number[];
  /**
   * 0..1: the share of decisions that draw from the posteriors (Thompson sampling);
   * the others take the arm with the best expected profit. 0 never explores beyond the
   * prior's optimism; 1 is pure Thompson sampling.
   */
  exploration: number;
  /** Evidence per arm before any outcome: Beta(prior, prior). */
  prior: number;
  /** How much a counter-offer on a bid counts as a loss at its price (the poster asked for less). */
  counterWeight: number;
  /** The newest outcomes of the job class the learner reads. */
  window: number;
  /** Mixed into each decision's random draw (the same seed, the same decisions). */
  seed: string;
}

export const DEFAULT_LEARNER: LearnerSettings = {
  grid: DEFAULT_GRID,
  exploration: DEFAULT_EXPLORATION,
  prior: 0.5,
  counterWeight: 0.5,
  window: 300,
  seed: "bazaar-runner",
};

/** The job a price is chosen for, in the units the learner needs. */
export interface PriceContext {
  agentId: string;
  jobId: string;
  jobClass: string;
  /** Today's formula: base_rate × (1 + 0.5 × confidence), capped at 85 % of the budget. */
  fixedPriceUsd: number;
  floorUsd: number;
  budgetUsd: number;
  /** The estimated LLM cost of doing the job. */
  costUsd: number;
}

export interface ArmStats {
  multiplier: number;
  priceUsd: number;
  /** Outcomes decided at this level. */
  won: number;
  lost: number;
  countered: number;
  /** The posterior's evidence, counting bids won above and lost below this level. */
  alpha: number;
  beta: number;
  /** Posterior mean of P(win) and the expected profit per bid at that mean. */
  winProbability: number;
  expectedProfitUsd: number;
}

export interface PriceChoice {
  multiplier: number;
  priceUsd: number;
  /** True when this decision drew from the posteriors instead of taking the best arm. */
  explored: boolean;
  /** Why this price, in one sentence ("×1.15 ($0.046): won 7 of 9 at this level; …"). */
  reason: string;
  arms: ArmStats[];
}

/** The capability of the job the agent is best at among those it requires ("any" with none). */
export function jobClassOf(
  requiredCapabilities: readonly string[],
  capabilities: Readonly<Record<string, number>>,
): string {
  let best: string | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const name of requiredCapabilities) {
    const score = Object.hasOwn(capabilities, name) ? (capabilities[name] ?? 0) : 0;
    if (score > bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best ?? "any";
}

/**
 * The share of the agreed price a won job brings: from the payment when it is known,
 * else from the poster's quality score by the service's rule; undefined before sign-off.
 */
export function paidShare(outcome: JobOutcome): number | undefined {
  const price = outcome.priceUsd;
  if (outcome.paidUsd !== undefined && price !== undefined && price > 0)
    return Math.min(1, outcome.paidUsd / price);
  const q = outcome.qualityScore;
  if (q === undefined || q === null) return undefined;
  if (q >= QUALITY_THRESHOLD) return 1;
  return q >= QUALITY_THRESHOLD * 0.7 ? 0.5 : 0;
}

/** Prior evidence on the paid share: two jobs paid in full. */
const SHARE_PRIOR = { sum: 2, n: 2 };

/** The price of a multiplier for this job: at least the floor, at most 85 % of the budget. */
export function priceAt(multiplier: number, ctx: PriceContext): number {
  const ceiling = BUDGET_SHARE * ctx.budgetUsd;
  const raw = Math.round(multiplier * ctx.fixedPriceUsd * 1000) / 1000;
  return Math.max(ctx.floorUsd, Math.min(raw, ceiling));
}

function nearestArm(grid: readonly number[], multiplier: number): number {
  let best = 0;
  for (let i = 1; i < grid.length; i++)
    if (Math.abs((grid[i] ?? 0) - multiplier) < Math.abs((grid[best] ?? 0) - multiplier)) best = i;
  return best;
}

/** Each arm's counts and posterior from the class's decided outcomes (newest `window`). */
export function armStats(
  outcomes: readonly JobOutcome[],
  ctx: PriceContext,
  settings: LearnerSettings,
): { arms: ArmStats[]; paidShare: number; decided: number } {
  const grid = settings.grid;
  const won = grid.map(() => 0);
  const lost = grid.map(() => 0);
  const countered = grid.map(() => 0);
  let shareSum = SHARE_PRIOR.sum;
  let shareN = SHARE_PRIOR.n;
  let decided = 0;
  for (const o of outcomes) {
    if (decided >= settings.window) break;
    if (o.jobClass !== ctx.jobClass || o.multiplier === undefined) continue;
    if (o.result !== "won" && o.result !== "lost") continue;
    decided++;
    const i = nearestArm(grid, o.multiplier);
    if (o.result === "won") won[i] = (won[i] ?? 0) + 1;
    else lost[i] = (lost[i] ?? 0) + 1;
    if ((o.counterOffers ?? 0) > 0) countered[i] = (countered[i] ?? 0) + 1;
    const share = o.result === "won" ? paidShare(o) : undefined;
    if (share !== undefined) {
      shareSum += share;
      shareN++;
    }
  }
  const share = shareSum / shareN;
  // The award falls as the price rises: a bid won at a higher price would have won here,
  // a bid lost at a lower price would have lost here.
  const arms = grid.map((multiplier, i) => {
    let wonAbove = 0;
    for (let j = i; j < grid.length; j++) wonAbove += won[j] ?? 0;
    let lostBelow = 0;
    for (let j = 0; j <= i; j++)
      lostBelow += (lost[j] ?? 0) + settings.counterWeight * (countered[j] ?? 0);
    const alpha = settings.prior + wonAbove;
    const beta = settings.prior + lostBelow;
    const priceUsd = priceAt(multiplier, ctx);
    const winProbability = alpha / (alpha + beta);
    return {
      multiplier,
      priceUsd,
      won: won[i] ?? 0,
      lost: lost[i] ?? 0,
      countered: countered[i] ?? 0,
      alpha,
      beta,
      winProbability,
      expectedProfitUsd: winProbability * (share * priceUsd - ctx.costUsd),
    };
  });
  return { arms, paidShare: share, decided };
}

/**
 * The multiplier to bid with: the arm of the best expected profit, or, in a bounded share
 * of decisions (`exploration`), the best of one draw from each arm's posterior.
 */
export function choosePrice(
  outcomes: readonly JobOutcome[],
  ctx: PriceContext,
  settings: LearnerSettings = DEFAULT_LEARNER,
): PriceChoice {
  const { arms, paidShare: share, decided } = armStats(outcomes, ctx, settings);
  const random = seededRandom(`${settings.seed}|${ctx.agentId}|${ctx.jobId}`);
  const explored = random() < settings.exploration;
  const score = (arm: ArmStats) =>
    explored
      ? sampleBeta(arm.alpha, arm.beta, random) * (share * arm.priceUsd - ctx.costUsd)
      : arm.expectedProfitUsd;
  let best = arms[0] as ArmStats;
  let bestScore = score(best);
  for (const arm of arms.slice(1)) {
    const s = score(arm);
    // Ties (arms clamped to one price) go to the multiplier nearer today's formula.
    if (
      s > bestScore ||
      (s === bestScore && Math.abs(arm.multiplier - 1) < Math.abs(best.multiplier - 1))
    ) {
      best = arm;
      bestScore = s;
    }
  }
  return {
    multiplier: best.multiplier,
    priceUsd: best.priceUsd,
    explored,
    reason: explain(best, arms, { explored, decided, share, jobClass: ctx.jobClass }),
    arms,
  };
}

function explain(
  arm: ArmStats,
  arms: readonly ArmStats[],
  facts: { explored: boolean; decided: number; share: number; jobClass: string },
): string {
  const head = `×${arm.multiplier.toFixed(2)} ($${arm.priceUsd.toFixed(3)})`;
  if (facts.decided === 0)
    return `${head}: no decided bids yet for ${facts.jobClass}; the highest expected profit under the prior`;
  const here = arm.won + arm.lost;
  const record =
    here === 0 ? "no bids decided at this level" : `won ${arm.won} of ${here} at this level`;
  const countered = arm.countered > 0 ? `, ${arm.countered} countered` : "";
  const p = `P(win) ≈ ${arm.winProbability.toFixed(2)}`;
  const paid = `paid ${Math.round(facts.share * 100)} % of the price on average`;
  if (facts.explored)
    return `${head}: exploring (a draw from the posteriors); ${record}${countered}; ${p}`;
  return `${head}: ${record}${countered}; ${p}, ${paid}; best expected profit $${arm.expectedProfitUsd.toFixed(4)} per bid of ${arms.length} levels (${facts.decided} bids of ${facts.jobClass} decided)`;
}

/** A uniform generator on [0, 1) from a string seed (xmur3 hash, mulberry32 stream). */
export function seededRandom(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleNormal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 boosted). */
function sampleGamma(shape: number, random: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * (1 - random()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** One draw from Beta(alpha, beta). */
export function sampleBeta(alpha: number, beta: number, random: () => number): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x / (x + y);
}

/** How a bid's price was chosen: what the outcome record keeps and the decision log says. */
export interface PriceBasis {
  jobClass: string;
  /** The executor's price before learning (the fixed formula for the built-in agents). */
  fixedPriceUsd: number;
  /** The multiplier of `fixedPriceUsd` chosen (1 with fixed pricing). */
  multiplier: number;
  explored: boolean;
  /** The learned chance that a bid at this price wins (absent with fixed pricing). */
  winProbability?: number;
  /** Why this price ("×1.15 ($0.046): won 7 of 9 at this level; …"). */
  reason: string;
}

/** A bid decision with the basis of its price; `priceBid` (bidding/agent-pricing.ts) keeps the extra field. */
export type PricedDecision = PlaceDecision & { basis: PriceBasis };

/** "; " and why the bid has its price, for the decision log ("" for a decision priced without a basis). */
export function priceReason(decision: PlaceDecision | PricedDecision): string {
  return "basis" in decision ? `; ${decision.basis.reason}` : "";
}
