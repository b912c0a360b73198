import type { Job } from "../marketplace/schemas.ts";
import { KeywordAgentExecutor } from "./keyword-executor.ts";
import type { ToolInput, ToolName, ToolOutput } from "./tools/catalog.ts";
import { NO_LLM_LINE } from "./tools/markdown.ts";
import type { InputBlock } from "./tools/types.ts";
import type { ExecutorContext, TaskResult } from "./types.ts";

/**
 * The built-in agents that do real work: tools first (in a worker thread), their
 * findings handed to the LLM as grounded facts, the LLM's answer checked, and without
 * an LLM the tools' report alone, completed and marked as such on its first line.
 */

/** What the LLM contributed to a deliverable. */
export type LlmPart =
  | { kind: "none"; reason: string }
  | { kind: "ok"; text: string; tokensUsed: number; model: string }
  | { kind: "failed"; result: TaskResult };

/** The model name a tools-only result is submitted with. */
export const TOOLS_ONLY_MODEL = "deterministic-tools";

/** Like base-executor's neutralizeTags: the slash takes its spaces with it (linear). */
function neutralize(text: string): string {
  return text.replace(/<\s*(?:(\/)\s*)?(customer_task|tool_findings)\s*>/gi, "[$1$2]");
}

export abstract class ToolAgentExecutor extends KeywordAgentExecutor {
  /**
   * The task prompt with the tools' findings after it, delimited as facts: the LLM is
   * to build on them and never to invent data, values or line numbers.
   */
  protected groundedPrompt(job: Job, facts: string, instruction: string): string {
    return [
      this.buildTaskPrompt(job),
      "",
      "The runner's deterministic tools have already worked on the customer's data. Their findings, in the tool_findings block below, are facts computed from that data: build on them, cite only them, and never invent data points, values, files or line numbers that are not there.",
      "",
      "<tool_findings>",
      neutralize(facts),
      "</tool_findings>",
      "",
      instruction,
    ].join("\n");
  }

  /**
   * Runs a tool on the job's blocks (no worker at all when there are none). A failure
   * is logged and comes back as `error`, for a note in the deliverable.
   */
  protected async toolFindings<N extends ToolName>(
    tool: N,
    blocks: InputBlock[],
    job: Job,
    ctx: ExecutorContext,
  ): Promise<{ value: ToolOutput<N> | null; error: string | null }> {
    if (blocks.length === 0) return { value: null, error: null };
    const outcome = await this.runTool(tool, { blocks } as ToolInput<N>, ctx);
    if (outcome.ok) return { value: outcome.value, error: null };
    ctx.logger.warn(
      { jobId: job.job_id, tool, problem: outcome.error },
      "tool failed; noted in the deliverable",
    );
    return { value: null, error: outcome.error };
  }

  /** One LLM call with `prompt`; "none" when no LLM is configured. */
  protected async consultLlm(job: Job, ctx: ExecutorContext, prompt: string): Promise<LlmPart> {
    if (!ctx.llm.configured)
      return { kind: "none", reason: "no LLM is configured for this runner" };
    const kind = this.constructor as typeof KeywordAgentExecutor;
    const result = await this.runLlm(job, ctx, { temperature: kind.temperature, prompt });
    if (result.errorCode === "BR_ERR_LLM_NOT_CONFIGURED") {
      return { kind: "none", reason: "no LLM is configured for this runner" };
    }
    if (!result.success) return { kind: "failed", result };
    return {
      kind: "ok",
      text: result.output.trim(),
      tokensUsed: result.tokensUsed,
      model: result.model,
    };
  }

  /**
   * The completed result: the report, preceded (when no LLM answered) by the line
   * that says it was produced without a language model.
   */
  protected delivered(report: string, llm: LlmPart, started: number, extraTokens = 0): TaskResult {
    let first = "";
    if (llm.kind === "none") first = `${NO_LLM_LINE}\n\n`;
    if (llm.kind === "failed") {
      first = `_Produced without a language model: the LLM call failed (${llm.result.error ?? "unknown error"}), so this deliverable comes from deterministic tools alone._\n\n`;
    }
    return {
      success: true,
      output: `${first}${report.trim()}\n`,
      tokensUsed: (llm.kind === "ok" ? llm.tokensUsed : 0) + extraTokens,
      model: llm.kind === "ok" ? llm.model : TOOLS_ONLY_MODEL,
      latencyMs: Math.round(performance.now() - started),
    };
  }
}
