/**
 * Our side of the simulated market: three agents (the built-in types) priced by the
 * runner's real units — the executor's evaluation, the bid decision, the price floor,
 * `learnedBid` (fixed or adaptive) and `priceBid` — with the outcomes in a real SQLite
 * ledger, bidding and delivering through the real marketplace client.
 */

import type { BaseAgentExecutor } from "../../src/agents/base-executor.ts";
import { BUILTIN_AGENTS } from "../../src/agents/builtin.ts";
import type { AgentConfig, ExecutorContext } from "../../src/agents/types.ts";
import { DEFAULT_LLM_PRICES, DEFAULT_MODEL } from "../../src/config/env.ts";
import { silentLogger } from "../../src/logger.ts";
import type { MarketplaceClient } from "../../src/marketplace/client.ts";
import type { Job } from "../../src/marketplace/schemas.ts";
import {
  agentFloor,
  bidOutcome,
  learnedBid,
  type PriceBasis,
  type PricingMode,
  priceBid,
} from "../../src/runner/bidding/agent-pricing.ts";
import { decideFromEvaluation } from "../../src/runner/policy/bid-decision.ts";
import type { Floor } from "../../src/runner/policy/price-floor.ts";
import type { LearnerSettings } from "../../src/runner/policy/price-learning.ts";
import { openSqliteLedger } from "../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../src/state/types.ts";
import type { MarketJob } from "./world.ts";

/** No LLM is called in the bench: the keyword executors evaluate without one. */
const NO_LLM = {
  configured: false,
  complete: () => Promise.reject(new Error("the market bench calls no LLM")),
};

export interface OurBid {
  agentId: string;
  bidId: string;
  priceUsd: number;
  confidence: number;
  floor: Floor;
  basis: PriceBasis;
}

interface OurAgent {
  config: AgentConfig;
  executor: BaseAgentExecutor;
  agentId: string;
  expectedOutputTokens: number;
}

export class OurRunner {
  readonly mode: PricingMode;
  #ledger: Ledger;
  readonly #ledgerPath: string;
  readonly #client: MarketplaceClient;
  readonly #learner: LearnerSettings;
  readonly #agents = new Map<string, OurAgent>();
  /** The newest reason of an adaptive decision, by job class. */
  readonly reasons = new Map<string, string>();

  constructor(
    mode: PricingMode,
    client: MarketplaceClient,
    learner: LearnerSettings,
    ledgerPath: string,
  ) {
    this.mode = mode;
    this.#client = client;
    this.#learner = learner;
    this.#ledgerPath = ledgerPath;
    this.#ledger = openSqliteLedger({ path: ledgerPath });
  }

  get ledger(): Ledger {
    return this.#ledger;
  }

  /** A restart: the ledger is closed and opened again from its file; nothing else is kept. */
  async restart(): Promise<void> {
    await this.#ledger.close();
    this.#ledger = openSqliteLedger({ path: this.#ledgerPath });
  }

  /** Registers the three built-in agents under this runner's name. */
  async register(wallet: (i: number) => string): Promise<void> {
    let i = 0;
    for (const { agentType, executor, defaults } of BUILTIN_AGENTS) {
      const config = structuredClone(defaults) as AgentConfig;
      const answer = await this.#client.registerAgent({
        name: `${this.mode}-${config.name}`,
        description: config.description ?? config.name,
        owner_id: `bench-${this.mode}`,
        wallet_address: wallet(i++),
        base_rate_usd: config.base_rate_usd,
        capabilities: { ...config.capabilities },
        skip_benchmark: true,
      });
      this.#agents.set(agentType, {
        config,
        executor: new executor(config),
        agentId: answer.agent_id,
        expectedOutputTokens: (executor as unknown as typeof BaseAgentExecutor)
          .expectedOutputTokens,
      });
    }
  }

  agentIdOf(agentType: string): string {
    return this.#agent(agentType).agentId;
  }

  #agent(agentType: string): OurAgent {
    const agent = this.#agents.get(agentType);
    if (!agent) throw new Error(`no agent of type ${agentType}`);
    return agent;
  }

  /**
   * Decides and places this runner's bid on a listed job as the runner does (evaluation,
   * decision, floor, price), at the simulated time `at`; undefined when it does not bid.
   */
  async bid(world: MarketJob, job: Job, at: Date): Promise<OurBid | undefined> {
    const agent = this.#agent(world.profile.agentType);
    const signal = new AbortController().signal;
    const context: ExecutorContext = {
      agent: agent.config,
      agentId: agent.agentId,
      llm: NO_LLM,
      logger: silentLogger(),
      signal,
      defaultModel: DEFAULT_MODEL,
    };
    const evaluation = await agent.executor.evaluateJob(job, context);
    const decision = decideFromEvaluation(job, { kind: "ok", value: evaluation }, 1000);
    if (decision?.kind !== "bid") return undefined;
    const floor = agentFloor(
      job,
      agent.config,
      { expectedOutputTokens: agent.expectedOutputTokens },
      { llmPrices: DEFAULT_LLM_PRICES, defaultModel: DEFAULT_MODEL, minMargin: 1.5 },
    );
    const outcomes = this.mode === "adaptive" ? await this.#ledger.outcomes(agent.agentId) : [];
    const priced = learnedBid(
      job,
      decision,
      floor,
      { agentId: agent.agentId, config: agent.config },
      outcomes,
      this.mode,
      this.#learner,
    );
    if (this.mode === "adaptive") this.reasons.set(priced.basis.jobClass, priced.basis.reason);
    const placed = priceBid(job, priced, null, floor);
    if (placed.kind !== "bid") return undefined;
    const answer = await this.#client.placeBid(job.job_id, {
      agent_id: agent.agentId,
      price_usd: placed.priceUsd,
      estimated_quality: placed.confidence,
      estimated_time_seconds: Math.round(placed.estimatedTimeMinutes * 60),
      approach_summary: placed.approach,
    });
    await this.#ledger.noteOutcome(
      agent.agentId,
      job.job_id,
      bidOutcome(priced.basis, placed.priceUsd, at),
    );
    return {
      agentId: agent.agentId,
      bidId: answer.bid_id,
      priceUsd: placed.priceUsd,
      confidence: placed.confidence,
      floor,
      basis: priced.basis,
    };
  }
}
