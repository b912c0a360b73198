import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDENDUM_HEADING } from "../../../src/agents/quality/repair.ts";
import type { ExecutorContext } from "../../../src/agents/types.ts";
import { createLlmClient } from "../../../src/llm/client.ts";
import { silentLogger } from "../../../src/logger.ts";
import { createSharedPool } from "../../../src/pool.ts";
import {
  executeWonJob,
  executionLimitMs,
  MAX_EXECUTIONS,
} from "../../../src/runner/delivery/job-execution.ts";
import type { Outbox } from "../../../src/runner/delivery/outbox.ts";
import { registerSecret } from "../../../src/secrets.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { LedgerEntry } from "../../../src/state/types.ts";
import { startTestLlmServer, type TestLlmServer } from "../../support/llm-server.ts";
import { agentConfig, job, telemetryFixture } from "../../support/runner-units.ts";

const SECRET = "exec-unit-secret-7d1b3a9c55";

/** An outbox hand-off that keeps what it is handed (the real one needs a marketplace). */
function collectingOutbox(): { outbox: Pick<Outbox, "submit">; handed: LedgerEntry[] } {
  const handed: LedgerEntry[] = [];
  return {
    outbox: {
      submit: async (entry: LedgerEntry) => {
        handed.push(entry);
      },
    },
    handed,
  };
}

function deps(execute: () => Promise<unknown>, lifetime = new AbortController().signal) {
  const ledger = openSqliteLedger({ path: ":memory:" });
  const { outbox, handed } = collectingOutbox();
  const { telemetry } = telemetryFixture();
  return {
    ledger,
    handed,
    telemetry,
    run: (agentId: string, j = job()) =>
      executeWonJob(agentId, j, {
        ledger,
        outbox,
        telemetry,
        llmPrices: { m: 1_000_000 },
        lifetime,
        execute,
        context: (_j, signal) =>
          ({
            agent: agentConfig(),
            agentId,
            logger: silentLogger(),
            signal,
            defaultModel: "m",
          }) as unknown as ExecutorContext,
      }),
  };
}

describe("executeWonJob", () => {
  it("writes the result down, scrubbed, before handing it to the outbox", async () => {
    registerSecret(SECRET);
    const d = deps(async () => ({
      success: true,
      output: `the answer, not ${SECRET}`,
      tokensUsed: 3,
      model: "m",
      latencyMs: 1,
    }));
    await d.run("agent_e1");
    const entry = await d.ledger.get("agent_e1", "job_00000001");
    expect(entry?.result?.output).toBe("the answer, not [REDACTED]");
    expect(entry?.executionAttempts).toBe(1);
    expect(d.handed.map((e) => e.result?.output)).toEqual(["the answer, not [REDACTED]"]);
    expect(d.telemetry.stats.view).toMatchObject({ tokensUsed: 3, llmCostUsd: 3 });
  });

  it("turns a throwing executor into a failed result that is still submitted", async () => {
    const d = deps(async () => {
      throw new Error("boom");
    });
    await d.run("agent_e2");
    expect(d.handed[0]?.result).toMatchObject({
      success: false,
      output: "The executor failed: boom",
    });
  });

  it("leaves no result when the worker stops mid-execution, so a restart runs it again", async () => {
    const stop = new AbortController();
    const d = deps(() => new Promise(() => undefined), stop.signal);
    const running = d.run("agent_e3");
    setTimeout(() => stop.abort(new Error("shutdown")), 10);
    await running;
    expect((await d.ledger.get("agent_e3", "job_00000001"))?.result).toBeUndefined();
    expect(d.handed).toEqual([]);
  });

  it("fails a job whose executions were interrupted too often, without running it", async () => {
    let calls = 0;
    const d = deps(async () => {
      calls++;
      return { success: true, output: "x" };
    });
    for (let i = 0; i < MAX_EXECUTIONS; i++)
      await d.ledger.startExecution("agent_e4", "job_00000001");
    await d.run("agent_e4");
    expect(calls).toBe(0);
    expect(d.handed[0]?.result?.output).toMatch(/interrupted 2 times/);
  });

  it("gives a job its deadline, the marketplace's default when it has none", () => {
    expect(executionLimitMs(job({ deadline_minutes: 0.5 }))).toBe(30_000);
    expect(executionLimitMs(job({ deadline_minutes: 0 }))).toBe(600_000);
  });
});

