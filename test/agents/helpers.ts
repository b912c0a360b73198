import {
  type AgentConfig,
  AgentConfigSchema,
  type ExecutorContext,
} from "../../src/agents/types.ts";
import type { Completion, CompletionRequest, LlmClient } from "../../src/llm/types.ts";
import { silentLogger } from "../../src/logger.ts";
import { type Job, JobSchema } from "../../src/marketplace/schemas.ts";

export function makeJob(fields: Partial<Job> & { title: string }): Job {
  return JobSchema.parse({ job_id: "job_test1", status: "posted", budget_usd: 1, ...fields });
}

export function makeAgent(fields: Partial<AgentConfig> = {}): AgentConfig {
  return AgentConfigSchema.parse({
    name: "TestAgent",
    agent_type: "schema_architect",
    base_rate_usd: 0.04,
    ...fields,
  });
}

/** An LlmClient that records every request and answers with `answer` (or throws it). */
export class FakeLlm implements LlmClient {
  readonly configured: boolean;
  readonly requests: CompletionRequest[] = [];
  answer: (request: CompletionRequest) => Promise<Completion>;

  constructor(
    options: {
      configured?: boolean;
      answer?: (request: CompletionRequest) => Promise<Completion>;
    } = {},
  ) {
    this.configured = options.configured ?? true;
    this.answer =
      options.answer ??
      (async (request) => ({
        text: "## Summary\nthe deliverable",
        model: request.model,
        usage: { inputTokens: 120, outputTokens: 30, totalTokens: 150 },
        latencyMs: 42,
        attempts: 1,
      }));
  }

  complete(request: CompletionRequest): Promise<Completion> {
    this.requests.push(request);
    return this.answer(request);
  }
}

export function makeContext(
  agent: AgentConfig,
  llm: LlmClient = new FakeLlm(),
  signal: AbortSignal = new AbortController().signal,
): ExecutorContext {
  return {
    agent,
    agentId: "agent_test123",
    llm,
    logger: silentLogger(),
    signal,
    defaultModel: "accounts/test/models/default",
  };
}
