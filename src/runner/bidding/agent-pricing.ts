import { DEFAULT_MAX_TOKENS } from "../../agents/base-executor.ts";
import type { AgentConfig } from "../../agents/types.ts";
import type { Job } from "../../marketplace/schemas.ts";
import type { JobOutcome, JobOutcomePatch, OutcomeStore } from "../../state/outcomes.ts";
import type { BidDecision, PlaceDecision } from "../policy/bid-decision.ts";
import { applyFloor, type Floor, priceFloor } from "../policy/price-floor.ts";
import {
  choosePrice,
  DEFAULT_LEARNER,
  jobClassOf,
  type LearnerSettings,
  type PriceBasis,
  type PriceChoice,
  type PricedDecision,
} from "../policy/price-learning.ts";

export { type PriceBasis, type PricedDecision, priceReason } from "../policy/price-learning.ts";

import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { SpendCaps } from "./spend-caps.ts";

/** The runner's settings a floor depends on (WorkerDeps has them). */
export interface FloorSettings {
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  defaultModel: string;
  /** AGENT_MIN_MARGIN. */
  minMargin: number;
}

/** The job's price floor for an agent: estimated LLM cost × margin, at least min_price_usd. */
export function agentFloor(
  job: Job,
  config: AgentConfig,
  /** The executor's class: how much output its type expects to write. */
  executorType: { expectedOutputTokens?: number },
  settings: FloorSettings,
): Floor {
  return priceFloor(job, {
    expectedOutputTokens: Math.min(
      executorType.expectedOutputTokens ?? 1200,
      config.max_tokens ?? DEFAULT_MAX_TOKENS,
    ),
    usdPerMillionTokens: settings.llmPrices[config.model ?? settings.defaultModel],
    margin: settings.minMargin,
    minPriceUsd: config.min_price_usd ?? 0,
  });
}

/**
 * A bid the executor wants to place, after the spend caps (`capReached`: null while
 * they leave room) and the price floor: skipped, raised to the floor, or as it was.
 */
export function priceBid(
  job: Job,
  decision: PlaceDecision,
  capReached: string | null,
  floor: Floor,
): BidDecision {
  if (capReached) return { kind: "skip", reason: "spend_cap", detail: capReached };
  const applied = applyFloor(decision.priceUsd, job.budget_usd ?? 0, floor.floorUsd);
  if (applied.kind === "below_floor")
    return { kind: "skip", reason: "below_floor", detail: applied.detail };
  return { ...decision, priceUsd: applied.priceUsd };
}

/** Reads the agent's spend caps and shows the outcome; a ledger failure counts as room left. */
export async function checkSpendCap(
  spendCaps: SpendCaps,
  agentKey: string,
  telemetry: AgentTelemetry,
): Promise<string | null> {
  // No cap set: nothing to look up, nothing to show (the gauge stays absent).
  if (!spendCaps.enabled) return null;
  const reached = await spendCaps.check(agentKey).catch(() => null);
  telemetry.spendCap(reached);
  return reached;
}

/** AGENT_PRICING: today's formula, or prices learned from the outcomes (price-learning.ts). */
export type PricingMode = "fixed" | "adaptive";

/**
 * The price of a bid the executor wants to place: with `fixed` pricing as the executor
 * made it, with `adaptive` the learner's multiplier of it (at least the floor, at most
 * 85 % of the budget). `outcomes` are the agent's, newest first.
 */
export function learnedBid(
  job: Job,
  decision: PlaceDecision,
  floor: Floor,
  agent: { agentId: string; config: AgentConfig },
  outcomes: readonly JobOutcome[],
  mode: PricingMode,
  learner: LearnerSettings = DEFAULT_LEARNER,
): PricedDecision {
  const jobClass = jobClassOf(job.required_capabilities, agent.config.capabilities);
  const fixedPriceUsd = decision.priceUsd;
  if (mode === "fixed")
    return {
      ...decision,
      basis: { jobClass, fixedPriceUsd, multiplier: 1, explored: false, reason: "fixed pricing" },
    };
  const choice = choosePrice(
    outcomes,
    {
      agentId: agent.agentId,
      jobId: job.job_id,
      jobClass,
      fixedPriceUsd,
      floorUsd: floor.floorUsd,
      budgetUsd: job.budget_usd ?? 0,
      costUsd: floor.costUsd,
    },
    learner,
  );
  return {
    ...decision,
    priceUsd: choice.priceUsd,
    basis: {
      jobClass,
      fixedPriceUsd,
      multiplier: choice.multiplier,
      explored: choice.explored,
      ...winProbabilityOf(choice),
      reason: choice.reason,
    },
  };
}

