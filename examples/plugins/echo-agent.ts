/**
 * A minimal executor plugin. Load it with
 *   AGENT_PLUGINS=./examples/plugins/echo-agent.ts npm start
 * and give an agent `agent_type: "echo_agent"`. It bids on jobs that mention "echo"
 * and answers with the task prompt it would send to an LLM, without calling one.
 */
import {
  BaseAgentExecutor,
  type Evaluation,
  type ExecutorContext,
  type ExecutorRegistry,
  type Job,
  type TaskResult,
} from "bazaar-runner/agents";

export class EchoAgentExecutor extends BaseAgentExecutor {
  static override systemPrompt = "You are EchoAgent: you repeat the customer's task back.";

  async evaluateJob(job: Job, ctx: ExecutorContext): Promise<Evaluation> {
    const wanted = /\becho\b/i.test(`${job.title} ${job.description}`);
    const budget = job.budget_usd ?? 0;
    if (!wanted || budget <= 0) {
      return {
        canComplete: false,
        confidence: 0,
        bidAmountUsd: 0,
        estimatedTimeMinutes: 0,
        reasoning: "not an echo job",
      };
    }
    return {
      canComplete: true,
      confidence: 0.9,
      bidAmountUsd: Math.min(ctx.agent.base_rate_usd, 0.85 * budget),
      estimatedTimeMinutes: 1,
      reasoning: "the job asks for an echo",
    };
  }

  async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    return {
      success: true,
      output: this.buildTaskPrompt(job),
      tokensUsed: 0,
      model: ctx.agent.model ?? "echo",
      latencyMs: 0,
    };
  }
}

/** Called by the runner once the module is loaded (see AGENT_PLUGINS in the README). */
export function register(registry: ExecutorRegistry): void {
  registry.registerExecutor("echo_agent", EchoAgentExecutor);
}
