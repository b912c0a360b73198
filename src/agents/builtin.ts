import { ANOMALY_HUNTER_DEFAULTS, ANOMALY_HUNTER_TYPE } from "./anomaly-hunter/defaults.ts";
import { AnomalyHunterExecutor } from "./anomaly-hunter/executor.ts";
import { CODE_REVIEWER_DEFAULTS, CODE_REVIEWER_TYPE } from "./code-reviewer/defaults.ts";
import { CodeReviewerExecutor } from "./code-reviewer/executor.ts";
import { type ExecutorClass, getExecutorClass, registerExecutor } from "./registry.ts";
import { SCHEMA_ARCHITECT_DEFAULTS, SCHEMA_ARCHITECT_TYPE } from "./schema-architect/defaults.ts";
import { SchemaArchitectExecutor } from "./schema-architect/executor.ts";
import type { AgentConfig } from "./types.ts";

/** The seed's three agents: their type, executor class and default config. */
export const BUILTIN_AGENTS: ReadonlyArray<{
  agentType: string;
  executor: ExecutorClass;
  defaults: Readonly<AgentConfig>;
}> = [
  {
    agentType: SCHEMA_ARCHITECT_TYPE,
    executor: SchemaArchitectExecutor,
    defaults: SCHEMA_ARCHITECT_DEFAULTS,
  },
  {
    agentType: ANOMALY_HUNTER_TYPE,
    executor: AnomalyHunterExecutor,
    defaults: ANOMALY_HUNTER_DEFAULTS,
  },
  {
    agentType: CODE_REVIEWER_TYPE,
    executor: CodeReviewerExecutor,
    defaults: CODE_REVIEWER_DEFAULTS,
  },
];

/**
 * Registers the three built-in executors. Idempotent, and leaves alone a type that a
 * plugin has already taken over with `{ replace: true }`.
 */
export function registerBuiltinExecutors(): void {
  for (const { agentType, executor } of BUILTIN_AGENTS) {
    if (!getExecutorClass(agentType)) registerExecutor(agentType, executor);
  }
}

/** The three default agent configs, as fresh deep copies the caller may change. */
export function builtinAgentConfigs(): AgentConfig[] {
  return BUILTIN_AGENTS.map(({ defaults }) => structuredClone(defaults) as AgentConfig);
}
