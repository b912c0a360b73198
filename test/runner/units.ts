import { type AgentConfig, AgentConfigSchema } from "../../src/agents/types.ts";
import type { AgentSpec } from "../../src/config-sources/types.ts";
import { silentLogger } from "../../src/logger.ts";
import { type Job, JobSchema } from "../../src/marketplace/schemas.ts";
import { createMetrics } from "../../src/metrics.ts";
import { DecisionLog } from "../../src/runner/decision-log.ts";
import { StatusTracker } from "../../src/runner/status-tracker.ts";
import { AgentTelemetry } from "../../src/runner/telemetry.ts";
import type { BidRecord, Ledger } from "../../src/state/types.ts";

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
export function telemetryFixture(config: AgentConfig = agentConfig()) {
  const tracker = new StatusTracker();
  const metrics = createMetrics({ processMetrics: false });
  const decisions = new DecisionLog();
  const telemetry = new AgentTelemetry(spec(config), 2, {
    tracker,
    metrics,
    decisions,
    logger: silentLogger(),
    defaultModel: "test-model",
  });
  return { tracker, metrics, decisions, telemetry };
}

/** The ledger, keeping each round that `recordBids` was given. */
export function recordingRounds(ledger: Ledger): { ledger: Ledger; rounds: BidRecord[][] } {
  const rounds: BidRecord[][] = [];
  const recording: Ledger = {
    ...ledger,
    backend: ledger.backend,
    recordBids: (bids) => {
      rounds.push([...bids]);
      return ledger.recordBids(bids);
    },
  };
  return { ledger: recording, rounds };
}
