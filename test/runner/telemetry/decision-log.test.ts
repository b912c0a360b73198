import { describe, expect, it } from "vitest";
import { DecisionLog } from "../../../src/runner/telemetry/decision-log.ts";
import type { DecisionRecord } from "../../../src/runner/telemetry/status-types.ts";

function decision(jobId: string, agent: string, at: string): DecisionRecord {
  return { at, jobId, agent, agentId: null, outcome: "skip", reason: "no_keyword", detail: "x" };
}

describe("DecisionLog", () => {
  it("keeps each agent's latest decision per job", () => {
    const log = new DecisionLog();
    log.record("a", decision("job_1", "A", "2026-01-01T00:00:01Z"));
    log.record("b", decision("job_1", "B", "2026-01-01T00:00:02Z"));
    log.record("a", { ...decision("job_1", "A", "2026-01-01T00:00:03Z"), outcome: "bid" });
    expect(log.forJob("job_1").map((d) => [d.agent, d.outcome])).toEqual([
      ["A", "bid"],
      ["B", "skip"],
    ]);
    expect(log.forJob("job_unknown")).toEqual([]);
  });

  it("stays bounded: the oldest jobs are forgotten first", () => {
    const log = new DecisionLog(3);
    for (let i = 1; i <= 5; i++)
      log.record("a", decision(`job_${i}`, "A", `2026-01-01T00:00:0${i}Z`));
    expect(log.jobCount).toBe(3);
    expect(log.forJob("job_1")).toEqual([]);
    expect(log.recent().map((d) => d.jobId)).toEqual(["job_5", "job_4", "job_3"]);
    expect(log.recent(1)).toHaveLength(1);
  });
});
