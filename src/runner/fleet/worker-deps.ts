import type { AgentSpec } from "../../agent-configs/types.ts";
import type { LlmClient } from "../../llm/types.ts";
import type { Logger } from "../../logger.ts";
import type { Sessions } from "../../marketplace/auth.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import type { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import type { Metrics } from "../../metrics.ts";
import type { Ledger } from "../../state/types.ts";
import type { AgentWallet, AgentWallets } from "../../wallet/agent-wallets.ts";
import type { PricingDeps } from "../bidding/agent-pricing.ts";
import type { SpendCaps } from "../bidding/spend-caps.ts";
import type { Outbox } from "../delivery/outbox.ts";
import type { MarketplaceHealth } from "../feed/marketplace-health.ts";
import type { HeartbeatClock } from "../presence/heartbeat-clock.ts";
import type { Registrar, Registration } from "../presence/registration-queue.ts";
import type { KeylessAgents } from "../presence/wallet-migration.ts";
import type { DecisionLog } from "../telemetry/decision-log.ts";
import type { StatusTracker } from "../telemetry/status-tracker.ts";

/** What every agent worker is given by the runner (shared by all of them). */
export interface WorkerDeps {
  client: MarketplaceClient;
  llm: LlmClient;
  ledger: Ledger;
  registrar: Registrar;
  outbox: Outbox;
  tracker: StatusTracker;
  logger: Logger;
  metrics?: Metrics;
  /** Where each agent's per-job decisions are kept for GET /api/decisions. */
  decisions?: DecisionLog;
  heartbeatIntervalMs: number;
  /** The one timer of every agent's heartbeats. */
  heartbeatClock: HeartbeatClock;
  /** PUBLIC_URL's webhook endpoint: an agent registered before is pointed at it. */
  webhookUrl?: string;
  /** The shared view of the marketplace's health: no heartbeats while it is down. */
  health?: MarketplaceHealth;
  /**
   * The runner's poll interval: the longest one poll waits for this agent's bid
   * decisions.
   */
  pollIntervalMs: number;
  /** Longest an executor's evaluateJob may take before the job is given up on (default 60 s). */
  evaluationTimeoutMs?: number;
  defaultModel: string;
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  /** The quality gate before each submission (QUALITY_GATE); absent: off. */
  quality?: { threshold: number; llmReview: boolean };
  /** Called once after the runner registered an agent that had no agent_id. */
  onRegistered?: (spec: AgentSpec, registration: Registration) => Promise<void>;
  /** Each agent's wallet: a key the runner holds, or a payout-only address. */
  wallets: AgentWallets;
  /** Sign-in sessions, one per wallet. */
  sessions: Sessions;
  negotiation: NegotiationApi;
  spendCaps: SpendCaps;
  /** AGENT_PRICING and what the learner reads (absent: the executor's price as it is). */
  pricing?: PricingDeps;
  /** AGENT_MIN_MARGIN. */
  minMargin: number;
  /**
   * Without leases (no MongoDB): look at the agent's `last_active` before its first
   * heartbeat and warn when someone else heartbeated it within the last interval.
   */
  checkForeignHeartbeats?: boolean;
  /** One listing of the marketplace's agents, shared, for the keyless-wallet migration. */
  keyless: KeylessAgents;
}

/**
 * The agent as its worker knows it now, shared by the worker's units: start-up and
 * re-registration write its id, wallet and origin; heartbeats and bidding read them.
 * The runner sees the id as soon as it changes (whose results to submit, whose jobs
 * are ours), so it is one object rather than a value handed back at the end.
 */
export interface WorkerAgent {
  spec: AgentSpec;
  agentId: string | undefined;
  wallet: AgentWallet | undefined;
  /** True when this runner registered the agent (no agent_id in its config). */
  selfRegistered: boolean;
  /**
   * The `last_active` this start's registration left (without leases): looked at again
   * before the first heartbeat, see foreign-heartbeat.ts.
   */
  registrationStamp?: string;
}
