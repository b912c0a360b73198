import type { AgentSource } from "../agents/types.ts";
import type { ConfigIssue, ConfigSourceStatus } from "../config-sources/types.ts";
import type { LedgerSummary } from "../state/types.ts";

/** A worker's lifecycle state. */
export type WorkerState = "registering" | "running" | "draining" | "stopped" | "failed";

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
  revenueUsd: number;
  errors: number;
  lastError: string | null;
}

// Readers of the snapshot (the HTTP layer, the dashboard) find its config vocabulary here too.
export type { ConfigIssue, ConfigSourceStatus, ReloadStatus } from "../config-sources/types.ts";

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
  | "agent-stopped";

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

/** What the HTTP layer needs from the runner. */
export interface StatusSource {
  snapshot(): Promise<StatusSnapshot>;
  /** Recent events, oldest first. */
  recentEvents(limit?: number): RunnerEvent[];
  /** Subscribe to new events; returns the unsubscribe function. */
  onEvent(listener: (event: RunnerEvent) => void): () => void;
  /** Ready: config loaded and the marketplace answered (and is answering). */
  ready(): { ready: boolean; reasons: string[] };
}
