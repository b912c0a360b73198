import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anomalyReport } from "../../../src/agents/anomaly-hunter/report.ts";
import { codeReport } from "../../../src/agents/code-reviewer/report.ts";
import { readJobAsk } from "../../../src/agents/quality/job-text.ts";
import { section, tableRows } from "../../../src/agents/quality/kind-checks.ts";
import { predictQuality } from "../../../src/agents/quality/predict.ts";
import { schemaReport } from "../../../src/agents/schema-architect/report.ts";
import type { CodeReviewResult } from "../../../src/agents/tools/code-findings.ts";
import { NO_LLM_LINE } from "../../../src/agents/tools/markdown.ts";
import type { ArtefactCheck } from "../../../src/agents/tools/schema-samples.ts";
import { FACTOR, growthRatio, LIMIT } from "../../support/work/growth.ts";
import { makeJob } from "../helpers.ts";
import { CORPUS, PIECES } from "../tools/hostile-text.ts";

/**
 * The deterministic prediction: each agent kind's own checks read back from the
 * deliverables its report builders write, and the checks every deliverable gets (format
 * asked, requirements, data used, cited lines). Hostile job text and output never make
 * it throw, and its work grows linearly.
 */

const CODE = [
  "const express = require('express');",
  "const app = express();",
  "app.get('/run', (req, res) => {",
  "  const result = eval(req.query.expr);",
  "  res.send(String(result));",
  "});",
  "app.listen(3000);",
].join("\n");

const codeJob = makeJob({
  title: "Security review of an Express handler",
  description: `Review this handler for security problems and explain each fix.\n\`\`\`js\n${CODE}\n\`\`\``,
});

const review: CodeReviewResult = {
  files: [{ name: "block-1.js", language: "javascript", lines: 7, linted: true }],
  findings: [
    {
      file: "block-1.js",
      line: 4,
      column: 18,
      rule: "no-eval",
      severity: "high",
      message: "eval can be harmful.",
      fix: "Remove eval.",
      tool: "eslint",
    },
  ],
  secrets: [],
  notes: [],
};

const predict = (job: ReturnType<typeof makeJob>, output: string, type: string) =>
  predictQuality(job, { success: true, output }, type);
const check = (p: ReturnType<typeof predictQuality>, name: string) =>
  p.checks.find((c) => c.name === name);

describe("the code reviewer's deliverable", () => {
  it("scores a review that explains the high finding at its line above one that skips it", () => {
    const good = codeReport(
      codeJob,
      review,
      null,
      [],
      "## Assessment\nblock-1.js:4 evaluates the request's `expr`: remote code execution. Replace eval with a parser of the allowed expressions; the express handler then sends the result.",
    );
    const vague = codeReport(codeJob, review, null, [], "## Assessment\nLooks mostly fine.");
    const pGood = predict(codeJob, good, "code_reviewer");
    const pVague = predict(codeJob, vague, "code_reviewer");
    expect(check(pGood, "findings-covered")?.score).toBe(1);
    expect(check(pVague, "findings-covered")?.score).toBe(0);
    expect(pGood.predicted).toBeGreaterThan(pVague.predicted);
    expect(pVague.reasons.join("\n")).toMatch(/findings-covered 0.00: .*block-1\.js:4 \(no-eval\)/);
  });

  it("counts cited lines that do not exist in the job's code against it", () => {
    const wrong = codeReport(
      codeJob,
      review,
      null,
      [],
      "## Assessment\nLine 4 uses eval; line 42 leaks memory.",
    );
    expect(check(predict(codeJob, wrong, "code_reviewer"), "cited-lines")).toMatchObject({
      score: 0.5,
      reason: "1 of 2 cited line(s) do not exist in the job's input",
    });
  });

  it("says when no code was found, and when no LLM wrote a part", () => {
    const none = codeReport(makeJob({ title: "Review my app" }), null, null, [], null);
    expect(check(predict(codeJob, none, "code_reviewer"), "input-found")?.score).toBe(0.3);
    const toolsOnly = `${NO_LLM_LINE}\n\n${codeReport(codeJob, review, null, [], null)}`;
    expect(check(predict(codeJob, toolsOnly, "code_reviewer"), "language-model")?.score).toBe(0.4);
  });
});

