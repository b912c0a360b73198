import type { Job } from "../../marketplace/schemas.ts";
import type { ConfidenceBoost, MinutesRule } from "../keyword-evaluator.ts";
import { ToolAgentExecutor } from "../tool-agent.ts";
import { blocksForBidding, listedAttachments } from "../tools/inputs.ts";
import { parseSeries } from "../tools/series.ts";
import type { ExecutorContext, TaskResult } from "../types.ts";
import { ANOMALY_HUNTER_KEYWORDS } from "./keywords.ts";
import { ANOMALY_HUNTER_PROMPT } from "./prompt.ts";
import { anomalyFacts, anomalyReport } from "./report.ts";

const DATA_FILE = /\.(csv|tsv|json|jsonl|ndjson|log|txt)$/i;

const EXPLAIN = `Write two sections in Markdown, and nothing else:
## Likely causes — for the flagged points and level shifts in the facts (group related ones), ranked hypotheses, each with the evidence from the facts and the check that would confirm it.
## Recommendations — monitoring thresholds and alert rules derived from the series profile, and what to investigate first.
Use only the facts given: do not restate the tables, do not add points, values or timestamps that are not in them.`;

/** `anomaly_hunter`: robust statistics on the job's series, explained by the LLM. Quicker estimates. */
export class AnomalyHunterExecutor extends ToolAgentExecutor {
  static override systemPrompt = ANOMALY_HUNTER_PROMPT;
  static override expectedOutputTokens = 1200;
  static override keywords = ANOMALY_HUNTER_KEYWORDS;
  static override temperature = 0.3;
  /** `max(2, 8 − matches)` minutes, per the design. */
  static override minutesRule: MinutesRule = { minMinutes: 2, maxMinutes: 8 };

  protected override toolsCanWork(job: Job): ConfidenceBoost | undefined {
    const blocks = blocksForBidding(job);
    // Most jobs hold no data and attach nothing: nothing for the tools, nothing to build.
    if (blocks.length === 0 && job.attachments.length === 0) return undefined;
    const { series } = parseSeries(blocks);
    if (series.length > 0) {
      return {
        confidence: 0.1,
        reason: `its tools read ${series.length} numeric series in the job`,
      };
    }
    const files = listedAttachments(job.attachments).filter((f) => DATA_FILE.test(f.filename));
    if (files.length > 0) return { confidence: 0.05, reason: "the job attaches data files" };
    return undefined;
  }

  override async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    const started = performance.now();
    const inputs = await this.gatherInputs(job, ctx);
    const { value: result, error } = await this.toolFindings("anomalies", inputs.blocks, job, ctx);
    const found = (result?.analyses.length ?? 0) > 0;
    const prompt = found
      ? this.groundedPrompt(job, anomalyFacts(result!), EXPLAIN)
      : this.buildTaskPrompt(job);
    const llm = await this.consultLlm(job, ctx, prompt);
    if (llm.kind === "failed" && !found) return llm.result;
    const report = anomalyReport(
      job,
      result,
      error,
      inputs.notes,
      llm.kind === "ok" ? llm.text : null,
    );
    return this.delivered(report, llm, started);
  }
}
