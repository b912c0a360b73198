import type { FastifyInstance } from "fastify";
import type { Dispatcher } from "undici";
import { ROUTES } from "../contract/routes.ts";
import { isoTime } from "../contract/time.ts";
import { createLlmClient } from "../llm/client.ts";
import { type LlmClient, LlmError, LlmNotConfiguredError } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import { createSharedPool } from "../pool.ts";
import { errorMessage } from "../secrets.ts";
import { InternalError, notFound } from "./errors.ts";
import { JSON_ONLY, parseLlmJson } from "./llm-json.ts";
import { paymentRecommendation, qualitySuggestion } from "./quality-suggestion.ts";
import { countFailedJob } from "./ratings.ts";
import type { JobDoc, MarketplaceStore } from "./store.ts";

/**
 * Hosted execution, `POST /api/jobs/{job_id}/execute` (the service's
 * execution/runner.py): the marketplace itself does the assigned agent's work with the
 * LLM configured for its process, whatever the agent's execution_mode. The job goes
 * `in_progress`, then `pending_review` with the result and an AI quality suggestion, or
 * `disputed` (result `{error}`, quality 0, the agent's jobs_failed + 1) when there is no
 * LLM or it fails.
 */

/** The LLM of hosted execution: LLM_BASE_URL, FIREWORKS_API_KEY and LLM_MODEL, as for the runner. */
export interface HostedLlmOptions {
  /** A ready client (tests); otherwise one is made from apiKey and baseUrl. */
  client?: LlmClient;
  /** FIREWORKS_API_KEY; without it (and without a client) every execution ends disputed. */
  apiKey?: string;
  /** LLM_BASE_URL. */
  baseUrl?: string;
  /** LLM_MODEL. */
  model: string;
  /** Per-call timeout (LLM_TIMEOUT); the service's is 120 s. */
  timeoutMs?: number;
}

/** The service's executor prompt (runner.py), which asks for this JSON answer. */
const EXECUTOR_SYSTEM_PROMPT = `You are an AI agent executing a task in the AgentBazaar marketplace.

Your job is to analyze data and produce high-quality results that will be evaluated by Galileo.

## Execution Approach:
1. Understand the task requirements
2. Explore the provided data samples
3. Analyze patterns and insights
4. Produce a clear, structured result

## Output Format:
Return JSON with:
\`\`\`json
{
  "summary": "Brief summary of findings",
  "key_findings": ["finding1", "finding2", "finding3"],
  "details": {
    // Task-specific structured data
  },
  "confidence": 0.85,
  "methodology": "Brief description of approach"
}
\`\`\`

Be thorough but concise. Quality over quantity.`;

/**
 * The task as the service puts it to the LLM. The service adds samples of the
 * `data_context` collection from its own database; the embedded marketplace holds no such
 * collections, so there are none (as on the service when sampling finds nothing).
 */
export function executionPrompt(job: JobDoc): string {
  return [
    `## Task: ${job.title || "Unknown Task"}`,
    `\n${job.description || "No description provided."}`,
    "\n## Requirements:",
    `- Task type: ${job.task_type || "analysis"}`,
    `- Required capabilities: ${job.required_capabilities.join(", ")}`,
    "\nAnalyze the data and provide your findings in the required JSON format.",
  ].join("\n");
}

/** The LLM's JSON as an object: a list or a bare value is kept under `result`. */
function asObject(value: unknown): Record<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  return { result: value };
}

export class HostedExecution {
  readonly #store: MarketplaceStore;
  readonly #llm: LlmClient;
  readonly #model: string;
  readonly #now: () => Date;
  readonly #log: Logger;
  readonly #pool: Dispatcher | undefined;

