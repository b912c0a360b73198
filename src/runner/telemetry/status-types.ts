import type { ConfigIssue, ConfigSourceStatus } from "../../agent-configs/types.ts";
import type { AgentSource } from "../../agents/types.ts";
import type { LedgerSummary } from "../../state/types.ts";

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
