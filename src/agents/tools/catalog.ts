import type { AnomalyParams, SeriesAnalysis } from "./anomaly.ts";
import type { CodeReviewResult } from "./code-review.ts";
import type { ArtefactCheck, InferredSchema } from "./schema.ts";
import type { InputBlock } from "./types.ts";

/**
 * The tools a worker thread can run, by name. Inputs and outputs are plain data
 * (structured-cloneable), since they cross the thread boundary. Each tool imports its
 * libraries when it runs, so a worker loads only what its tool needs (ESLint and the
 * OpenAPI parser take seconds to load; the statistics take milliseconds).
 */

const MAX_SERIES = 12;

export interface AnomalyToolResult {
  analyses: SeriesAnalysis[];
  params: AnomalyParams;
  notes: string[];
}

export interface SchemaToolResult {
  inferred: InferredSchema[];
  checks: ArtefactCheck[];
}

export const TOOLS = {
  async anomalies(input: {
    blocks: InputBlock[];
    params?: Partial<AnomalyParams>;
  }): Promise<AnomalyToolResult> {
    const { analyseSeries, DEFAULT_ANOMALY_PARAMS } = await import("./anomaly.ts");
    const { parseSeries } = await import("./series.ts");
    const params = { ...DEFAULT_ANOMALY_PARAMS, ...input.params };
    const { series, notes } = parseSeries(input.blocks);
    if (series.length > MAX_SERIES) {
      notes.push(`Analysed the first ${MAX_SERIES} of ${series.length} series.`);
    }
    const analyses = series.slice(0, MAX_SERIES).map((s) => analyseSeries(s, params));
    return { analyses, params, notes };
  },
  async codeReview(input: { blocks: InputBlock[] }): Promise<CodeReviewResult> {
    const { reviewCode } = await import("./code-review.ts");
    return reviewCode(input.blocks);
  },
  async schemas(input: { blocks: InputBlock[] }): Promise<SchemaToolResult> {
    const { checkArtefacts, inferSchemas, sampleSets } = await import("./schema.ts");
    return {
      inferred: inferSchemas(sampleSets(input.blocks)),
      checks: await checkArtefacts(input.blocks),
    };
  },
  async checkArtefacts(input: { blocks: InputBlock[] }): Promise<ArtefactCheck[]> {
    const { checkArtefacts } = await import("./schema.ts");
    return checkArtefacts(input.blocks);
  },
};

export type ToolName = keyof typeof TOOLS;
export type ToolInput<N extends ToolName> = Parameters<(typeof TOOLS)[N]>[0];
export type ToolOutput<N extends ToolName> = Awaited<ReturnType<(typeof TOOLS)[N]>>;
