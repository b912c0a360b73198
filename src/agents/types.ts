import { z } from "zod";
import type { ErrorCode } from "../errors.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import type { Job } from "../marketplace/schemas.ts";
import type { JobFileSource } from "./tools/inputs.ts";
import type { ToolBudget } from "./tools/run-tool.ts";

const score = z.number().min(0).max(1);

/**
 * One agent's configuration: a MongoDB document of `bazaar.agents`, an entry of
 * AGENTS_FILE, or a built-in default. Unknown fields (Mongo's `_id`, timestamps) pass.
 */
export const AgentConfigSchema = z.looseObject({
  agent_id: z
    .string()
    .regex(/^agent_[0-9a-zA-Z_-]+$/, { error: "must look like agent_xxxxxxxx" })
    .optional(),
  name: z.string().trim().min(1, { error: "is required" }),
  agent_type: z.string().trim().min(1, { error: "is required" }),
  managed: z.boolean().default(true),
  status: z.enum(["available", "busy", "offline", "suspended"]).default("available"),
  capabilities: z.record(z.string(), score).default({}),
  base_rate_usd: z.number().positive(),
  model: z.string().min(1).optional(),
  description: z.string().optional(),
  keywords: z.record(z.string(), score).optional(),
  system_prompt: z.string().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_concurrent_jobs: z.number().int().positive().max(64).optional(),
  /** The lowest price the agent bids or accepts, whatever the cost estimate says (USD). */
  min_price_usd: z.number().nonnegative().optional(),
  wallet_address: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, { error: "must be 0x followed by 40 hex digits" })
    .optional(),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** Where an agent's config came from. */
export type AgentSource = "defaults" | "file" | "mongo";

/** A bid decision. */
export interface Evaluation {
  canComplete: boolean;
  /** 0..1, rounded to 2 decimals. */
  confidence: number;
  /** Rounded to 3 decimals. */
  bidAmountUsd: number;
  estimatedTimeMinutes: number;
  reasoning: string;
  /** Set when the job matched nothing of the agent's specialty (shown as "no keyword"). */
  noMatch?: boolean;
}

/** What an execution produced; submitted to the marketplace as the job's result. */
export interface TaskResult {
  success: boolean;
  output: string;
  tokensUsed: number;
  model: string;
  latencyMs: number;
  error?: string;
  /** The code of the runner's error behind a failure, when there was one (docs/errors.md). */
  errorCode?: ErrorCode;
}

/** What an executor is given for each call. */
export interface ExecutorContext {
  /** The agent's config as it is now (a hot reload may change it between calls). */
  agent: AgentConfig;
  /** The marketplace id of the agent, once registered. */
  agentId: string;
  llm: LlmClient;
  logger: Logger;
  /** Aborted at the job's deadline or on forced shutdown. */
  signal: AbortSignal;
  /** The model used when the agent's config names none. */
  defaultModel: string;
  /** Reads the job's attached files (the runner passes its marketplace client). */
  files?: JobFileSource;
  /** Time and memory budget of each tool run (default 60 s and 512 MB). */
  toolBudget?: Partial<ToolBudget>;
}

/** A job as the executor sees it. */
export type JobView = Job;
