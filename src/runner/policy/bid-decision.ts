import { capabilityScore } from "../../agents/capabilities.ts";
import { EvaluationSchema, type Guarded, guardedCall } from "../../agents/guarded-call.ts";
import type { AgentConfig, Evaluation } from "../../agents/types.ts";
import type { Job } from "../../marketplace/schemas.ts";

/** Why an agent did not bid on a job. */
export type SkipReason =
  /** The job has no usable budget. */
  | "budget_missing"
  /** A required capability is below the job's minimum score. */
  | "capability"
  /** The ledger or the marketplace already has a bid of this agent. */
  | "already_bid"
  /** The evaluator found no keyword of its table in the job. */
  | "no_keyword"
  /** The executor declined for another reason. */
  | "declined"
  /** 85 % of the budget is below the agent's price floor. */
  | "below_floor"
  /** A daily spend cap is reached. */
  | "spend_cap"
  /** Capacity is short (max_concurrent_jobs or the spend cap): jobs of a better expected margin took it (capacity-ranking.ts). */
  | "capacity_ranked_out"
  /** The executor's evaluation threw, timed out or answered malformed. */
  | "evaluation_failed"
  /** The marketplace refused the bid (4xx). */
  | "bid_refused"
  /** The bid's outcome stayed unknown after the last attempt. */
  | "bid_failed"
  /** Assigned a job through a bid this runner did not place (anybody may bid in any agent's name): not executed. */
  | "not_our_bid"
  /** The listing held the job past what the client keeps of one (a multi-megabyte description): no agent saw it. */
  | "too_large";

/** Whether and how an agent bids on a job. */
export type BidDecision =
  | { kind: "skip"; reason: SkipReason; detail: string }
  | {
      kind: "bid";
      priceUsd: number;
      confidence: number;
      estimatedTimeMinutes: number;
      /** The approach summary sent with the bid. */
      approach: string;
    };

export type SkipDecision = Extract<BidDecision, { kind: "skip" }>;
export type PlaceDecision = Extract<BidDecision, { kind: "bid" }>;

/** The longest `approach_summary` the marketplace takes. */
const MAX_APPROACH_CHARS = 500;

function skip(reason: SkipReason, detail: string): SkipDecision {
  return { kind: "skip", reason, detail };
}

/** The gates before any evaluation: a usable budget and the required capabilities. */
export function screenJob(job: Job, config: AgentConfig): SkipDecision | undefined {
  if (
    !(typeof job.budget_usd === "number" && job.budget_usd > 0 && Number.isFinite(job.budget_usd))
  )
    return skip("budget_missing", "the job has no positive budget");
  const lacking = job.required_capabilities.find(
    (c) => capabilityScore(config.capabilities, c) < job.min_capability_score,
  );
  if (lacking !== undefined) {
    const score = capabilityScore(config.capabilities, lacking);
    return skip(
      "capability",
      `capability ${lacking} is ${score}, below the job's minimum of ${job.min_capability_score}`,
    );
  }
  return undefined;
}

/**
 * Turns the executor's guarded evaluation into a decision. `undefined` when the worker
 * is stopping (nothing to decide). The price never exceeds the job's budget.
 */
export function decideFromEvaluation(
  job: Job,
  evaluated: Guarded<Evaluation>,
  timeoutMs: number,
): BidDecision | undefined {
  if (evaluated.kind === "interrupted") return undefined;
  if (evaluated.kind === "failed") {
    // The executor's own fault: it would fail the same way at every poll, so the job
    // is given up on rather than tried again.
    const problem =
      evaluated.reason === "timeout"
        ? `no decision within ${timeoutMs / 1000} s`
        : evaluated.reason === "malformed"
          ? `malformed evaluation (${evaluated.detail})`
          : evaluated.detail;
    return skip("evaluation_failed", problem);
  }
  const evaluation = evaluated.value;
  if (!evaluation.canComplete || !(evaluation.bidAmountUsd > 0)) {
    const detail = evaluation.reasoning || "the executor declined the job";
    return skip(evaluation.noMatch ? "no_keyword" : "declined", detail);
  }
  return {
    kind: "bid",
    // screenJob let only jobs with a positive budget through.
    priceUsd: Math.min(evaluation.bidAmountUsd, job.budget_usd ?? evaluation.bidAmountUsd),
    confidence: evaluation.confidence,
    estimatedTimeMinutes: evaluation.estimatedTimeMinutes,
    approach: evaluation.reasoning.slice(0, MAX_APPROACH_CHARS),
  };
}

export interface DecideInputs {
  job: Job;
  config: AgentConfig;
  /** True when the ledger records a bid of this agent on the job. */
  hasBid: () => Promise<boolean>;
  /** The executor's evaluateJob, called under the guard. */
  evaluate: (signal: AbortSignal) => Promise<unknown>;
  evaluationTimeoutMs: number;
  /** Aborted when the worker is forced to stop. */
  lifetime: AbortSignal;
}

/**
 * One agent's decision on one job: the gates, the ledger, then the executor's
 * evaluation. `undefined` when the worker is stopping. Throws only when the ledger
 * cannot be read (the job is tried again at the next poll).
 */
export async function decideBid(inputs: DecideInputs): Promise<BidDecision | undefined> {
  const screened = screenJob(inputs.job, inputs.config);
  if (screened) return screened;
  if (await inputs.hasBid()) return skip("already_bid", "this agent has already bid on the job");
  const evaluated = await guardedCall(inputs.evaluate, EvaluationSchema, {
    limitMs: inputs.evaluationTimeoutMs,
    lifetime: inputs.lifetime,
  });
  return decideFromEvaluation(inputs.job, evaluated, inputs.evaluationTimeoutMs);
}