  constructor(
    store: MarketplaceStore,
    options: HostedLlmOptions | undefined,
    now: () => Date,
    log: Logger,
  ) {
    this.#store = store;
    this.#now = now;
    this.#log = log;
    this.#model = options?.model ?? "";
    if (options?.client) {
      this.#llm = options.client;
    } else if (options?.apiKey && options.baseUrl) {
      this.#pool = createSharedPool({ connections: 4 });
      // One attempt, as the service makes one call (no retry) per execution.
      this.#llm = createLlmClient({
        apiKey: options.apiKey,
        baseUrl: options.baseUrl,
        dispatcher: this.#pool,
        timeoutMs: options.timeoutMs ?? 120_000,
        maxAttempts: 1,
        logger: log,
      });
    } else {
      this.#llm = {
        configured: false,
        complete: () => Promise.reject(new LlmNotConfiguredError()),
      };
    }
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }

  async execute(jobId: string) {
    const started = performance.now();
    const job = this.#store.getJob(jobId);
    if (!job) throw notFound("Job");
    // What the service raises as ValueError (an unhandled 500 there, and here).
    if (job.status !== "assigned") {
      throw new InternalError(`Job ${jobId} is not assigned (status: ${job.status})`);
    }
    const agentId = job.assigned_agent_id ?? "";
    const agent = this.#store.getAgent(agentId);
    if (!agent) throw new InternalError(`Agent ${agentId} not found`);
    this.#store.updateJob(jobId, { status: "in_progress" });
    this.#log.info({ jobId, agentId }, "hosted execution started");

    const deadlineSeconds = job.deadline_minutes * 60;
    let text: string;
    let tokens: number;
    let model: string;
    try {
      const completion = await this.#llm.complete({
        model: this.#model,
        system: EXECUTOR_SYSTEM_PROMPT + JSON_ONLY,
        prompt: executionPrompt(job),
        temperature: 0.4,
        maxTokens: 4096,
        signal: AbortSignal.timeout(Math.max(1, deadlineSeconds * 1000)),
      });
      ({ text, model } = completion);
      tokens = completion.usage.totalTokens;
    } catch (error) {
      const message =
        error instanceof LlmError && error.kind === "aborted"
          ? `Execution timed out after ${deadlineSeconds}s`
          : errorMessage(error);
      return this.#fail(job, agentId, message);
    }

    const parsed = asObject(parseLlmJson(text));
    const suggestion = qualitySuggestion(job.task_type, job.description, parsed);
    const recommendation = paymentRecommendation(suggestion);
    const now = isoTime(this.#now());
    // The service stores the LLM's JSON as it is; the submitted-result fields are added
    // beside its keys so that a client reading `result` as a submitted one can read it.
    const result = {
      ...parsed,
      success: true,
      output: text,
      tokens_used: tokens,
      model,
      executed_by: agentId,
      submitted_at: now,
    };
    this.#store.transaction(() => {
      this.#store.updateJob(jobId, {
        status: "pending_review",
        result,
        ai_quality_suggestion: suggestion,
      });
      this.#store.updateAgent(agentId, { status: "available", last_active: now });
    });
    const executionTimeMs = performance.now() - started;
    this.#log.info(
      {
        jobId,
        agentId,
        suggested: suggestion.suggested_overall,
        recommendation: suggestion.recommendation,
      },
      "hosted execution done, pending review",
    );
    return {
      job_id: jobId,
      agent_id: agentId,
      result,
      ai_quality_suggestion: suggestion,
      payment_recommendation: recommendation,
      execution_time_ms: executionTimeMs,
      status: "pending_review",
      message: "Work completed. Awaiting human review to finalize quality rating and payment.",
    };
  }

  #fail(job: JobDoc, agentId: string, message: string) {
    this.#log.warn({ jobId: job.job_id, agentId, problem: message }, "hosted execution failed");
    const now = isoTime(this.#now());
    this.#store.transaction(() => {
      this.#store.updateJob(job.job_id, {
        status: "disputed",
        result: {
          error: message,
          success: false,
          output: "",
          tokens_used: 0,
          model: this.#model,
          executed_by: agentId,
          submitted_at: now,
        },
        quality_score: 0,
      });
      this.#store.updateAgent(agentId, { status: "available" });
      countFailedJob(this.#store, agentId);
    });
    return {
      job_id: job.job_id,
      agent_id: agentId,
      error: message,
      quality_score: 0.0,
      status: "failed",
    };
  }
}

export function registerHostedExecutionRoute(app: FastifyInstance, hosted: HostedExecution): void {
  app.post<{ Params: { job_id: string } }>(ROUTES.executeJob.path, async (req) =>
    hosted.execute(req.params.job_id),
  );
}
