import type { AgentConfig, ExecutorContext } from "../../src/agents/types.ts";
import { silentLogger } from "../../src/logger.ts";

/** A built-in agent's config as the decision benches run it: no keywords of its own. */
export function benchAgentConfig(name: string, agentType: string, rate: number): AgentConfig {
  return {
    name,
    agent_type: agentType,
    managed: true,
    status: "available",
    capabilities: {},
    base_rate_usd: rate,
  } as AgentConfig;
}

/** What an executor gets to decide with in a bench: no LLM (a decision never calls one), no logs. */
export function benchContext(agent: AgentConfig): ExecutorContext {
  return {
    agent,
    agentId: "agent_bench",
    llm: { configured: false, complete: () => Promise.reject(new Error("no LLM")) },
    logger: silentLogger(),
    signal: new AbortController().signal,
    defaultModel: "m",
  };
}
