import type { Job } from "../../marketplace/schemas.ts";
import type { ConfidenceBoost } from "../keyword-evaluator.ts";
import { type LlmPart, ToolAgentExecutor } from "../tool-agent.ts";
import { type CodeReviewResult, checkCitedLines } from "../tools/code-findings.ts";
import { blocksForBidding, listedAttachments } from "../tools/inputs.ts";
import type { ExecutorContext, TaskResult } from "../types.ts";
import {
  type CredentialHit,
  credentialFindings,
  findCredentials,
  maskCredential,
} from "./credentials.ts";
import { CODE_REVIEWER_KEYWORDS } from "./keywords.ts";
import { CODE_REVIEWER_PROMPT } from "./prompt.ts";
import { codeFacts, codeReport, maskSecrets, numberedCode } from "./report.ts";

const DATA_LANGUAGES = new Set(["csv", "tsv", "numbers", "log", "jsonl", "markdown"]);
const CODE_FILE = /\.(js|mjs|cjs|jsx|ts|tsx|py|java|go|rb|php|cs|c|h|cpp|rs|kt|swift|sql|sh)$/i;

/** Hard-coded credentials listed per review; more are counted in a note (each is masked apart, so they are bounded). */
const MAX_CREDENTIALS = 50;

const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 } as const;

/**
 * Adds the hard-coded credential rule's findings to the tools' (in place): those that
 * secretlint did not already report at the same line, every value to be masked (short
 * ones by their quoted literal, so that no common word is masked in all the text).
 */
export function addCredentialFindings(
  result: CodeReviewResult,
  hits: readonly CredentialHit[],
): void {
  const reported = new Set(
    result.findings.filter((f) => f.tool === "secretlint").map((f) => `${f.file}:${f.line}`),
  );
  const fresh = hits.filter((h) => !reported.has(`${h.file}:${h.line}`));
  const listed = fresh.slice(0, MAX_CREDENTIALS);
  for (const hit of listed) result.secrets.push(hit.value.length >= 8 ? hit.value : hit.literal);
  result.findings.push(...credentialFindings(listed));
  result.findings.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity],
  );
  if (fresh.length > listed.length) {
    result.notes.push(
      `${fresh.length - listed.length} more hard-coded credentials were found and are not listed (only the first ${MAX_CREDENTIALS} are).`,
    );
  }
}

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
    // Most jobs hold no data and attach nothing: nothing for the tools, nothing to build.
    if (blocks.length === 0 && job.attachments.length === 0) return undefined;
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
    if (result)
      addCredentialFindings(
        result,
        code.flatMap((block) => findCredentials(block)),
      );
    const secrets = result?.secrets ?? [];
    const mask = (text: string) => maskSecrets(text, secrets, maskCredential);
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
