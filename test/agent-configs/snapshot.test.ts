import { describe, expect, it } from "vitest";
import { SnapshotGate } from "../../src/agent-configs/snapshot.ts";
import type { AgentSpec, ConfigSnapshot } from "../../src/agent-configs/types.ts";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import { silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { counterSum } from "../support/market-helpers.ts";

const specs: AgentSpec[] = builtinAgentConfigs().map((config) => ({
  key: `file:${config.name}`,
  source: "file",
  ref: config.name,
  config,
}));
const snapshot = (agents: number, issues = 0): ConfigSnapshot => ({
  agents: specs.slice(0, agents),
  issues: Array.from({ length: issues }, (_, i) => ({
    source: "file" as const,
    ref: `agents.yaml[${i}]`,
    message: "name: expected string",
  })),
});

describe("SnapshotGate: the reload status", () => {
  it("is null before the first read, then records each success and failure", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const gate = new SnapshotGate({ source: "file", logger: silentLogger(), metrics });
    expect(gate.status()).toBeNull();

    gate.prime(snapshot(2, 1));
    expect(gate.status()).toMatchObject({ ok: true, agents: 2, issues: 1, error: null });
    expect(Date.parse(gate.status()?.at ?? "")).not.toBeNaN();
    expect(gate.failures).toBe(0);

    expect(gate.failed(new Error("disk on fire"))).toBe(1);
    expect(gate.failed(new Error("still on fire"))).toBe(2);
    // The last good set stays in force, so its counts stay too.
    expect(gate.status()).toMatchObject({
      ok: false,
      agents: 2,
      issues: 1,
      error: "still on fire",
    });

    const seen: ConfigSnapshot[] = [];
    expect(gate.offer(snapshot(3), (s) => seen.push(s), "reload")).toBe(true);
    expect(seen).toHaveLength(1);
    expect(gate.status()).toMatchObject({ ok: true, agents: 3, issues: 0, error: null });
    expect(gate.failures).toBe(0);
    expect(gate.offer(snapshot(3), (s) => seen.push(s), "reload")).toBe(false);
    expect(seen).toHaveLength(1);

    expect(await counterSum(metrics.configReloads, { source: "file", outcome: "ok" })).toBe(3);
    expect(await counterSum(metrics.configReloads, { source: "file", outcome: "error" })).toBe(2);
    expect(await counterSum(metrics.configReloads, { source: "file", outcome: "change" })).toBe(1);
  });

  it("hands out copies: a caller cannot change the recorded status", () => {
    const gate = new SnapshotGate({ source: "defaults" });
    gate.prime(snapshot(1));
    const status = gate.status();
    if (status) status.ok = false;
    expect(gate.status()?.ok).toBe(true);
  });
});
