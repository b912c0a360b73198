import { z } from "zod";
import { losingForADay } from "../../../runner/telemetry/earnings.ts";
import { askRunner } from "../../runner-client.ts";
import { type DoctorCheck, result } from "../types.ts";

const money = {
  jobs: z.number(),
  llmCostUsd: z.number(),
  paidUsd: z.number(),
  marginUsd: z.number(),
};

/** The part of GET /api/status this check reads: each agent's last day of earnings. */
export const RunnerMarginsSchema = z.looseObject({
  agents: z.array(
    z.looseObject({
      name: z.string(),
      performance: z
        .looseObject({
          window: z.looseObject({ oldestAt: z.string().nullable() }),
          lastDay: z.looseObject({ since: z.string(), ...money }),
        })
        .optional(),
    }),
  ),
});

/**
 * The running runner's agents: does any lose money, its margin (paid − LLM cost) negative
 * over the last day? Read from the runner's own figures (/api/status), so doctor says
 * what the dashboard shows. No runner running: nothing to check, and that is fine.
 */
export const marginCheck: DoctorCheck = {
  name: "margin",
  async run({ config }) {
    const running = await askRunner(config, "/api/status", RunnerMarginsSchema);
    if (!running.ok) return [result("margin", "ok", `${running.why}: no margins to check`)];
    const agents = running.value.agents;
    const known = agents.filter((a) => a.performance !== undefined);
    const losing = known.flatMap((a) => {
      const why = a.performance ? losingForADay(a.performance) : null;
      return why ? [`${a.name}: ${why}`] : [];
    });
    if (losing.length)
      return [
        result(
          "margin",
          "warn",
          `${losing.length} agent(s) lost money over the last day — ${losing.join("; ")}. Raise the agent's base rate or min margin, or check its model's price and the quality its results get (dashboard: earnings)`,
        ),
      ];
    const unknown = agents.length - known.length;
    return [
      result(
        "margin",
        "ok",
        `no agent of the runner at ${config.runnerUrl} lost money over the last day (${known.length} with earnings on record${unknown ? `, ${unknown} without figures yet` : ""})`,
      ),
    ];
  },
};
