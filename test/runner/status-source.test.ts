import { describe, expect, it } from "vitest";
import type { ConfigSourceStatus } from "../../src/agent-configs/types.ts";
import type { Supervisor } from "../../src/runner/fleet/supervisor.ts";
import { RunnerStatus } from "../../src/runner/status-source.ts";
import { DecisionLog } from "../../src/runner/telemetry/decision-log.ts";
import { StatusTracker } from "../../src/runner/telemetry/status-tracker.ts";
import type { LedgerSummary } from "../../src/state/types.ts";

function status(options: { summary?: () => Promise<LedgerSummary> } = {}) {
  const stop = new AbortController();
  const marketplace = { reachable: false, lastOkAt: null as string | null };
  const tracker = new StatusTracker();
  const decisions = new DecisionLog();
  const source = {
    kind: "defaults" as const,
    status: (): ConfigSourceStatus => ({ changeStream: "n/a", reload: null }),
  };
  const supervisor = {
    issues: [],
    workers: [{ spec: { config: { name: "CodeReviewer" } } }],
  } as unknown as Pick<Supervisor, "issues" | "workers">;
  const runnerStatus = new RunnerStatus({
    config: { bazaarApiUrl: "http://market", llmBaseUrl: "http://llm", replicaId: "r1" },
    embedded: true,
    ledger: {
      summary: options.summary ?? (async () => ({}) as LedgerSummary),
    },
    llm: { configured: false },
    source,
    supervisor,
    tracker,
    decisions,
    marketplace,
    leases: { others: () => [{ id: "r2", agents: 2 }] },
    stopping: stop.signal,
  });
  return { runnerStatus, stop, marketplace, tracker };
}

describe("the runner's status", () => {
  it("is ready once the configs are loaded and the marketplace answers, and not once stopping", () => {
    const { runnerStatus, stop, marketplace } = status();
    expect(runnerStatus.ready()).toEqual({
      ready: false,
      reasons: ["agent configs not loaded", "marketplace at http://market not reachable"],
    });
    runnerStatus.configLoaded();
    marketplace.reachable = true;
    expect(runnerStatus.ready()).toEqual({ ready: true, reasons: [] });
    stop.abort();
    expect(runnerStatus.ready()).toEqual({ ready: false, reasons: ["shutting down"] });
  });

  it("snapshots the parts as they are; an unreadable ledger leaves the rest shown", async () => {
    const { runnerStatus, marketplace } = status({
      summary: async () => {
        throw new Error("ledger away");
      },
    });
    marketplace.reachable = true;
    marketplace.lastOkAt = "2026-01-01T00:00:00.000Z";
    const snapshot = await runnerStatus.snapshot();
    expect(snapshot).toMatchObject({
      marketplace: {
        url: "http://market",
        embedded: true,
        reachable: true,
        lastOkAt: "2026-01-01T00:00:00.000Z",
      },
      config: { source: "defaults", loaded: false, changeStream: "n/a", issues: [] },
      ledger: null,
      llm: { configured: false, baseUrl: "http://llm" },
      agents: [],
      replica: { id: "r1", agents: ["CodeReviewer"], others: [{ id: "r2", agents: 2 }] },
    });
  });

  it("passes the timeline's events to a listener until it unsubscribes", () => {
    const { runnerStatus, tracker } = status();
    const heard: string[] = [];
    const off = runnerStatus.onEvent((event) => heard.push(event.message));
    tracker.emit({ kind: "config", message: "config reloaded" });
    off();
    tracker.emit({ kind: "config", message: "not heard" });
    expect(heard).toEqual(["config reloaded"]);
    expect(runnerStatus.recentEvents().map((e) => e.message)).toEqual([
      "config reloaded",
      "not heard",
    ]);
  });
});
