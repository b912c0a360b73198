import { describe, expect, it } from "vitest";
import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { builtinAgentConfigs, registerBuiltinExecutors } from "../../src/agents/builtin.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { compileKeywords } from "../../src/agents/keyword-evaluator.ts";
import { createExecutor, getExecutorClass, hasExecutor } from "../../src/agents/registry.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";
import { AgentConfigSchema } from "../../src/agents/types.ts";

const TABLES = {
  schema_architect: SCHEMA_ARCHITECT_KEYWORDS,
  anomaly_hunter: ANOMALY_HUNTER_KEYWORDS,
  code_reviewer: CODE_REVIEWER_KEYWORDS,
};

describe("built-in keyword tables", () => {
  for (const [type, table] of Object.entries(TABLES)) {
    it(`${type}: at least 40 distinct keywords, weights in [0, 1]`, () => {
      const entries = Object.entries(table);
      expect(entries.length).toBeGreaterThanOrEqual(40);
      for (const [keyword, weight] of entries) {
        expect({ keyword, weight, ok: weight >= 0 && weight <= 1 }).toEqual({
          keyword,
          weight,
          ok: true,
        });
      }
      // no two entries collapse to one keyword under the matching rules
      expect(compileKeywords(table).keywords).toHaveLength(entries.length);
    });
  }
});

describe("built-in agents", () => {
  it("registers the three executors, idempotently", () => {
    registerBuiltinExecutors();
    const first = getExecutorClass("schema_architect");
    registerBuiltinExecutors();
    expect(getExecutorClass("schema_architect")).toBe(first);
    for (const type of Object.keys(TABLES)) expect(hasExecutor(type)).toBe(true);
  });

  it("has real system prompts", () => {
    registerBuiltinExecutors();
    for (const type of Object.keys(TABLES)) {
      expect(getExecutorClass(type)?.systemPrompt.length).toBeGreaterThan(1500);
    }
  });

  it("yields the three default configs with the seed's rates and capabilities", () => {
    const configs = builtinAgentConfigs();
    const byType = Object.fromEntries(configs.map((c) => [c.agent_type, c]));
    expect(Object.keys(byType).sort()).toEqual([
      "anomaly_hunter",
      "code_reviewer",
      "schema_architect",
    ]);
    expect(byType.schema_architect).toMatchObject({
      name: "SchemaArchitect",
      base_rate_usd: 0.04,
      capabilities: { schema_design: 0.96, code_review: 0.88, data_extraction: 0.85 },
    });
    expect(byType.anomaly_hunter).toMatchObject({
      name: "AnomalyHunter",
      base_rate_usd: 0.05,
      capabilities: {
        anomaly_detection: 0.95,
        pattern_recognition: 0.92,
        data_extraction: 0.88,
        classification: 0.85,
      },
    });
    expect(byType.code_reviewer).toMatchObject({
      name: "CodeReviewer",
      base_rate_usd: 0.03,
      capabilities: { code_review: 0.94, security_analysis: 0.9, code_generation: 0.85 },
    });
    for (const config of configs) {
      expect(config).toMatchObject({ managed: true, status: "available", max_concurrent_jobs: 2 });
      expect(config.description?.length).toBeGreaterThan(100);
      expect(AgentConfigSchema.parse(config)).toEqual(config);
    }
  });

  it("returns deep copies", () => {
    const [first] = builtinAgentConfigs();
    first!.capabilities.schema_design = 0.1;
    first!.name = "Changed";
    const [again] = builtinAgentConfigs();
    expect(again).toMatchObject({ name: "SchemaArchitect", capabilities: { schema_design: 0.96 } });
  });

  it("creates an executor from each default config", () => {
    registerBuiltinExecutors();
    for (const config of builtinAgentConfigs()) {
      expect(createExecutor(config)).toBeInstanceOf(getExecutorClass(config.agent_type)!);
    }
  });
});