describe("the other agents' deliverables", () => {
  it("scores the schema architect by the validations that passed", () => {
    const check1 = (ok: boolean, name: string): ArtefactCheck =>
      ({
        name,
        kind: "openapi",
        validator: "swagger-parser",
        ok,
        errors: ok ? [] : ["bad"],
      }) as ArtefactCheck;
    const job = makeJob({
      title: "Design an OpenAPI spec",
      description: "Write an OpenAPI spec for a bookstore.",
    });
    const output = schemaReport(
      job,
      "openapi: 3.1.0\ninfo: {title: Books}",
      [check1(true, "design-1"), check1(false, "design-2"), check1(false, "design-3")].map((c) => ({
        check: c,
        origin: "the design",
      })),
      [],
      [],
    );
    expect(check(predict(job, output, "schema_architect"), "validations")).toMatchObject({
      score: 1 / 3,
      reason: "1 of 3 validations passed",
    });
  });

  it("scores the anomaly hunter with no series as input not found", () => {
    const job = makeJob({ title: "Find anomalies in my metrics" });
    const output = anomalyReport(job, null, null, [], "Send me the data.");
    expect(check(predict(job, output, "anomaly_hunter"), "input-found")?.score).toBe(0.3);
  });

  it("gives an agent type without checks of its own the common checks only", () => {
    const p = predict(codeJob, "x".repeat(700), "__proto__");
    expect(p.checks.map((c) => c.name)).not.toContain("findings-covered");
  });
});

describe("the checks every deliverable gets", () => {
  const jsonJob = makeJob({
    title: "Extract the invoice fields",
    description: [
      "Return the result as JSON.",
      "- Include the invoice number and the total amount",
      "- List every line item with its quantity",
      "```csv\ninvoice_number,customer,total\nINV-20931,Globex Corporation,1249.50\n```",
    ].join("\n"),
  });

  it("reads the requirements and the formats from the prose, not from the data blocks", () => {
    const ask = readJobAsk(jsonJob);
    expect(ask.formats).toEqual(["json"]);
    expect(ask.requirements.map((r) => r.text)).toEqual([
      "Return the result as JSON.",
      "Include the invoice number and the total amount",
      "List every line item with its quantity",
    ]);
    // The CSV block's names are data, not requirements.
    expect(ask.requirements[1]?.keyWords).toEqual(["invoice", "number", "total", "amount"]);
  });

  it("scores a deliverable in the asked format that uses the data above one that does neither", () => {
    const good = [
      "Here is the invoice as requested, with every line item and its quantity.",
      "```json",
      '{"invoice_number": "INV-20931", "customer": "Globex Corporation", "total": 1249.50, "line_items": [{"item": "widgets", "quantity": 3}]}',
      "```",
      "The total amount matches the invoice number's record.",
    ].join("\n");
    const bad =
      "I have looked at the data. The invoice seems to be in order and nothing is wrong with it. ".repeat(
        3,
      );
    const pGood = predict(jsonJob, good, "keyword_agent");
    const pBad = predict(jsonJob, bad, "keyword_agent");
    expect(check(pGood, "format")?.score).toBe(1);
    expect(check(pBad, "format")?.score).toBe(0);
    expect(check(pGood, "data-used")!.score).toBeGreaterThan(check(pBad, "data-used")!.score);
    expect(pGood.predicted).toBeGreaterThan(pBad.predicted);
  });

  it("caps a refusal and predicts 0 for a failure report", () => {
    expect(
      predict(jsonJob, `I'm sorry, but I cannot help with that. ${"x ".repeat(400)}`, "t")
        .predicted,
    ).toBeLessThanOrEqual(0.1);
    expect(
      predictQuality(jsonJob, { success: false, output: "The executor failed" }, "t").predicted,
    ).toBe(0);
  });

  it("reads sections and table rows with escaped pipes", () => {
    const text = "# T\n\n## Findings\n\n| a | b |\n| --- | --- |\n| x \\| y | 2 |\n\n## Next\n";
    expect(tableRows(section(text, "Findings"))).toEqual([["x \\| y", "2"]]);
  });
});

describe("the prediction on hostile text", () => {
  it("never throws, whatever the job's text and the deliverable (fast-check)", () => {
    const text = fc.string({
      unit: fc.constantFrom(...PIECES, "## Findings\n", "| high |", "line 9", "json"),
      maxLength: 300,
    });
    fc.assert(
      fc.property(
        text,
        text,
        fc.constantFrom("code_reviewer", "anomaly_hunter", "schema_architect", "x"),
        (description, output, type) => {
          const p = predictQuality(
            makeJob({ title: "t", description }),
            { success: true, output },
            type,
          );
          expect(p.predicted).toBeGreaterThanOrEqual(0);
          expect(p.predicted).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each(Object.entries(CORPUS).filter((_, i) => i % 3 === 0))(
    "grows linearly on %s",
    (_name, unit) => {
      const run = (n: number) => {
        const text = unit.repeat(n);
        const job = makeJob({ title: "t", description: text });
        return () => predictQuality(job, { success: true, output: text }, "code_reviewer");
      };
      const small = Math.ceil(400 / unit.length);
      const f = (g: () => unknown) => g();
      expect(growthRatio(f, run(small), run(small * FACTOR))).toBeLessThan(LIMIT);
    },
  );
});
