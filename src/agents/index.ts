/**
 * The public API for executor plugins:
 * `import { registerExecutor, BaseAgentExecutor } from "bazaar-runner/agents"`.
 */
export type { Completion, CompletionRequest, LlmClient, TokenUsage } from "../llm/types.ts";
export { LlmError, LlmNotConfiguredError } from "../llm/types.ts";
export type { Job } from "../marketplace/schemas.ts";
export {
  BaseAgentExecutor,
  DEFAULT_MAX_TOKENS,
  NO_LLM_OUTPUT,
  type RunLlmOptions,
} from "./base-executor.ts";
export { builtinAgentConfigs, registerBuiltinExecutors } from "./builtin.ts";
export {
  compileKeywords,
  evaluateKeywords,
  type KeywordMatch,
  type KeywordMatcher,
  type MinutesRule,
} from "./keyword-evaluator.ts";
export { KeywordAgentExecutor } from "./keyword-executor.ts";
export { loadPlugins, PluginLoadError, registerAllExecutors } from "./plugins.ts";
export {
  createExecutor,
  type ExecutorClass,
  getExecutorClass,
  hasExecutor,
  type RegisterOptions,
  registerExecutor,
  registeredTypes,
  UnknownAgentTypeError,
  unregisterExecutor,
} from "./registry.ts";
export type {
  AgentConfig,
  Evaluation,
  ExecutorContext,
  JobView,
  TaskResult,
} from "./types.ts";
