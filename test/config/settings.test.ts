import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.ts";
import { describeSettings, originOf, runnerSettings } from "../../src/config/settings.ts";

describe("runnerSettings", () => {
  it("says where each variable came from, by name only", () => {
    const env = {
      AGENT_POLL_INTERVAL: "3",
      AGENT_HEARTBEAT_INTERVAL: "7",
      FIREWORKS_API_KEY: "fw-not-shown",
      AGENTS_FILE: "agents.yaml",
      SOMETHING_ELSE: "x",
      LOG_LEVEL: " ",
    };
    const settings = runnerSettings(loadConfig(env), env, ["AGENT_HEARTBEAT_INTERVAL"]);
    expect(settings).toMatchObject({
      pollIntervalSeconds: 3,
      heartbeatIntervalSeconds: 7,
      reloadIntervalSeconds: 300,
      shutdownGraceSeconds: 30,
      agentSource: "file",
      // Blank counts as unset; variables the runner does not read are not listed.
      setInEnvironment: ["FIREWORKS_API_KEY", "AGENTS_FILE", "AGENT_POLL_INTERVAL"],
      setInDotEnv: ["AGENT_HEARTBEAT_INTERVAL"],
    });
    expect(JSON.stringify(settings)).not.toContain("fw-not-shown");
    expect(originOf(settings, "AGENT_POLL_INTERVAL")).toBe(
      "AGENT_POLL_INTERVAL from the environment",
    );
    expect(originOf(settings, "AGENT_HEARTBEAT_INTERVAL")).toBe(
      "AGENT_HEARTBEAT_INTERVAL from .env",
    );
    expect(originOf(settings, "AGENT_RELOAD_INTERVAL")).toBe("default");
    expect(describeSettings(settings)).toBe(
      "poll every 3 s (AGENT_POLL_INTERVAL from the environment); heartbeat every 7 s (AGENT_HEARTBEAT_INTERVAL from .env); " +
        "agents from a file (AGENTS_FILE); set in the environment: FIREWORKS_API_KEY, AGENTS_FILE, AGENT_POLL_INTERVAL; " +
        "in .env: AGENT_HEARTBEAT_INTERVAL; the rest are defaults",
    );
  });

  it("all defaults", () => {
    const settings = runnerSettings(loadConfig({}), {}, []);
    expect(describeSettings(settings)).toBe(
      "poll every 30 s (default); heartbeat every 60 s (default); agents from the built-in defaults; set in the environment: none; in .env: none; the rest are defaults",
    );
  });
});
