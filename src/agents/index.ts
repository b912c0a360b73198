/**
 * The public API for executor plugins:
 * `import { registerExecutor, BaseAgentExecutor } from "bazaar-runner/agents"`.
 */

// The error base and its codes (docs/errors.md): `instanceof` holds across copies of the package.
export { BazaarRunnerError, type ErrorCode, isBazaarRunnerError } from "../errors.ts";
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
  type ConfidenceBoost,
  compileKeywords,
  evaluateKeywords,
  type KeywordMatch,
  type KeywordMatcher,
  type MinutesRule,
} from "./keyword-evaluator.ts";
export { KeywordAgentExecutor } from "./keyword-executor.ts";
export {
  loadPlugins,
  PluginLoadError,
  type RegisterPlugin,
  registerAllExecutors,
} from "./plugins.ts";
export {
  createExecutor,
  type ExecutorClass,
  type ExecutorRegistry,
  executorRegistry,
  getExecutorClass,
  hasExecutor,
  type RegisterOptions,
  registerExecutor,
  registeredTypes,
  UnknownAgentTypeError,
  unregisterExecutor,
} from "./registry.ts";
export { type LlmPart, TOOLS_ONLY_MODEL, ToolAgentExecutor } from "./tool-agent.ts";
export type { Anomaly, AnomalyParams, SeriesAnalysis } from "./tools/anomaly.ts";
export type {
  AnomalyToolResult,
  SchemaToolResult,
  ToolInput,
  ToolName,
  ToolOutput,
} from "./tools/catalog.ts";
export {
  type CodeFinding,
  type CodeReviewResult,
  checkCitedLines,
  maskSecret,
} from "./tools/code-findings.ts";
export {
  type AttachedFile,
  extractFromText,
  gatherJobInputs,
  type JobFileSource,
} from "./tools/inputs.ts";
export { cell, fence, NO_LLM_LINE, notesSection, num, table } from "./tools/markdown.ts";
export { runTool, type ToolBudget, type ToolOutcome } from "./tools/run-tool.ts";
export type { ArtefactCheck, InferredSchema } from "./tools/schema-samples.ts";
export type { InputBlock, JobInputs, Severity } from "./tools/types.ts";
export type {
  AgentConfig,
  Evaluation,
  ExecutorContext,
  JobView,
  TaskResult,
} from "./types.ts";
