import { onTestFinished } from "vitest";
import type { AgentSpec } from "../../src/agent-configs/types.ts";
import { type AgentConfig, AgentConfigSchema } from "../../src/agents/types.ts";
import { type Logger, silentLogger } from "../../src/logger.ts";
import { Sessions } from "../../src/marketplace/auth.ts";
import { type Job, JobSchema } from "../../src/marketplace/schemas.ts";
import { createMetrics } from "../../src/metrics.ts";
import { AgentTelemetry } from "../../src/runner/telemetry/agent-telemetry.ts";
import { DecisionLog } from "../../src/runner/telemetry/decision-log.ts";
import { StatusTracker } from "../../src/runner/telemetry/status-tracker.ts";
import { openSqliteLedger } from "../../src/state/sqlite-ledger.ts";
import type { BidRecord, Ledger } from "../../src/state/types.ts";
import { AgentWallets } from "../../src/wallet/agent-wallets.ts";
import { HdWallet } from "../../src/wallet/keys.ts";
import { type ClientMarket, startClientMarket } from "./client-market.ts";
import { ledgerWith } from "./ledger-with.ts";
import { type Api, api } from "./raw-http.ts";
import { SECRET_TEST_MNEMONIC } from "./test-secrets.ts";

/** A marketplace job as a listing would give it, with these fields changed. */
export function job(fields: Partial<Job> = {}): Job {
  return JobSchema.parse({
    job_id: "job_00000001",
    title: "Review this TypeScript module for security issues",
    description: "Please check for injection and unsafe eval.",
    required_capabilities: ["code_review"],
    min_capability_score: 0.7,
    budget_usd: 1,
    status: "posted",
    ...fields,
  });
}

export function agentConfig(fields: Partial<AgentConfig> = {}): AgentConfig {
  return AgentConfigSchema.parse({
    name: "CodeReviewer",
    agent_type: "code_reviewer",
    capabilities: { code_review: 0.9 },
    base_rate_usd: 0.03,
    ...fields,
  });
}

export function spec(config: AgentConfig = agentConfig()): AgentSpec {
  return { key: `file:${config.name}`, source: "file", ref: config.name, config };
}

/** One agent's telemetry over a fresh tracker, metrics registry and decision log. */
export function telemetryFixture(
  config: AgentConfig = agentConfig(),
  logger: Logger = silentLogger(),
) {
  const tracker = new StatusTracker();
  const metrics = createMetrics({ processMetrics: false });
  const decisions = new DecisionLog();
  const telemetry = new AgentTelemetry(spec(config), 2, {
    tracker,
    metrics,
    decisions,
    logger,
    defaultModel: "test-model",
  });
  return { tracker, metrics, decisions, telemetry };
}

/** The ledger, keeping each round that `recordBids` was given. */
export function recordingRounds(ledger: Ledger): { ledger: Ledger; rounds: BidRecord[][] } {
  const rounds: BidRecord[][] = [];
  const recording = ledgerWith(ledger, {
    recordBids: (bids) => {
      rounds.push([...bids]);
      return ledger.recordBids(bids);
    },
  });
  return { ledger: recording, rounds };
}

/**
 * The embedded marketplace and the real client, with what a worker's units keep state
 * and sign in with: a memory ledger, keys from the test mnemonic, sign-in sessions.
 */
export interface WorkerMarket extends ClientMarket {
  ledger: Ledger;
  wallets: AgentWallets;
  sessions: Sessions;
  /** Raw requests, as the marketplace's other users make them. */
  api: Api;
}

/** Called within a test: the market is closed when the test finishes. */
export async function startWorkerMarket(prefix: string): Promise<WorkerMarket> {
  const market = await startClientMarket(prefix);
  onTestFinished(() => market.close());
  const ledger = openSqliteLedger({ path: ":memory:" });
  const hd = new HdWallet(SECRET_TEST_MNEMONIC);
  const setup = {
    hd,
    mnemonic: "env" as const,
    devMnemonicFile: undefined,
    payoutWallet: undefined,
  };
  return {
    ...market,
    ledger,
    wallets: new AgentWallets(setup, ledger, "unit_owner"),
    sessions: new Sessions({ transport: market.client.transport }),
    api: api(market.market.url),
  };
}
