import type { Job } from "../../marketplace/schemas.ts";
import type { ConfidenceBoost } from "../keyword-evaluator.ts";
import { type LlmPart, ToolAgentExecutor } from "../tool-agent.ts";
import { blocksForBidding, extractFromText, listedAttachments } from "../tools/inputs.ts";
import { fence } from "../tools/markdown.ts";
import { type ArtefactCheck, artefactKindOf, sampleSets } from "../tools/schema-samples.ts";
import type { ExecutorContext, TaskResult } from "../types.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "./keywords.ts";
import { SCHEMA_ARCHITECT_PROMPT } from "./prompt.ts";
import { schemaFacts, schemaReport, type ValidationRow } from "./report.ts";

const SCHEMA_FILE = /\.(json|jsonl|ndjson|csv|tsv|ya?ml|sql|graphql|gql)$/i;

const DESIGN =
  "Produce the deliverable as your instructions describe. Where the facts include an inferred JSON Schema, keep its field names and types. Every specification goes in one fenced block tagged with its language (yaml or json for OpenAPI, graphql for SDL, sql for DDL, json for JSON Schema): each is validated with a real parser afterwards.";

/** `schema_architect`: schemas inferred from samples and every specification validated; one repair round. */
export class SchemaArchitectExecutor extends ToolAgentExecutor {
  static override systemPrompt = SCHEMA_ARCHITECT_PROMPT;
  static override expectedOutputTokens = 2000;
  static override keywords = SCHEMA_ARCHITECT_KEYWORDS;
  static override temperature = 0.4;

  protected override toolsCanWork(job: Job): ConfidenceBoost | undefined {
    const blocks = blocksForBidding(job);
    // Most jobs hold no data and attach nothing: nothing for the tools, nothing to build.
    if (blocks.length === 0 && job.attachments.length === 0) return undefined;
    const samples = sampleSets(blocks).length;
    const specs = blocks.filter((b) => artefactKindOf(b) !== undefined).length;
    if (samples + specs > 0) {
      return {
        confidence: 0.1,
        reason: `its tools read ${samples} sample set(s) and ${specs} specification(s) in the job`,
      };
    }
    const files = listedAttachments(job.attachments).filter((f) => SCHEMA_FILE.test(f.filename));
    if (files.length > 0)
      return { confidence: 0.05, reason: "the job attaches data or specification files" };
    return undefined;
  }

  /** Validates the specifications in an LLM answer with their parsers (in a worker). */
  async #checkDesign(text: string, ctx: ExecutorContext): Promise<ArtefactCheck[] | string> {
    const blocks = extractFromText(text).blocks.map((b, i) => ({
      ...b,
      name: b.name.replace(/^block-\d+/, `design-${i + 1}`),
    }));
    const outcome = await this.runTool("checkArtefacts", { blocks }, ctx);
    return outcome.ok ? outcome.value : outcome.error;
  }

  override async executeTask(job: Job, ctx: ExecutorContext): Promise<TaskResult> {
    const started = performance.now();
    const inputs = await this.gatherInputs(job, ctx);
    const notes = [...inputs.notes];
    const { value, error } = await this.toolFindings("schemas", inputs.blocks, job, ctx);
    if (error) notes.push(`The schema tools could not run: ${error}.`);
    const inferred = value?.inferred ?? [];
    const rows: ValidationRow[] = (value?.checks ?? []).map((check) => ({
      check,
      origin: "the request",
    }));
    const found = inferred.length + rows.length > 0;
    const prompt = found
      ? this.groundedPrompt(
          job,
          schemaFacts(
            inferred,
            rows.map((r) => r.check),
          ),
          DESIGN,
        )
      : this.buildTaskPrompt(job);
    const llm: LlmPart = await this.consultLlm(job, ctx, prompt);
    if (llm.kind === "failed" && !found) return llm.result;

    let design: string | null = null;
    let extraTokens = 0;
    if (llm.kind === "ok") {
      design = llm.text;
      let checks = await this.#checkDesign(design, ctx);
      let origin = "the design";
      if (typeof checks === "string") {
        notes.push(`The design's specifications could not be validated: ${checks}.`);
        checks = [];
      }
      const failing = checks.filter((c) => !c.ok);
      if (failing.length > 0) {
        const repair = await this.consultLlm(job, ctx, repairPrompt(prompt, design, failing));
        if (repair.kind === "ok") {
          extraTokens = repair.tokensUsed;
          const again = await this.#checkDesign(repair.text, ctx);
          const passed = (list: ArtefactCheck[]) => list.filter((c) => c.ok).length;
          if (typeof again !== "string" && again.length > 0 && passed(again) >= passed(checks)) {
            design = repair.text;
            checks = again;
            origin = "the design (after one repair round)";
            const still = again.filter((c) => !c.ok).length;
            if (still > 0) {
              notes.push(
                `After one repair round ${still} specification(s) still fail validation; their errors are in the table above.`,
              );
            }
          } else {
            notes.push(
              "The repair round did not improve the specifications; the first design is kept, with its errors above.",
            );
          }
        } else {
          const why = repair.kind === "failed" ? (repair.result.error ?? "failed") : repair.reason;
          notes.push(`The repair round could not run (${why}); the errors are in the table above.`);
        }
      }
      rows.push(...checks.map((check) => ({ check, origin })));
    }
    return this.delivered(
      schemaReport(job, design, rows, inferred, notes),
      llm,
      started,
      extraTokens,
    );
  }
}

function repairPrompt(prompt: string, design: string, failing: readonly ArtefactCheck[]): string {
  const errors = failing
    .map((c) => `- ${c.name} (${c.kind}, ${c.validator}): ${c.errors.join("; ")}`)
    .join("\n");
  return [
    prompt,
    "",
    "Your previous answer is below. Validating its specifications with real parsers failed:",
    errors,
    "",
    "Previous answer:",
    fence("markdown", design),
    "",
    "Return the complete corrected deliverable (all sections, every specification in full, in fenced blocks tagged with their language), fixing exactly these errors.",
  ].join("\n");
}