/**
 * The outcome record of a bid placed at `priceUsd`: its class, and the multiplier it
 * came to after the floor and the budget's cap (what the learner learns from).
 */
export function bidOutcome(basis: PriceBasis, priceUsd: number, at: Date): JobOutcomePatch {
  const multiplier =
    basis.fixedPriceUsd > 0
      ? Math.round((priceUsd / basis.fixedPriceUsd) * 1000) / 1000
      : basis.multiplier;
  return {
    jobClass: basis.jobClass,
    multiplier,
    priceUsd,
    bidAt: at.toISOString(),
    result: "pending",
  };
}

/**
 * Each agent's outcomes read from the ledger at most once per `maxAgeMs` (a poll brings
 * many jobs; one read serves them). A ledger that cannot be read gives no outcomes: the
 * learner then prices as it would for a new agent, and says so.
 */
export class OutcomeCache {
  readonly #store: Pick<OutcomeStore, "outcomes">;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #read = new Map<string, { at: number; outcomes: Promise<JobOutcome[]> }>();

  constructor(
    store: Pick<OutcomeStore, "outcomes">,
    maxAgeMs: number,
    now: () => number = Date.now,
  ) {
    this.#store = store;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  outcomes(agentId: string): Promise<JobOutcome[]> {
    const now = this.#now();
    const cached = this.#read.get(agentId);
    if (cached && now - cached.at < this.#maxAgeMs) return cached.outcomes;
    const outcomes = this.#store.outcomes(agentId).catch(() => []);
    this.#read.set(agentId, { at: now, outcomes });
    return outcomes;
  }

  /** A new fact about the agent: the next decision reads the ledger again. */
  forget(agentId: string): void {
    this.#read.delete(agentId);
  }
}

/** What adaptive pricing needs of the runner (built once, from AGENT_PRICING and the ledger). */
export interface PricingDeps {
  mode: PricingMode;
  learner: LearnerSettings;
  /** The agents' outcomes, read from the ledger at most once a poll. */
  outcomes: OutcomeCache;
}

/**
 * A bid the executor wants to place, priced: the learned (or fixed) price, then the spend
 * caps and the floor (`priceBid`). The placed bid carries its `basis` for its outcome record.
 */
export async function pricedBid(
  job: Job,
  decision: PlaceDecision,
  capReached: string | null,
  floor: Floor,
  agent: { agentId: string; config: AgentConfig },
  /** Absent: the executor's price as it is, with no basis recorded. */
  pricing: PricingDeps | undefined,
): Promise<BidDecision> {
  if (capReached || !pricing) return priceBid(job, decision, capReached, floor);
  const outcomes =
    pricing.mode === "adaptive" ? await pricing.outcomes.outcomes(agent.agentId) : [];
  const priced = learnedBid(job, decision, floor, agent, outcomes, pricing.mode, pricing.learner);
  return priceBid(job, priced, null, floor);
}

/**
 * Records a placed bid's price basis in the ledger's outcomes (nothing for a decision
 * priced without one). The record is for learning: a failure to write it is reported to
 * `onError` and stops nothing.
 */
export async function notePricedBid(
  store: Pick<OutcomeStore, "noteOutcome">,
  agentId: string,
  jobId: string,
  decision: PlaceDecision | PricedDecision,
  onError: (error: unknown) => void,
  at: Date = new Date(),
): Promise<void> {
  if (!("basis" in decision)) return;
  await store
    .noteOutcome(agentId, jobId, bidOutcome(decision.basis, decision.priceUsd, at))
    .catch(onError);
}

/**
 * The runner's pricing from its settings: AGENT_PRICING, AGENT_PRICE_EXPLORATION, and the
 * ledger's outcomes re-read at most once a poll. The learner's seed is fixed, so replicas
 * on one ledger price a job alike.
 */
export function pricingDeps(
  settings: { pricing: PricingMode; priceExploration: number; pollIntervalMs: number },
  store: Pick<OutcomeStore, "outcomes">,
): PricingDeps {
  return {
    mode: settings.pricing,
    learner: { ...DEFAULT_LEARNER, exploration: settings.priceExploration },
    outcomes: new OutcomeCache(store, settings.pollIntervalMs),
  };
}

/** The chosen arm's win probability, for ranking jobs when capacity is short. */
function winProbabilityOf(choice: PriceChoice): { winProbability?: number } {
  const arm = choice.arms.find((a) => a.multiplier === choice.multiplier);
  return arm ? { winProbability: arm.winProbability } : {};
}
