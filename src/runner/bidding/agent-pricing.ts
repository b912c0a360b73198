import { DEFAULT_MAX_TOKENS } from "../../agents/base-executor.ts";
import type { AgentConfig } from "../../agents/types.ts";
import type { Job } from "../../marketplace/schemas.ts";
import type { BidDecision, PlaceDecision } from "../policy/bid-decision.ts";
import { applyFloor, type Floor, priceFloor } from "../policy/price-floor.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { SpendCaps } from "./spend-caps.ts";

/** The runner's settings a floor depends on (WorkerDeps has them). */
export interface FloorSettings {
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  defaultModel: string;
  /** AGENT_MIN_MARGIN. */
  minMargin: number;
}

/** The job's price floor for an agent: estimated LLM cost × margin, at least min_price_usd. */
export function agentFloor(
  job: Job,
  config: AgentConfig,
  /** The executor's class: how much output its type expects to write. */
  executorType: { expectedOutputTokens?: number },
  settings: FloorSettings,
): Floor {
  return priceFloor(job, {
    expectedOutputTokens: Math.min(
      executorType.expectedOutputTokens ?? 1200,
      config.max_tokens ?? DEFAULT_MAX_TOKENS,
    ),
    usdPerMillionTokens: settings.llmPrices[config.model ?? settings.defaultModel],
    margin: settings.minMargin,
    minPriceUsd: config.min_price_usd ?? 0,
  });
}

/**
 * A bid the executor wants to place, after the spend caps (`capReached`: null while
 * they leave room) and the price floor: skipped, raised to the floor, or as it was.
 */
export function priceBid(
  job: Job,
  decision: PlaceDecision,
  capReached: string | null,
  floor: Floor,
): BidDecision {
  if (capReached) return { kind: "skip", reason: "spend_cap", detail: capReached };
  const applied = applyFloor(decision.priceUsd, job.budget_usd ?? 0, floor.floorUsd);
  if (applied.kind === "below_floor")
    return { kind: "skip", reason: "below_floor", detail: applied.detail };
  return { ...decision, priceUsd: applied.priceUsd };
}

/** Reads the agent's spend caps and shows the outcome; a ledger failure counts as room left. */
export async function checkSpendCap(
  spendCaps: SpendCaps,
  agentKey: string,
  telemetry: AgentTelemetry,
): Promise<string | null> {
  // No cap set: nothing to look up, nothing to show (the gauge stays absent).
  if (!spendCaps.enabled) return null;
  const reached = await spendCaps.check(agentKey).catch(() => null);
  telemetry.spendCap(reached);
  return reached;
}
