import type { ConfigIssue, ConfigSourceStatus } from "../../agent-configs/types.ts";
import type { AgentSource } from "../../agents/types.ts";
import type { LedgerSummary } from "../../state/types.ts";
import type { SkipReason } from "../policy/bid-decision.ts";
import type { AgentPerformance } from "./earnings.ts";

/** What an agent earns (telemetry/earnings.ts), as the status shows it. */
export type {
  AgentPerformance,
  CalibrationBucket,
  EarningsPoint,
  MoneyFigures,
} from "./earnings.ts";

/** Why an agent did not bid on a job: the bid decision's word, shown as it is. */
export type { SkipReason };

/** A worker's lifecycle state. */
export type WorkerState = "registering" | "running" | "draining" | "stopped" | "failed";

/**
 * Money, by how far it got: `bidUsd` the prices of the bids placed, `wonUsd` the agreed
 * price of the jobs assigned, `paidUsd` what the marketplace paid out after `complete`.
 */
export interface Earnings {
  bidUsd: number;
  wonUsd: number;
  paidUsd: number;
}

/** What the operator sees of one agent (GET /api/status, dashboard). */
export interface AgentStatusView {
  key: string;
  agentId: string | null;
  name: string;
  agentType: string;
  source: AgentSource;
  state: WorkerState;
  model: string;
  baseRateUsd: number;
  lastHeartbeatAt: string | null;
  lastHeartbeatOutcome: string | null;
  jobsSeen: number;
  bidsPlaced: number;
  bidsWon: number;
  jobsInFlight: number;
  maxConcurrentJobs: number;
  resultsAccepted: number;
  resultsFailed: number;
  tokensUsed: number;
  llmCostUsd: number;
  /** What the agent's work is worth, stage by stage (see Earnings). */
  earnings: Earnings;
  /** Where the agent is paid (checksummed), and whether the runner holds its key. */
  wallet: { address: string; holdsKey: boolean } | null;
  /** A daily spend cap is reached: the agent does not bid until the next UTC day. */
  spendCapReached: boolean;
  errors: number;
  lastError: string | null;
  /**
   * What the agent earns, from the ledger's outcomes (telemetry/earnings.ts): absent
   * before it is registered, or while its outcomes cannot be read.
   */
  performance?: AgentPerformance;
}

// Readers of the snapshot (the HTTP layer, the dashboard) find its config vocabulary here too.
export type { ConfigIssue, ConfigSourceStatus, ReloadStatus } from "../../agent-configs/types.ts";

export interface StatusSnapshot {
  startedAt: string;
  now: string;
  marketplace: { url: string; embedded: boolean; reachable: boolean; lastOkAt: string | null };
  config: ConfigSourceStatus & {
    source: AgentSource;
    loaded: boolean;
    issues: ConfigIssue[];
  };
  ledger: LedgerSummary | null;
  llm: { configured: boolean; baseUrl: string };
  agents: AgentStatusView[];
  /**
   * This replica: its id, the agents it runs (names), and the other live replicas with
   * how many agents each holds (from the lease collection; empty without MongoDB).
   */
  replica?: ReplicaStatus;
}

export interface ReplicaStatus {
  id: string;
  agents: string[];
  others: Array<{ id: string; agents: number }>;
}

export type RunnerEventKind =
  | "registered"
  | "heartbeat"
  | "bid"
  | "won"
  | "execution"
  | "result"
  | "error"
  | "config"
  | "agent-started"
  | "agent-stopped"
  | "negotiation"
  | "payment"
  | "wallet";

/** One line of the dashboard's timeline. */
export interface RunnerEvent {
  at: string;
  kind: RunnerEventKind;
  agent?: string;
  jobId?: string;
  message: string;
  /** Numbers for charts (price of a bid, tokens of an execution, cost). */
  amountUsd?: number;
  tokens?: number;
  costUsd?: number;
}

/** One agent's decision on one job (GET /api/decisions). */
export interface DecisionRecord {
  at: string;
  jobId: string;
  /** The agent's name. */
  agent: string;
  agentId: string | null;
  outcome: "bid" | "skip";
  reason: SkipReason | null;
  /** One sentence a person can read. */
  detail: string;
  priceUsd?: number;
  confidence?: number;
  /** The job's trace id for this agent, when tracing is on (src/tracing/trace-ids.ts). */
  traceId?: string;
}

/** What the HTTP layer needs from the runner. */
export interface StatusSource {
  snapshot(): Promise<StatusSnapshot>;
  /** Recent events, oldest first. */
  recentEvents(limit?: number): RunnerEvent[];
  /** Subscribe to new events; returns the unsubscribe function. */
  onEvent(listener: (event: RunnerEvent) => void): () => void;
  /** Each agent's decision on one job, or the most recent decisions (newest first). */
  decisions(jobId?: string): DecisionRecord[];
  /** Ready: config loaded and the marketplace answered (and is answering). */
  ready(): { ready: boolean; reasons: string[] };
}
