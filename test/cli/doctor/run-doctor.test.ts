import { describe, expect, it } from "vitest";
import { DOCTOR_CHECKS, runDoctor } from "../../../src/cli/doctor/run-doctor.ts";
import type { DoctorCheck } from "../../../src/cli/doctor/types.ts";
import { loadConfig } from "../../../src/config/env.ts";

const ctx = (env: NodeJS.ProcessEnv) => ({
  config: () => loadConfig(env),
  fromDotEnv: [],
  out: () => undefined,
});

describe("runDoctor", () => {
  it("runs the named checks in order, each reading what the earlier ones left", async () => {
    const seen: string[] = [];
    const first: DoctorCheck = {
      name: "first",
      async run(state) {
        seen.push("first");
        state.mongoUnreachable = true;
        return [{ name: "first", level: "ok", message: "one" }];
      },
    };
    const second: DoctorCheck = {
      name: "second",
      async run(state) {
        seen.push(`second saw mongoUnreachable=${state.mongoUnreachable}`);
        return [{ name: "second", level: "warn", message: "two" }];
      },
    };
    const results = await runDoctor(ctx({}), [first, second]);
    expect(results.map((r) => `${r.name} ${r.level}`)).toEqual([
      "config ok",
      "first ok",
      "second warn",
    ]);
    expect(seen).toEqual(["first", "second saw mongoUnreachable=true"]);
  });

  it("reports a check that throws as its own failed line, and runs the rest", async () => {
    const broken: DoctorCheck = {
      name: "broken",
      async run() {
        throw new Error("the probe fell over");
      },
    };
    const after: DoctorCheck = {
      name: "after",
      async run() {
        return [{ name: "after", level: "ok", message: "still here" }];
      },
    };
    const results = await runDoctor(ctx({}), [broken, after]);
    expect(results.slice(1)).toEqual([
      { name: "broken", level: "fail", message: "the check itself failed: the probe fell over" },
      { name: "after", level: "ok", message: "still here" },
    ]);
  });

  it("stops after an invalid configuration, with one line that says which variable", async () => {
    const results = await runDoctor(ctx({ AGENT_POLL_INTERVAL: "soon" }), DOCTOR_CHECKS);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ name: "config", level: "fail" });
    expect(results[0]?.message).toMatch(/AGENT_POLL_INTERVAL/);
  });

  it("names every check once, in the report's order", () => {
    expect(DOCTOR_CHECKS.map((c) => c.name)).toEqual([
      "runner",
      "marketplace",
      "mongodb",
      "agents",
      "wallets",
      "llm",
      "margin",
    ]);
  });
});
