import type { z } from "zod";
import type { RunnerConfig } from "../../../config/env.ts";
import { originOf } from "../../../config/settings.ts";
import { askRunner, RunnerSettingsSchema } from "../../runner-client.ts";
import { type DoctorCheck, result, whose } from "../types.ts";

/** A runner already running here: does it run with this shell's settings? */
export const runnerCheck: DoctorCheck = {
  name: "runner",
  async run({ ctx, config }) {
    const running = await askRunner(config, "/api/settings", RunnerSettingsSchema);
    if (!running.ok) return [result("runner", "ok", `${running.why}: nothing to compare with`)];
    const differences = compareSettings(config, running.value);
    return [
      result(
        "runner",
        differences.length ? "warn" : "ok",
        differences.length
          ? `the runner at ${config.runnerUrl} runs with other settings than ${whose(ctx)}: ${differences.join("; ")}`
          : `the runner at ${config.runnerUrl} runs with the same settings (poll ${running.value.pollIntervalSeconds} s, heartbeat ${running.value.heartbeatIntervalSeconds} s, agents from ${running.value.agentSource})`,
      ),
    ];
  },
};

/** Settings a running runner has that this shell would not give it, in words. */
export function compareSettings(
  config: RunnerConfig,
  running: z.infer<typeof RunnerSettingsSchema>,
): string[] {
  const pairs: Array<[string, string, number | string, number | string]> = [
    ["poll", "AGENT_POLL_INTERVAL", running.pollIntervalSeconds, config.pollIntervalMs / 1000],
    [
      "heartbeat",
      "AGENT_HEARTBEAT_INTERVAL",
      running.heartbeatIntervalSeconds,
      config.heartbeatIntervalMs / 1000,
    ],
    [
      "reload",
      "AGENT_RELOAD_INTERVAL",
      running.reloadIntervalSeconds,
      config.reloadIntervalMs / 1000,
    ],
    ["owner", "AGENT_OWNER_ID", running.ownerId, config.ownerId],
  ];
  return pairs
    .filter(([, , there, mine]) => there !== mine)
    .map(([what, variable, there, mine]) => {
      const unit = typeof there === "number" ? " s" : "";
      return `${what} ${there}${unit} there (${originOf(running, variable)}), ${mine}${unit} here`;
    });
}
