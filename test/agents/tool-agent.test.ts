import { afterEach, describe, expect, it } from "vitest";
import { NO_LLM_LINE } from "../../src/agents/tools/markdown.ts";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { createSharedPool } from "../../src/pool.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { type ChatRequestBody, messageText } from "../support/llm-server.ts";
import {
  type ApiJob,
  award,
  runningAgents,
  waitForBid,
  waitForResult,
} from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import {
  ANOMALY_FIXTURES,
  BROKEN_DDL,
  BROKEN_OPENAPI,
  CODE_FIXTURES,
  FIXED_OPENAPI,
  SCHEMA_FIXTURES,
} from "./tools/fixtures.ts";

/**
 * The three built-in agents through the whole runner: a customer posts a job (with its
 * data in the description or attached), the agent bids, wins, runs its tools in a worker
 * thread and submits the deliverable to the embedded marketplace. With the test LLM
 * server, and without any LLM key.
 */

type Agent = "AnomalyHunter" | "CodeReviewer" | "SchemaArchitect";

const CAPABILITY: Record<Agent, string> = {
  AnomalyHunter: "anomaly_detection",
  CodeReviewer: "code_review",
  SchemaArchitect: "schema_design",
};

const userText = (request: ChatRequestBody) =>
  request.messages
    .filter((m) => m.role === "user")
    .map(messageText)
    .join("\n");
const systemText = (request: ChatRequestBody) =>
  request.messages
    .filter((m) => m.role === "system")
    .map(messageText)
    .join("\n");

/** The LLM's side: answers each agent the way a model would, with planted mistakes. */
function responder(request: ChatRequestBody): string {
  const system = systemText(request);
  const prompt = userText(request);
  if (system.includes("You are AnomalyHunter")) {
    return "## Likely causes\n1. A deployment around the flagged hours (the spikes are isolated).\n## Recommendations\n- Alert outside the expected range.";
  }
  if (system.includes("You are CodeReviewer")) {
    return [
      "## Assessment",
      "Unsafe: block-1.js:7 evaluates user input.",
      "## Explanation of the findings",
      `- Rotate the key ${prompt.includes("AKIAZ3MSJV4WWXYZ1234") ? "AKIAZ3MSJV4WWXYZ1234" : "(masked)"} at line 3.`,
      "## Further issues",
      "- The handler on line 57 leaks memory.",
    ].join("\n");
  }
  if (system.includes("You are SchemaArchitect")) {
    if (prompt.includes("DDL please")) return `## Specification\n\`\`\`sql\n${BROKEN_DDL}\n\`\`\``;
    const repair = prompt.includes("Validating its specifications with real parsers failed");
    return `## Summary\nA bookings API.\n\n## Specification\n\`\`\`yaml\n${repair ? FIXED_OPENAPI : BROKEN_OPENAPI}\`\`\``;
  }
  return "unexpected";
}

