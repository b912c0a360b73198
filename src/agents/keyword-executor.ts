import type { Job } from "../marketplace/schemas.ts";
import { BaseAgentExecutor, DEFAULT_TEMPERATURE } from "./base-executor.ts";
import {
  type ConfidenceBoost,
  DEFAULT_MINUTES_RULE,
  evaluateKeywords,
  jobMemo,
  type MinutesRule,
} from "./keyword-evaluator.ts";
import type { Evaluation, ExecutorContext, TaskResult } from "./types.ts";

/**
 * The shape of the built-in agents: bids by the weighted keyword table (the agent
 * config's `keywords` replaces the class's), executes with one LLM call.
 * A subclass sets `systemPrompt`, `keywords`, `temperature` and, if it differs,
 * `minutesRule`.
 */
export abstract class KeywordAgentExecutor extends BaseAgentExecutor {
  /** The built-in `{keyword: weight}` table of the specialty. */
  static keywords: Readonly<Record<string, number>> = {};
  /** The agent type's temperature; the config's `temperature` overrides it. */
  static temperature = DEFAULT_TEMPERATURE;
  static minutesRule: MinutesRule = DEFAULT_MINUTES_RULE;

  private get kind(): typeof KeywordAgentExecutor {
    return this.constructor as typeof KeywordAgentExecutor;
  }

  /** The table in force for this call. */
  protected keywordsFor(ctx: ExecutorContext): Readonly<Record<string, number>> {
    return ctx.agent.keywords ?? this.kind.keywords;
  }

  async evaluateJob(job: Job, ctx: ExecutorContext): Promise<Evaluation> {
    // A decline of confidence 0 is told apart from other declines in the decision log
    // ("no keyword"): noMatch is set as the evaluation is made.
    return evaluateKeywords(
      job,
      this.keywordsFor(ctx),
      ctx.agent.base_rate_usd,
      job.budget_usd,
      this.kind.minutesRule,
      this.#toolBoost(job),
      true,
    );
  }

  /**
   * toolsCanWork once per (job, executor class): agents of one kind share it, as they
   * share the keyword scan. Kept in the job's scan memo as [class, boost, class, boost, …]
   * (a few kinds decide on one job): a WeakMap entry per job cost more than the boost.
   */
  #toolBoost(job: Job): ConfidenceBoost | undefined {
    const kind = this.kind;
    const byKind = jobMemo(job);
    for (let i = 0; i < byKind.length; i += 2) {
      if (byKind[i] === kind) return byKind[i + 1] as ConfidenceBoost | undefined;
    }
    const boost = this.toolsCanWork(job);
    byKind.push(kind, boost);
    return boost;
  }

  /**
   * Whether the agent's tools can already read the job's data, judged cheaply and
   * synchronously (bounded parsing of the description, the listed attachments): a
   * boost to the confidence, or undefined. The keywords still decide whether to bid.
   */
  protected toolsCanWork(_job: Job): ConfidenceBoost | undefined {
    return undefined;
  }

  async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    return this.runLlm(job, ctx, { temperature: this.kind.temperature });
  }
}
