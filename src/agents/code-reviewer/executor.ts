import type { Job } from "../../marketplace/schemas.ts";
import type { ConfidenceBoost } from "../keyword-evaluator.ts";
import { type LlmPart, ToolAgentExecutor } from "../tool-agent.ts";
import { checkCitedLines, maskSecret } from "../tools/code-findings.ts";
import { blocksForBidding, listedAttachments } from "../tools/inputs.ts";
import type { ExecutorContext, TaskResult } from "../types.ts";
import { CODE_REVIEWER_KEYWORDS } from "./keywords.ts";
import { CODE_REVIEWER_PROMPT } from "./prompt.ts";
import { codeFacts, codeReport, maskSecrets, numberedCode } from "./report.ts";

const DATA_LANGUAGES = new Set(["csv", "tsv", "numbers", "log", "jsonl", "markdown"]);
const CODE_FILE = /\.(js|mjs|cjs|jsx|ts|tsx|py|java|go|rb|php|cs|c|h|cpp|rs|kt|swift|sql|sh)$/i;

const REVIEW = `Write the review in Markdown around those findings, and nothing else:
## Assessment — the overall quality and the main risks, in a few sentences.
## Explanation of the findings — for each high-severity finding, why it matters and the concrete fix (cite it by file and line as given).
## Further issues — correctness, performance and maintainability problems the tools do not check, each with its file and line.
Cite only lines that exist in the numbered code above. Never repeat a secret: refer to it by its kind.`;

/** `code_reviewer`: ESLint, secretlint and an SQL check on the job's code; the LLM reviews around them. */
export class CodeReviewerExecutor extends ToolAgentExecutor {
  static override systemPrompt = CODE_REVIEWER_PROMPT;
  static override expectedOutputTokens = 1500;
  static override keywords = CODE_REVIEWER_KEYWORDS;
  static override temperature = 0.3;

  protected override toolsCanWork(job: Job): ConfidenceBoost | undefined {
    const blocks = blocksForBidding(job);
    const code = blocks.filter((b) => !DATA_LANGUAGES.has(b.language));
    if (code.length > 0) {
      return {
        confidence: 0.1,
        reason: `its tools can check ${code.length} code block(s) in the job`,
      };
    }
    const files = listedAttachments(job.attachments).filter((f) => CODE_FILE.test(f.filename));
    if (files.length > 0) return { confidence: 0.1, reason: "the job attaches source files" };
    return undefined;
  }

  override async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    const started = performance.now();
    const inputs = await this.gatherInputs(job, ctx);
    // Every block is scanned for secrets; the tools pick what to lint and SQL-check.
    const code = inputs.blocks;
    const { value: result, error } = await this.toolFindings("codeReview", code, job, ctx);
    const secrets = result?.secrets ?? [];
    const mask = (text: string) => maskSecrets(text, secrets, maskSecret);
    // The LLM sees the job with its secrets masked, so it cannot repeat them.
    const masked: Job = { ...job, description: mask(job.description ?? "") };
    const found = (result?.files.length ?? 0) > 0;
    const prompt = found
      ? this.groundedPrompt(masked, codeFacts(result!, mask(numberedCode(code))), REVIEW)
      : this.buildTaskPrompt(masked);
    let llm: LlmPart = await this.consultLlm(masked, ctx, prompt);
    if (llm.kind === "failed" && !found) return llm.result;
    const notes = [...inputs.notes];
    if (llm.kind === "ok") {
      const checked = result
        ? checkCitedLines(mask(llm.text), result.files)
        : { text: mask(llm.text), invalid: [] };
      if (checked.invalid.length > 0) {
        notes.push(
          `The language model cited ${checked.invalid.length} line(s) that do not exist in the reviewed code (${checked.invalid.join(", ")}); they are struck through above.`,
        );
      }
      llm = { ...llm, text: checked.text };
    }
    const report = codeReport(job, result, error, notes, llm.kind === "ok" ? llm.text : null);
    return this.delivered(mask(report), llm, started);
  }
}
