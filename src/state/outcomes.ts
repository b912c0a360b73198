import { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";

/**
 * What each priced bid brought, per (agent, job): the facts price learning and the
 * quality gate's calibration learn from (issue 25). One record per (agent, job), merged
 * field by field as the facts arrive (bid, award or loss, counter-offers, prediction,
 * sign-off, LLM cost), so a restart or another replica adds to it, never duplicates it.
 */
export interface JobOutcome {
  agentId: string;
  jobId: string;
  /** The capability the job matched (the price learner's job class). */
  jobClass?: string;
  /** The multiplier of the agent's base rate the bid used, and the price it came to. */
  multiplier?: number;
  priceUsd?: number;
  /** ISO time of the bid: outcomes are learned from newest first. */
  bidAt?: string;
  /** `pending` until the job is awarded (to us: `won`, to another bid: `lost`). */
  result?: "pending" | "won" | "lost";
  /** Counter-offers the poster made on this bid. */
  counterOffers?: number;
  /** The quality gate's prediction (0..1) and its reasons. */
  predictedQuality?: number;
  predictionReasons?: string[];
  /** The poster's `quality_score` at sign-off, and what the sign-off paid. */
  qualityScore?: number | null;
  paidUsd?: number;
  /** Estimated LLM spend on this job (execution, review, repair). */
  llmCostUsd?: number;
  /** Set by the ledger. */
  updatedAt?: string;
}

/** The fields a caller may set; `agentId`/`jobId` name the record. */
export type JobOutcomePatch = Omit<JobOutcome, "agentId" | "jobId" | "updatedAt">;

export interface OutcomeStore {
  /**
   * Merges `patch` into the (agent, job) record, creating it on first use. Fields absent
   * from the patch keep their value; `llmCostUsd` and `counterOffers` given here replace
   * the stored value (callers send the running total).
   */
  noteOutcome(agentId: string, jobId: string, patch: JobOutcomePatch): Promise<void>;
  /** One agent's records, newest bid first, at most `limit` (default 500). */
  outcomes(agentId: string, limit?: number): Promise<JobOutcome[]>;
}

/** The most records `outcomes` returns when no limit is given. */
export const DEFAULT_OUTCOME_LIMIT = 500;

const usd = z.number().finite().nonnegative();

/** A patch as it is written: every field checked, stray properties dropped. */
const outcomePatchSchema = z.object({
  jobClass: z.string().min(1).optional(),
  multiplier: usd.optional(),
  priceUsd: usd.optional(),
  bidAt: z
    .string()
    .refine((value) => !Number.isNaN(Date.parse(value)), "bidAt must be an ISO time")
    .optional(),
  result: z.enum(["pending", "won", "lost"]).optional(),
  counterOffers: z.number().int().nonnegative().optional(),
  predictedQuality: z.number().min(0).max(1).optional(),
  predictionReasons: z.array(z.string()).optional(),
  qualityScore: z.number().finite().nullable().optional(),
  paidUsd: usd.optional(),
  llmCostUsd: usd.optional(),
});

/** A record as it is read back: storage is a boundary like any other. */
export const jobOutcomeSchema = outcomePatchSchema.extend({
  agentId: z.string().min(1),
  jobId: z.string().min(1),
  updatedAt: z.string().optional(),
});

/**
 * The patch to store: checked, with only the fields it sets (an `undefined` field is
 * absent, so it keeps the stored value), and `bidAt` in the one ISO form every backend
 * reads back.
 */
export function cleanOutcomePatch(patch: JobOutcomePatch): JobOutcomePatch {
  const parsed = outcomePatchSchema.parse(patch);
  const clean: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parsed))
    if (value !== undefined) clean[field] = value;
  if (parsed.bidAt !== undefined) clean.bidAt = new Date(Date.parse(parsed.bidAt)).toISOString();
  return clean as JobOutcomePatch;
}

/** `outcomes`' limit: a non-negative integer (0 answers nothing). */
export function checkOutcomeLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0)
    throw new InvalidArgumentError("ledger: an outcomes limit must be a non-negative integer");
}
