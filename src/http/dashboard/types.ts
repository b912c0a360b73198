/**
 * The shapes the dashboard reads, for the JSDoc types of its modules (`tsc` checks them;
 * the browser never loads this file). They come from the runner's status types, plus the
 * fields of the shared contract that other branches are adding: optional here until they
 * land, and rendered when present.
 */
import type { AgentStatusView, RunnerEvent, StatusSnapshot } from "../../runner/status-types.ts";

export type { RunnerEvent };

/** bid = price of bids placed, won = agreed price of jobs assigned, paid = read back. */
export interface Earnings {
  bidUsd: number;
  wonUsd: number;
  paidUsd: number;
}

export interface AgentWallet {
  /** Checksummed. */
  address: string;
  /** False: a payout address only, the runner cannot sign for it. */
  holdsKey: boolean;
}

export interface ReloadStatus {
  ok: boolean;
  agents: number;
  issues: number;
  error: string | null;
  at: string;
}

export interface ReplicaStatus {
  id: string;
  agents: string[];
  others: { id: string; agents: number }[];
}

export type AgentView = AgentStatusView & {
  earnings?: Earnings;
  wallet?: AgentWallet | null;
  spendCapReached?: boolean;
  /** Until `earnings` lands: the agreed price of won jobs. */
  revenueUsd?: number;
};

export type ConfigView = StatusSnapshot["config"] & {
  reload?: ReloadStatus | null;
  /** Until `reload` lands. */
  lastReloadAt?: string | null;
  lastReloadOutcome?: string | null;
};

export type Snapshot = Omit<StatusSnapshot, "agents" | "config"> & {
  agents: AgentView[];
  config: ConfigView;
  replica?: ReplicaStatus;
};

export type SkipReason =
  | "budget_missing"
  | "capability"
  | "already_bid"
  | "no_keyword"
  | "declined"
  | "below_floor"
  | "spend_cap"
  | "evaluation_failed"
  | "bid_refused"
  | "bid_failed";

/** One agent's decision on one job (GET /api/decisions). */
export interface DecisionRecord {
  at: string;
  jobId: string;
  agent: string;
  agentId: string | null;
  outcome: "bid" | "skip";
  reason: SkipReason | null;
  detail: string;
  priceUsd?: number;
  confidence?: number;
}
