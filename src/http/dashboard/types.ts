/**
 * The shapes the dashboard reads, for the JSDoc types of its modules (`tsc` checks them;
 * the browser never loads this file). They come from the runner's status types, plus the
 * fields of the shared contract that other branches are adding: optional here until they
 * land, and rendered when present.
 */
import type {
  AgentPerformance,
  AgentStatusView,
  DecisionRecord,
  Earnings,
  EarningsPoint,
  ReloadStatus,
  RunnerEvent,
  SkipReason,
  StatusSnapshot,
} from "../../runner/telemetry/status-types.ts";

export type {
  AgentPerformance,
  DecisionRecord,
  Earnings,
  EarningsPoint,
  ReloadStatus,
  RunnerEvent,
  SkipReason,
};

export interface AgentWallet {
  /** Checksummed. */
  address: string;
  /** False: a payout address only, the runner cannot sign for it. */
  holdsKey: boolean;
}

export interface ReplicaStatus {
  id: string;
  agents: string[];
  others: { id: string; agents: number }[];
}

export type AgentView = AgentStatusView & {
  wallet?: AgentWallet | null;
  spendCapReached?: boolean;
};

export type ConfigView = StatusSnapshot["config"];

export type Snapshot = Omit<StatusSnapshot, "agents"> & {
  agents: AgentView[];
  replica?: ReplicaStatus;
};
