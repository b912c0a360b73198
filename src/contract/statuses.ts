/**
 * The status vocabulary of the AgentBazaar API, shared by the client and the embedded
 * marketplace (the service's models.py enums, plus what its code writes beside them).
 */

export const AGENT_STATUSES = ["available", "busy", "offline", "suspended"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
/** What an agent may report of itself: `suspended` is the marketplace's to set. */
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

/**
 * `cancelled` is what the stale-agent sweep writes on an offline agent's pending bids
 * (with `cancelled_reason`); the service's BidStatus enum lacks it, its database has it.
 */
export const BID_STATUSES = [
  "pending",
  "counter_offered",
  "counter_accepted",
  "awaiting_approval",
  "accepted",
  "rejected",
  "withdrawn",
  "cancelled",
] as const;
export type BidStatus = (typeof BID_STATUSES)[number];
