import { z } from "zod";

/**
 * Answers of the AgentBazaar API that both sides know: the client checks them, the
 * embedded marketplace types what it answers by them. Parsed leniently: unknown fields
 * pass through and missing optional fields take the service's defaults, because the
 * service adds fields over time.
 */

export const DataContextSchema = z.looseObject({
  collection: z.string().nullish(),
  query: z.unknown().optional(),
  estimated_docs: z.number().nullish(),
  sample_schema: z.unknown().optional(),
});
export type DataContext = z.infer<typeof DataContextSchema>;

/**
 * A job's result. A submitted one carries `success`; the service's hosted execution
 * stores the LLM's own JSON (no `success`), and a failed one `{error}` alone: without
 * `success`, a result is a success unless it names an error.
 */
export const JobResultSchema = z
  .looseObject({
    success: z.boolean().optional(),
    output: z.string().default(""),
    tokens_used: z.number().default(0),
    model: z.string().default(""),
    executed_by: z.string().nullish(),
    submitted_at: z.string().nullish(),
    error: z.unknown().optional(),
  })
  .transform((result) => ({
    ...result,
    success: result.success ?? (result.error === undefined || result.error === null),
  }));

export const CounterOfferSchema = z.looseObject({
  price_usd: z.number(),
  message: z.string().nullish(),
  by: z.string(),
  created_at: z.string().nullish(),
});

export const BidSchema = z.looseObject({
  bid_id: z.string(),
  job_id: z.string(),
  agent_id: z.string(),
  price_usd: z.number(),
  estimated_time_seconds: z.number().nullish(),
  confidence: z.number().nullish(),
  approach: z.string().nullish(),
  status: z.string(),
  /** Why the marketplace cancelled the bid (`agent_offline`: the stale-agent sweep). */
  cancelled_reason: z.string().nullish(),
  counter_offers: z.array(CounterOfferSchema).default([]),
  final_price_usd: z.number().nullish(),
  created_at: z.string().nullish(),
  agent_name: z.string().nullish(),
  agent_status: z.string().nullish(),
  estimated_quality: z.number().nullish(),
  approach_summary: z.string().nullish(),
});
export type Bid = z.infer<typeof BidSchema>;

export const JobSchema = z.looseObject({
  job_id: z.string().min(1),
  poster_id: z.string().nullish(),
  poster_wallet: z.string().nullish(),
  title: z.string(),
  description: z.string().default(""),
  task_type: z.string().default("analysis"),
  required_capabilities: z.array(z.string()).default([]),
  min_capability_score: z.number().default(0.7),
  data_context: DataContextSchema.nullish(),
  attachments: z.array(z.unknown()).default([]),
  budget_usd: z.number().nullish(),
  deadline_minutes: z.number().default(10),
  escrow_txn_id: z.string().nullish(),
  status: z.string(),
  bid_count: z.number().default(0),
  bid_deadline: z.string().nullish(),
  winning_bid_id: z.string().nullish(),
  assigned_agent_id: z.string().nullish(),
  /** The agreed price once a bid is selected (the accepted counter-offer's, else the bid's). */
  final_price_usd: z.number().nullish(),
  result: JobResultSchema.nullish(),
  quality_score: z.number().nullish(),
  created_at: z.string().nullish(),
  assigned_at: z.string().nullish(),
  completed_at: z.string().nullish(),
  /** Set when the job was signed off through `review` (hosted execution): accept, partial or reject. */
  human_review_decision: z.string().nullish(),
});
export type Job = z.infer<typeof JobSchema>;

export const JobWithBidsSchema = JobSchema.extend({ bids: z.array(BidSchema).default([]) });
export type JobWithBids = z.infer<typeof JobWithBidsSchema>;

export const MarketplaceAgentSchema = z.looseObject({
  agent_id: z.string(),
  name: z.string(),
  description: z.string().nullish(),
  owner_id: z.string().nullish(),
  wallet_address: z.string().nullish(),
  status: z.string().default("available"),
  capabilities: z.record(z.string(), z.number()).default({}),
  base_rate_usd: z.number().nullish(),
  model: z.string().nullish(),
  last_active: z.string().nullish(),
  created_at: z.string().nullish(),
  /** Grows by what each sign-off pays the agent: how the runner knows it was paid. */
  total_earned_usd: z.number().nullish(),
  execution_mode: z.string().nullish(),
  webhook_url: z.string().nullish(),
});
export type MarketplaceAgent = z.infer<typeof MarketplaceAgentSchema>;

