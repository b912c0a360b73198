import { afterEach, describe, expect, it } from "vitest";
import type { ConfigSourceStatus } from "../../src/agent-configs/types.ts";
import { createHttpServer } from "../../src/http/server.ts";
import { silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { Supervisor } from "../../src/runner/fleet/supervisor.ts";
import { RunnerStatus } from "../../src/runner/status-source.ts";
import { DecisionLog } from "../../src/runner/telemetry/decision-log.ts";
import { EarningsBook, watchEarnings } from "../../src/runner/telemetry/earnings.ts";
import { AgentStats, StatusTracker } from "../../src/runner/telemetry/status-tracker.ts";
import type { AgentPerformance } from "../../src/runner/telemetry/status-types.ts";
import { openSqliteLedger } from "../../src/state/index.ts";
import type { Ledger } from "../../src/state/types.ts";

/** A gauge's value for one agent in the Prometheus text, or undefined when absent. */
function gauge(text: string, name: string, agent: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{agent="${agent}"} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

describe("an agent's earnings in /api/status and /metrics", () => {
  const ledgers: Ledger[] = [];
  afterEach(async () => {
    await Promise.all(ledgers.splice(0).map((l) => l.close()));
  });

  async function runner() {
    const ledger = openSqliteLedger({ path: ":memory:" });
    ledgers.push(ledger);
    const tracker = new StatusTracker();
    for (const [name, agentId] of [
      ["SchemaArchitect", "a1"],
      ["NewAgent", null],
    ] as const) {
      const stats = new AgentStats({
        key: `defaults:${name}`,
        name,
        agentType: "schema_architect",
        source: "defaults",
        model: "m",
        baseRateUsd: 0.04,
        maxConcurrentJobs: 2,
      });
      stats.view.agentId = agentId;
      tracker.add(stats);
    }
    const metrics = createMetrics({ processMetrics: false });
    const book = new EarningsBook({ outcomes: ledger, maxAgeMs: 0 });
    watchEarnings(metrics, book, () => ["a1", null]);
    const status = new RunnerStatus({
      config: { bazaarApiUrl: "http://market", llmBaseUrl: "http://llm", replicaId: "r1" },
      embedded: true,
      ledger,
      llm: { configured: true },
      source: {
        kind: "defaults",
        status: (): ConfigSourceStatus => ({ changeStream: "n/a", reload: null }),
      },
      supervisor: { issues: [], workers: [] } as unknown as Pick<Supervisor, "issues" | "workers">,
      tracker,
      decisions: new DecisionLog(),
      marketplace: { reachable: true, lastOkAt: null },
      stopping: new AbortController().signal,
      earnings: book,
    });
    const app = await createHttpServer({
      status,
      metrics,
      logger: silentLogger(),
      host: "127.0.0.1",
    });
    return { ledger, app };
  }

  it("shows the same figures in the status and the gauges, read from the ledger's outcomes", async () => {
    const { ledger, app } = await runner();
    try {
      await ledger.noteOutcome("a1", "j1", {
        priceUsd: 0.05,
        bidAt: new Date().toISOString(),
        result: "won",
        llmCostUsd: 0.012,
        predictedQuality: 0.8,
      });
      await ledger.noteOutcome("a1", "j1", { qualityScore: 0.7, paidUsd: 0.05 });
      await ledger.noteOutcome("a1", "j2", { bidAt: new Date().toISOString(), result: "lost" });
      await ledger.noteOutcome("a1", "j3", { bidAt: new Date().toISOString(), result: "lost" });

      const res = await app.inject({ method: "GET", url: "/api/status" });
      const agents = res.json().agents as Array<{ name: string; performance?: AgentPerformance }>;
      // Not registered yet: no figures to show.
      expect(agents.find((a) => a.name === "NewAgent")?.performance).toBeUndefined();
      const p = agents.find((a) => a.name === "SchemaArchitect")?.performance;
      expect(p?.bids).toEqual({ won: 1, lost: 2, pending: 0, winRate: 0.3333 });
      expect(p?.money).toEqual({ jobs: 1, llmCostUsd: 0.012, paidUsd: 0.05, marginUsd: 0.038 });
      expect(p?.quality).toMatchObject({ mean: 0.7, meanAbsError: 0.1, paired: 1 });
      expect(p?.hourly).toHaveLength(1);
      expect(p?.hourly[0]?.marginUsd).toBe(0.038);

      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(gauge(text, "bazaar_runner_agent_win_rate", "a1")).toBe(p?.bids.winRate);
      expect(gauge(text, "bazaar_runner_agent_quality_mean", "a1")).toBe(p?.quality.mean);
      expect(gauge(text, "bazaar_runner_agent_quality_prediction_error", "a1")).toBe(
        p?.quality.meanAbsError,
      );
      expect(gauge(text, "bazaar_runner_agent_llm_cost_usd", "a1")).toBe(p?.money.llmCostUsd);
      expect(gauge(text, "bazaar_runner_agent_paid_usd", "a1")).toBe(p?.money.paidUsd);
      expect(gauge(text, "bazaar_runner_agent_margin_usd", "a1")).toBe(p?.money.marginUsd);

      // A new payment shows at the next scrape (the book's max age is 0 here).
      await ledger.noteOutcome("a1", "j4", { result: "won", llmCostUsd: 0.002, paidUsd: 0.02 });
      const later = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(gauge(later, "bazaar_runner_agent_margin_usd", "a1")).toBe(0.056);
    } finally {
      await app.close();
    }
  });

  it("a quality never scored has no gauge rather than a zero", async () => {
    const { ledger, app } = await runner();
    try {
      await ledger.noteOutcome("a1", "j1", { bidAt: new Date().toISOString(), result: "pending" });
      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(gauge(text, "bazaar_runner_agent_quality_mean", "a1")).toBeUndefined();
      expect(gauge(text, "bazaar_runner_agent_win_rate", "a1")).toBeUndefined();
      expect(gauge(text, "bazaar_runner_agent_margin_usd", "a1")).toBe(0);
    } finally {
      await app.close();
    }
  });
});