describe("tool agents through the whole runner", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  async function runJob(
    runner: Runner,
    agent: Agent,
    job: { title: string; description: string },
    files: { filename: string; text: string }[] = [],
  ): Promise<ApiJob> {
    const ids = await runningAgents(runner, 3);
    const jobId = await postJob(h.marketplace.url, {
      ...job,
      budget_usd: 1,
      required_capabilities: [CAPABILITY[agent]],
    });
    if (files.length > 0) {
      const pool = createSharedPool({ connections: 1 });
      const client = new MarketplaceClient({ baseUrl: h.marketplace.url, dispatcher: pool });
      for (const file of files) {
        await client.uploadJobFile(jobId, {
          filename: file.filename,
          content: new TextEncoder().encode(file.text),
          uploadedBy: "customer",
        });
      }
      await pool.close();
    }
    const bid = await waitForBid(h.marketplace.url, jobId, ids[agent]);
    await award(h.marketplace.url, jobId, bid.bid_id);
    return waitForResult(h.marketplace.url, jobId, 60_000);
  }

  it("with the test LLM: grounded explanations, checked citations, masked secrets, one repair round", async () => {
    h = await startHarness();
    h.llm.setResponder(responder);
    const runner = await h.startRunner();

    // AnomalyHunter: the data comes as an attached CSV; the LLM explains the table.
    const spikes = ANOMALY_FIXTURES[0]!;
    const csv = /```csv\n([\s\S]*?)```/.exec(spikes.description)![1]!;
    const anomaly = await runJob(
      runner,
      "AnomalyHunter",
      {
        title: spikes.title,
        description: "Hourly p50 latency attached (latency.csv). What is anomalous?",
      },
      [{ filename: "latency.csv", text: csv }],
    );
    expect(anomaly.status).toBe("completed");
    const report = anomaly.result!.output;
    expect(report).toMatch(/^# Anomaly report: /);
    expect(report).toMatch(
      /\| # \| series \| time \/ index \| value \| expected range \| score \| severity \| kind \| method \|/,
    );
    for (const at of spikes.planted)
      expect(report).toContain(`| latency_ms in latency.csv | ${at} |`);
    expect(report).toContain(
      "## Likely causes and recommendations (language model, from the facts above)",
    );
    expect(report).toContain("A deployment around the flagged hours");
    const asked = h.llm
      .completionRequests()
      .find((r) => r.rawBody.includes("You are AnomalyHunter"))!;
    expect(userText(asked.body!)).toContain("<tool_findings>");
    expect(userText(asked.body!)).toContain(spikes.planted[0]);

    // CodeReviewer: findings at their lines; the invented line is struck; the key never leaves.
    const express = CODE_FIXTURES[0]!;
    const review = await runJob(runner, "CodeReviewer", express);
    const output = review.result!.output;
    expect(review.status).toBe("completed");
    expect(output).toMatch(/\| \d+ \| block-1\.js \| 7 \| no-eval \| high \|/);
    expect(output).toMatch(
      /\| \d+ \| block-1\.js \| 12 \| sql-injection\/string-built-query \| high \|/,
    );
    expect(output).toMatch(
      /\| \d+ \| block-1\.js \| 3 \| secret\/aws \| high \| Hard-coded AWS access key ID: AKIA… \(20 characters\)/,
    );
    expect(output).toContain("block-1.js:7 evaluates user input");
    expect(output).toContain("~~line 57~~ [no such line in the reviewed code]");
    expect(output).not.toContain("AKIAZ3MSJV4WWXYZ1234");
    const reviewAsked = h.llm
      .completionRequests()
      .find((r) => r.rawBody.includes("You are CodeReviewer"))!;
    expect(reviewAsked.rawBody).not.toContain("AKIAZ3MSJV4WWXYZ1234");

    // SchemaArchitect: the broken OpenAPI is sent back once and comes back repaired.
    const design = await runJob(runner, "SchemaArchitect", SCHEMA_FIXTURES[0]!);
    const designed = design.result!.output;
    expect(design.status).toBe("completed");
    expect(designed).toContain("BookingPage:");
    expect(designed).toMatch(
      /\| design-1\.yaml \| the design \(after one repair round\) \| openapi \| @readme\/openapi-parser \(OpenAPI 3\.1\.0\) \| passed \|/,
    );
    expect(designed).toMatch(
      /\| block-1\.json → JSON Schema \| inferred from the samples \| json-schema \| ajv \(draft 2020-12\) \| passed \| all 2 samples validate \|/,
    );
    expect(designed).toContain("## Inferred JSON Schema");
    const repairs = h.llm
      .completionRequests()
      .filter((r) => r.rawBody.includes("Validating its specifications with real parsers failed"));
    expect(repairs).toHaveLength(1);
    expect(repairs[0]!.rawBody).toContain("BookingPage");

    // A DDL the LLM cannot fix is reported, not hidden.
    const ddl = await runJob(runner, "SchemaArchitect", {
      title: "PostgreSQL database schema for bookings",
      description: "DDL please, for bookings with a start time.",
    });
    expect(ddl.status).toBe("completed");
    expect(ddl.result!.output).toMatch(
      /\| design-1\.sql \| the design \(after one repair round\) \| sql \| node-sql-parser \(PostgreSQL\) \| FAILED \| PostgreSQL: line 3/,
    );
    expect(ddl.result!.output).toContain("0 of 1 validation passed.");
    expect(ddl.result!.output).toContain(
      "After one repair round 1 specification(s) still fail validation",
    );
  }, 180_000); // four jobs, one after the other, each starting worker threads

  it("without an LLM key: each agent's tools alone make a completed deliverable, said on its first line", async () => {
    h = await startHarness({ llmKey: false });
    const runner = await h.startRunner();

    const shift = ANOMALY_FIXTURES[1]!;
    const anomaly = await runJob(runner, "AnomalyHunter", shift);
    expect(anomaly.status).toBe("completed");
    expect(anomaly.result!.output.split("\n")[0]).toBe(NO_LLM_LINE);
    expect(anomaly.result!.output).toMatch(
      new RegExp(
        `\\| ${shift.planted[0]} \\| [\\d.]+ \\| [\\d.]+ … [\\d.]+ \\| [\\d.]+ \\| \\w+ \\| level shift \\|`,
      ),
    );
    expect(anomaly.result!.output).toContain("## Method and parameters");

    const flask = CODE_FIXTURES[2]!;
    const review = await runJob(runner, "CodeReviewer", flask);
    expect(review.status).toBe("completed");
    expect(review.result!.output.split("\n")[0]).toBe(NO_LLM_LINE);
    for (const planted of flask.planted) {
      expect(review.result!.output).toMatch(
        new RegExp(
          `\\| block-1\\.py \\| ${planted.line} \\| ${planted.rule.source.replace(/^\^|\$$/g, "")}`,
        ),
      );
    }
    expect(review.result!.output).not.toContain(flask.secrets![0]);

    const users = SCHEMA_FIXTURES[1]!;
    const schema = await runJob(runner, "SchemaArchitect", users);
    expect(schema.status).toBe("completed");
    const out = schema.result!.output;
    expect(out.split("\n")[0]).toBe(NO_LLM_LINE);
    expect(out).toContain(
      '```json\n{\n  "$schema": "https://json-schema.org/draft/2020-12/schema"',
    );
    expect(out).toContain('"format": "email"');
    expect(out).toContain("```sql\nCREATE TABLE");
    expect(out).toContain("2 of 2 validations passed.");
    expect(schema.result!.model).toBe("deterministic-tools");
    expect(h.llm.requests).toHaveLength(0);
  }, 120_000); // three jobs, one after the other
});