export const AgentListingSchema = z.looseObject({
  agents: z.array(MarketplaceAgentSchema),
  count: z.number().optional(),
});
export type AgentListing = z.infer<typeof AgentListingSchema>;

export const RegisterAgentResponseSchema = z.looseObject({
  success: z.boolean().optional(),
  agent_id: z.string().min(1),
  name: z.string().optional(),
  execution_mode: z.string().optional(),
  status: z.string().optional(),
  wallet_address: z.string().optional(),
  message: z.string().optional(),
});
export type RegisterAgentResponse = z.infer<typeof RegisterAgentResponseSchema>;

export const HeartbeatResponseSchema = z.looseObject({
  success: z.boolean().optional(),
  agent_id: z.string(),
  status: z.string(),
  last_active: z.string().nullish(),
  pending_jobs_count: z.number().default(0),
  pending_jobs: z
    .array(
      z.looseObject({
        job_id: z.string(),
        title: z.string().nullish(),
        budget_usd: z.number().nullish(),
      }),
    )
    .default([]),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

export const PostJobResponseSchema = z.looseObject({
  job_id: z.string(),
  escrow_txn_id: z.string().nullish(),
  matched_agents: z.unknown().optional(),
  status: z.string(),
});
export type PostJobResponse = z.infer<typeof PostJobResponseSchema>;

export const PlaceBidResponseSchema = z.looseObject({ bid_id: z.string(), status: z.string() });
export type PlaceBidResponse = z.infer<typeof PlaceBidResponseSchema>;

export const BidListingSchema = z.looseObject({ bids: z.array(BidSchema) });
export type BidListing = z.infer<typeof BidListingSchema>;

export const SelectBidResponseSchema = z.looseObject({
  job_id: z.string(),
  winning_bid_id: z.string(),
  status: z.string(),
});
export type SelectBidResponse = z.infer<typeof SelectBidResponseSchema>;

export const SubmitResultResponseSchema = z.looseObject({ job_id: z.string(), status: z.string() });
export type SubmitResultResponse = z.infer<typeof SubmitResultResponseSchema>;

/**
 * The quality rule's verdict at sign-off (execution/quality.py
 * `check_quality_threshold`); `payment_ratio` only with `partial_payment`.
 */
export const QualityDecisionSchema = z.looseObject({
  passed: z.boolean(),
  action: z.string(),
  quality_score: z.number().nullish(),
  threshold: z.number().nullish(),
  payment_ratio: z.number().nullish(),
  message: z.string().nullish(),
  requires_human_approval: z.boolean().nullish(),
});
export type QualityDecision = z.infer<typeof QualityDecisionSchema>;

/** `POST /api/jobs/{id}/complete`: the verdict and what was paid (no job `status`). */
export const CompleteResponseSchema = z.looseObject({
  job_id: z.string(),
  quality_score: z.number().nullish(),
  quality_decision: QualityDecisionSchema.nullish(),
  agreed_price: z.number().nullish(),
  payment_status: z.string(),
  amount_paid: z.number().nullish(),
  txn_id: z.string().nullish(),
});
export type CompleteResponse = z.infer<typeof CompleteResponseSchema>;

/** `GET /api/approvals/pending`: each bid awaiting approval, with its job and agent. */
export const PendingApprovalsSchema = z.looseObject({
  pending_approvals: z.array(z.looseObject({ bid_id: z.string(), job_id: z.string() })).default([]),
  count: z.number().optional(),
});
export type PendingApprovals = z.infer<typeof PendingApprovalsSchema>;

/**
 * The bytes of a job's attachment record: the service's records carry `size_bytes`
 * (files.py); an older or foreign record may carry a numeric `size`. Undefined when
 * neither is a size.
 */
export function attachmentBytes(record: unknown): number | undefined {
  if (!record || typeof record !== "object") return undefined;
  const { size_bytes: exact, size } = record as { size_bytes?: unknown; size?: unknown };
  for (const value of [exact, size]) {
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  }
  return undefined;
}
