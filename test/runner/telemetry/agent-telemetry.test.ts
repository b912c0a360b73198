import { describe, expect, it } from "vitest";
import { counterSum } from "../../support/market-helpers.ts";
import { job, telemetryFixture } from "../../support/runner-units.ts";

describe("AgentTelemetry", () => {
  it("records a placed bid in the stats, metrics, timeline and decision log at once", async () => {
    const { telemetry, tracker, metrics, decisions } = telemetryFixture();
    telemetry.started("agent_t1");
    const bid = {
      kind: "bid" as const,
      priceUsd: 0.05,
      confidence: 0.8,
      estimatedTimeMinutes: 7,
      approach: "x",
    };
    telemetry.bidPlaced(job(), "bid_1", bid);
    expect(telemetry.stats.view.bidsPlaced).toBe(1);
    expect(await counterSum(metrics.bids, { agent: "agent_t1", outcome: "placed" })).toBe(1);
    expect(tracker.recent().map((e) => e.kind)).toEqual(["agent-started", "bid"]);
    expect(decisions.forJob("job_00000001")).toMatchObject([
      { agent: "CodeReviewer", agentId: "agent_t1", outcome: "bid", priceUsd: 0.05 },
    ]);
  });

  it("records a skip with its reason under the established metric outcome", async () => {
    const { telemetry, metrics, decisions } = telemetryFixture();
    telemetry.started("agent_t2");
    telemetry.decided(job(), { kind: "skip", reason: "capability", detail: "too low" });
    telemetry.decided(job({ job_id: "job_2" }), { kind: "skip", reason: "no_keyword", detail: "" });
    expect(
      await counterSum(metrics.bids, { agent: "agent_t2", outcome: "skipped_capability" }),
    ).toBe(1);
    expect(await counterSum(metrics.bids, { agent: "agent_t2", outcome: "declined" })).toBe(1);
    expect(decisions.forJob("job_00000001")[0]).toMatchObject({
      outcome: "skip",
      reason: "capability",
      detail: "too low",
    });
  });

  it("counts accepted results by success, and refused ones as failed", () => {
    const { telemetry, tracker } = telemetryFixture();
    telemetry.resultAccepted("job_1", true);
    telemetry.resultAccepted("job_2", false);
    telemetry.resultRefused("job_3", "job is not assigned to you");
    expect(telemetry.stats.view).toMatchObject({ resultsAccepted: 1, resultsFailed: 2 });
    expect(tracker.recent().map((e) => e.message)).toEqual([
      "result accepted",
      "failed result submitted",
      "result refused: job is not assigned to you",
    ]);
  });

  it("counts every error but shows the same one once as the last error", () => {
    const { telemetry, tracker } = telemetryFixture();
    telemetry.error("heartbeat failed", new Error("connect ECONNREFUSED"));
    telemetry.error("heartbeat failed", new Error("connect ECONNREFUSED"));
    expect(telemetry.stats.view.errors).toBe(2);
    expect(telemetry.stats.view.lastError).toBe("heartbeat failed: connect ECONNREFUSED");
    expect(tracker.recent()).toHaveLength(2);
  });

  it("adds execution tokens and cost, and keeps a failure's message as the last error", () => {
    const { telemetry } = telemetryFixture();
    telemetry.executionFinished(
      job(),
      {
        success: false,
        output: "no LLM",
        error: "no LLM",
        tokensUsed: 10,
        model: "m",
        latencyMs: 5,
      },
      0.001,
    );
    expect(telemetry.stats.view).toMatchObject({
      tokensUsed: 10,
      llmCostUsd: 0.001,
      lastError: "no LLM",
    });
  });
});
