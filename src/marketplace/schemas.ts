import { z } from "zod";

/**
 * Shapes of the AgentBazaar API (see docs/marketplace-api.md). Parsed leniently:
 * unknown fields pass through, missing optional fields take the service's defaults,
 * because the service adds fields over time.
 */

export const AGENT_STATUSES = ["available", "busy", "offline", "suspended"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export type HeartbeatStatus = Exclude<AgentStatus, "suspended">;

export const JOB_STATUSES = [
  "open",
  "posted",
  "bidding",
  "negotiating",
  "awaiting_approval",
  "assigned",
  "in_progress",
  "pending_review",
  "completed",
  "disputed",
  "cancelled",
  "failed",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const BID_STATUSES = [
  "pending",
  "counter_offered",
  "counter_accepted",
  "awaiting_approval",
  "accepted",
  "rejected",
  "withdrawn",
] as const;
export type BidStatus = (typeof BID_STATUSES)[number];

export const DataContextSchema = z.looseObject({
  collection: z.string().nullish(),
  query: z.unknown().optional(),
  estimated_docs: z.number().nullish(),
  sample_schema: z.unknown().optional(),
});
export type DataContext = z.infer<typeof DataContextSchema>;

export const JobResultSchema = z.looseObject({
  success: z.boolean(),
  output: z.string().default(""),
  tokens_used: z.number().default(0),
  model: z.string().default(""),
  executed_by: z.string().nullish(),
  submitted_at: z.string().nullish(),
});

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
});
export type Job = z.infer<typeof JobSchema>;

export const JobWithBidsSchema = JobSchema.extend({ bids: z.array(BidSchema).default([]) });
export type JobWithBids = z.infer<typeof JobWithBidsSchema>;

/** Listings are checked job by job, so one malformed job does not sink the page. */
export const JobListingSchema = z.looseObject({
  jobs: z.array(z.unknown()),
  count: z.number().optional(),
});

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
});
export type MarketplaceAgent = z.infer<typeof MarketplaceAgentSchema>;

export const AgentListingSchema = z.looseObject({
  agents: z.array(MarketplaceAgentSchema),
  count: z.number().optional(),
});
export type AgentListing = z.infer<typeof AgentListingSchema>;

export const RegisterAgentRequestSchema = z.object({
  name: z.string(),
  description: z.string(),
  owner_id: z.string(),
  wallet_address: z.string(),
  execution_mode: z.enum(["self_hosted", "webhook", "hosted"]).optional(),
  webhook_url: z.string().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  base_rate_usd: z.number().optional(),
  rate_per_1k_tokens: z.number().optional(),
  capabilities: z.record(z.string(), z.number()).optional(),
  skip_benchmark: z.boolean().optional(),
});
export type RegisterAgentRequest = z.infer<typeof RegisterAgentRequestSchema>;

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

export const PostJobRequestSchema = z.object({
  title: z.string(),
  description: z.string(),
  required_capabilities: z.array(z.string()),
  budget_usd: z.number(),
  poster_id: z.string(),
  poster_wallet: z.string(),
  min_capability_score: z.number().optional(),
  deadline_minutes: z.number().optional(),
  data_context: DataContextSchema.nullish(),
});
export type PostJobRequest = z.infer<typeof PostJobRequestSchema>;

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

export const SubmitResultRequestSchema = z.object({
  success: z.boolean(),
  output: z.string(),
  tokens_used: z.number().int().default(0),
  model: z.string().default(""),
  executed_by: z.string(),
});
export type SubmitResultRequest = z.input<typeof SubmitResultRequestSchema>;

export const SubmitResultResponseSchema = z.looseObject({ job_id: z.string(), status: z.string() });
export type SubmitResultResponse = z.infer<typeof SubmitResultResponseSchema>;

export const SuccessResponseSchema = z.looseObject({ success: z.boolean().optional() });

/** Bid parameters; sent as query parameters, not JSON (a quirk of the real service). */
export interface PlaceBidParams {
  agent_id: string;
  price_usd: number;
  estimated_quality: number;
  estimated_time_seconds: number;
  approach_summary: string;
}

/** A file attached to a job (GET /api/jobs/{id}/files). */
export const JobFileSchema = z.looseObject({
  file_id: z.string().min(1),
  filename: z.string(),
  category: z.string().nullish(),
  size: z.number().nullish(),
  mime_type: z.string().nullish(),
  uploaded_at: z.string().nullish(),
});
export type JobFile = z.infer<typeof JobFileSchema>;

export const JobFileListingSchema = z.looseObject({
  job_id: z.string().optional(),
  count: z.number().optional(),
  files: z.array(JobFileSchema),
});

/** POST /api/jobs/{id}/files: the file's metadata and its checksum. */
export const UploadedFileSchema = JobFileSchema.omit({ uploaded_at: true }).extend({
  checksum: z.string().nullish(),
});
export type UploadedFile = z.infer<typeof UploadedFileSchema>;
export const UpdateAgentResponseSchema = z.looseObject({
  success: z.boolean(),
  agent_id: z.string(),
  updated_fields: z.array(z.string()).default([]),
});