describe("the quality gate before submission, with the test LLM server", () => {
  let server: TestLlmServer;
  const pool = createSharedPool({ connections: 2 });
  beforeAll(async () => {
    server = await startTestLlmServer();
  });
  afterAll(async () => {
    await server.close();
    await pool.close();
  });

  /** What the executor made: a review that says nothing the job asked about. */
  const WEAK = {
    success: true,
    output: "Looks fine to me.",
    tokensUsed: 1000,
    model: "m",
    latencyMs: 1,
  };
  const ADDENDUM = `${ADDENDUM_HEADING}\n\n${"The module builds SQL from request input (injection) and calls eval on unsafe strings; parameterise the query and remove eval. ".repeat(6)}`;

  function gated(budgetUsd: number) {
    server.reset();
    server.setResponder(() => ADDENDUM);
    const ledger = openSqliteLedger({ path: ":memory:" });
    const { outbox, handed } = collectingOutbox();
    const { telemetry } = telemetryFixture();
    const llm = createLlmClient({
      apiKey: server.apiKey,
      baseUrl: server.url,
      dispatcher: pool,
      maxAttempts: 1,
    });
    const run = () =>
      executeWonJob("agent_q1", job({ budget_usd: budgetUsd }), {
        ledger,
        outbox,
        telemetry,
        llmPrices: { m: 0.9 },
        lifetime: new AbortController().signal,
        execute: async () => WEAK,
        context: (_j, signal) => ({
          agent: agentConfig(),
          agentId: "agent_q1",
          llm,
          logger: silentLogger(),
          signal,
          defaultModel: "m",
        }),
        quality: {},
      });
    return { ledger, handed, run };
  }

  it("repairs a weak deliverable once when the payment covers it, and records the prediction", async () => {
    const g = gated(2);
    await g.run();
    expect(server.completionRequests()).toHaveLength(1);
    const output = g.handed[0]!.result!.output;
    expect(output.startsWith(WEAK.output)).toBe(true);
    expect(output).toContain(ADDENDUM_HEADING);
    const [outcome] = await g.ledger.outcomes("agent_q1");
    expect(outcome!.predictedQuality).toBeGreaterThanOrEqual(0.7);
    expect(outcome!.predictionReasons?.[0]).toMatch(
      /^repair \(predicted 0\.\d\d before delivery\)$/,
    );
    expect(outcome!.predictionReasons).toContain("after one repair round");
    // The executor's 1000 tokens and the repair's, at 0.9 USD per million.
    expect(outcome!.llmCostUsd).toBeGreaterThan(0.0009);
    expect(g.handed[0]!.result!.tokensUsed).toBeGreaterThan(1000);
  });

  it("sends it with an honest note and no repair when the payment would not cover one", async () => {
    const g = gated(0.0001);
    await g.run();
    expect(server.completionRequests()).toHaveLength(0);
    const output = g.handed[0]!.result!.output;
    expect(output).toMatch(
      /^Looks fine to me\.\n\n---\n\n_A note from the runner's check before delivery: this deliverable may fall short of the request \(predicted quality 0\.\d\d of 1\)/,
    );
    const [outcome] = await g.ledger.outcomes("agent_q1");
    expect(outcome).toMatchObject({ llmCostUsd: 0.0009 });
    expect(outcome!.predictedQuality).toBeLessThan(0.7);
    expect(outcome!.predictionReasons?.[0]).toMatch(/^submit-with-note/);
  });

  it("without the gate submits the result as it is, and still records its LLM cost", async () => {
    const d = deps(async () => WEAK);
    await d.run("agent_q2");
    expect(d.handed[0]!.result!.output).toBe(WEAK.output);
    const [outcome] = await d.ledger.outcomes("agent_q2");
    expect(outcome).toMatchObject({ jobId: "job_00000001", llmCostUsd: 1000 });
    expect(outcome!.predictedQuality).toBeUndefined();
  });
});
