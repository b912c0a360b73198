import { z } from "zod";
import { bool, boundedFloat, dict, float, int, list, record, str } from "./fields.ts";

/**
 * Request shapes of the AgentBazaar API, with the real service's defaults (its api.py
 * request models). The embedded marketplace validates with these schemas; the client
 * sends their input types (`z.input`), so what one sends the other reads.
 */

export const RegisterBody = z.object({
  name: str(),
  description: str(),
  owner_id: str(),
  wallet_address: str(),
  execution_mode: str().default("self_hosted"),
  webhook_url: str().nullish(),
  provider: str().default("fireworks"),
  model: str().nullish(),
  base_rate_usd: float().default(0.01),
  rate_per_1k_tokens: float().default(0.001),
  capabilities: record(boundedFloat(0, 1)).nullish(),
  skip_benchmark: bool().default(false),
});
export type RegisterBody = z.output<typeof RegisterBody>;

export const UpdateAgentBody = z.object({
  name: str().nullish(),
  description: str().nullish(),
  base_rate_usd: float().nullish(),
  rate_per_1k_tokens: float().nullish(),
  status: str().nullish(),
  webhook_url: str().nullish(),
});
export type UpdateAgentBody = z.output<typeof UpdateAgentBody>;

export const HeartbeatBody = z.object({
  status: str().default("available"),
  current_capacity: int().default(1),
  metadata: dict().nullish(),
});
export type HeartbeatBody = z.output<typeof HeartbeatBody>;

export const StatusQuery = z.object({ status: str().nullish() });

export const JobsQuery = z.object({ status: str().nullish(), assigned_agent_id: str().nullish() });

/**
 * The real service reads the six fields below; the optional ones after them are an
 * extension of the embedded marketplace (the real one ignores unknown fields).
 */
export const PostJobBody = z.object({
  title: str(),
  description: str(),
  required_capabilities: list(str()),
  budget_usd: float(),
  poster_id: str(),
  poster_wallet: str(),
  task_type: str().nullish(),
  min_capability_score: boundedFloat(0, 1).nullish(),
  deadline_minutes: int().nullish(),
  bid_deadline: str().nullish(),
  data_context: dict().nullish(),
});
export type PostJobBody = z.output<typeof PostJobBody>;

/** Bid parameters: sent as query parameters, not JSON (a quirk of the real service). */
export const BidQuery = z.object({
  agent_id: str(),
  price_usd: boundedFloat(0),
  estimated_quality: boundedFloat(0, 1),
  estimated_time_seconds: int(),
  approach_summary: str(),
});
export type BidQuery = z.output<typeof BidQuery>;

export const CounterBody = z.object({ new_price: boundedFloat(0), message: str(), by: str() });
export type CounterBody = z.output<typeof CounterBody>;

export const AcceptCounterQuery = z.object({ by: str().default("poster") });

export const SubmitResultBody = z.object({
  success: bool(),
  output: str(),
  tokens_used: int().default(0),
  model: str().default(""),
  executed_by: str(),
});
export type SubmitResultBody = z.output<typeof SubmitResultBody>;

export const CompleteQuery = z.object({ quality_score: float() });

/** The human review of hosted work (api.py `HumanReviewRequest`). */
export const ReviewBody = z.object({
  decision: str(),
  rating: float(),
  feedback: str().default(""),
  reviewer_id: str(),
});
export type ReviewBody = z.output<typeof ReviewBody>;

/** api.py `AutoNegotiateRequest`. */
export const AutoNegotiateBody = z.object({
  max_budget: float(),
  negotiator_role: str().default("poster"),
});
export type AutoNegotiateBody = z.output<typeof AutoNegotiateBody>;

export const MatchesQuery = z.object({ limit: int().default(10) });

/** Sign-in: the challenge for a wallet, then its signature of the challenge's nonce. */
export const ChallengeQuery = z.object({ wallet: str() });
export const VerifyBody = z.object({ wallet: str(), signature: str(), nonce: str() });
