import { describe, expect, it } from "vitest";
import type { ExecutorContext } from "../../../src/agents/types.ts";
import { silentLogger } from "../../../src/logger.ts";
import {
  executeWonJob,
  executionLimitMs,
  MAX_EXECUTIONS,
} from "../../../src/runner/delivery/job-execution.ts";
import type { Outbox } from "../../../src/runner/delivery/outbox.ts";
import { registerSecret } from "../../../src/secrets.ts";
import { createMemoryLedger } from "../../../src/state/memory-ledger.ts";
import type { LedgerEntry } from "../../../src/state/types.ts";
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
  const ledger = createMemoryLedger();
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
