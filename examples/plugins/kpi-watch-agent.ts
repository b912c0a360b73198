/**
 * A plugin agent that uses the runner's tools. Load it with
 *   AGENT_PLUGINS=./examples/plugins/kpi-watch-agent.ts npm start
 * and give an agent `agent_type: "kpi_watch"`. It bids on KPI jobs whose data its tools
 * can read, runs the anomaly tools in a worker thread and answers with a table of the
 * flagged points, without an LLM.
 */
import {
  BaseAgentExecutor,
  type Evaluation,
  type ExecutorContext,
  extractFromText,
  type Job,
  NO_LLM_LINE,
  notesSection,
  num,
  registerExecutor,
  type TaskResult,
  table,
} from "bazaar-runner/agents";

const decline = (reasoning: string): Evaluation => ({
  canComplete: false,
  confidence: 0,
  bidAmountUsd: 0,
  estimatedTimeMinutes: 0,
  reasoning,
});

export class KpiWatchExecutor extends BaseAgentExecutor {
  static override systemPrompt = "You are KpiWatch: you flag unusual KPI values.";

  async evaluateJob(job: Job, ctx: ExecutorContext): Promise<Evaluation> {
    const budget = job.budget_usd ?? 0;
    if (!/\bkpis?\b/i.test(`${job.title} ${job.description}`) || budget <= 0) {
      return decline("not a KPI job");
    }
    // Cheap and bounded: only the first 64 KB of the description are looked at.
    const { blocks } = extractFromText(job.description ?? "", undefined, 64 * 1024);
    const data = blocks.filter((b) => ["csv", "json", "numbers"].includes(b.language)).length;
    return {
      canComplete: true,
      confidence: data > 0 ? 0.9 : 0.6,
      bidAmountUsd: Math.min(ctx.agent.base_rate_usd, 0.85 * budget),
      estimatedTimeMinutes: 2,
      reasoning: data > 0 ? `${data} data block(s) to analyse` : "KPI job; data expected in files",
    };
  }

  async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    const inputs = await this.gatherInputs(job, ctx);
    const outcome = await this.runTool("anomalies", { blocks: inputs.blocks }, ctx);
    const notes = [...inputs.notes];
    const rows: unknown[][] = [];
    if (outcome.ok) {
      notes.push(...outcome.value.notes);
      for (const series of outcome.value.analyses) {
        for (const a of series.anomalies) {
          rows.push([
            series.name,
            a.at,
            num(a.value),
            `${num(a.expectedLow)} … ${num(a.expectedHigh)}`,
            a.severity,
          ]);
        }
      }
    } else {
      notes.push(`The analysis could not run: ${outcome.error}`);
    }
    const output = [
      NO_LLM_LINE,
      "",
      `# KPI watch: ${job.title}`,
      "",
      rows.length > 0
        ? table(["KPI", "time / index", "value", "expected range", "severity"], rows)
        : "Nothing unusual found.",
      "",
      notesSection(notes),
    ].join("\n");
    return { success: true, output, tokensUsed: 0, model: "kpi-watch", latencyMs: outcome.ms };
  }
}

registerExecutor("kpi_watch", KpiWatchExecutor);
