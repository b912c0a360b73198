import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { marginCheck } from "../../../src/cli/doctor/checks/margin.ts";
import type { DoctorState } from "../../../src/cli/doctor/types.ts";
import { loadConfig } from "../../../src/config/env.ts";
import { performanceOf } from "../../../src/runner/telemetry/earnings.ts";
import type { JobOutcome } from "../../../src/state/outcomes.ts";
import { closedPort } from "../cli.ts";

const HOUR = 3_600_000;

/** An outcome settled `hoursAgo` before now. */
const job = (jobId: string, hoursAgo: number, cost: number, paid?: number): JobOutcome => ({
  agentId: "a1",
  jobId,
  result: "won",
  llmCostUsd: cost,
  ...(paid !== undefined ? { paidUsd: paid } : {}),
  updatedAt: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
});

describe("doctor's margin check", () => {
  const servers: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  /** A runner whose /api/status shows these agents' figures, computed as the runner does. */
  async function runnerShowing(agents: Array<{ name: string; outcomes?: JobOutcome[] }>) {
    const app = Fastify();
    servers.push(app);
    app.get("/api/status", async () => ({
      agents: agents.map((a) => ({
        name: a.name,
        agentId: a.outcomes ? "a1" : null,
        state: "running",
        ...(a.outcomes ? { performance: performanceOf(a.outcomes, Date.now()) } : {}),
      })),
    }));
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    return `http://127.0.0.1:${address.port}`;
  }

  const state = (runnerUrl: string) =>
    ({
      ctx: { config: () => loadConfig({}), fromDotEnv: [], out: () => undefined },
      config: loadConfig({ RUNNER_URL: runnerUrl }),
      pool: undefined as never,
    }) as unknown as DoctorState;

  it("warns about an agent whose last day cost more than it was paid", async () => {
    const url = await runnerShowing([
      // Paid well yesterday, nothing today but LLM spend.
      {
        name: "Loser",
        outcomes: [job("j0", 30, 0.001, 0.2), job("j1", 5, 0.03, 0), job("j2", 2, 0.02)],
      },
      { name: "Earner", outcomes: [job("k0", 30, 0.001, 0.05), job("k1", 3, 0.01, 0.05)] },
      { name: "Fresh" },
    ]);
    const [line, ...rest] = await marginCheck.run(state(url));
    expect(rest).toEqual([]);
    expect(line).toEqual({
      name: "margin",
      level: "warn",
      message: expect.stringContaining(
        "1 agent(s) lost money over the last day — Loser: margin $-0.0500 over the last 24 h (paid $0.0000, LLM cost $0.0500, 2 job(s))",
      ),
    });
    expect(line?.message).not.toContain("Earner");
  });

  it("is ok when every agent earns, or is too new to tell, and says how many have figures", async () => {
    const url = await runnerShowing([
      { name: "Earner", outcomes: [job("k0", 30, 0.001, 0.05), job("k1", 3, 0.01, 0.05)] },
      // Its first job awaits its sign-off: a cost, no payment yet, no full day on record.
      { name: "Newcomer", outcomes: [job("n1", 1, 0.02)] },
      { name: "Fresh" },
    ]);
    expect(await marginCheck.run(state(url))).toEqual([
      {
        name: "margin",
        level: "ok",
        message: `no agent of the runner at ${url} lost money over the last day (2 with earnings on record, 1 without figures yet)`,
      },
    ]);
  });

  it("no runner running is fine, with a note", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    expect(await marginCheck.run(state(url))).toEqual([
      {
        name: "margin",
        level: "ok",
        message: `no runner answers at ${url} (RUNNER_URL): no margins to check`,
      },
    ]);
  });
});
