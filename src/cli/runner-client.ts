import { z } from "zod";
import type { RunnerConfig } from "../config/env.ts";
import { errorMessage } from "../secrets.ts";

/** What a running runner said, or in words why nothing useful came back. */
export type RunnerAnswer<T> = { ok: true; value: T } | { ok: false; why: string };

/** How long the CLI waits for a runner: it answers from memory, so this is generous. */
const RUNNER_TIMEOUT_MS = 3000;

/**
 * GET `path` from the runner at RUNNER_URL (with DASHBOARD_TOKEN when set), checked
 * against `schema`. Never throws: the CLI prints its own answer either way.
 */
export async function askRunner<T>(
  config: Pick<RunnerConfig, "runnerUrl" | "dashboardToken">,
  path: string,
  schema: z.ZodType<T>,
): Promise<RunnerAnswer<T>> {
  const url = `${config.runnerUrl}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        accept: "application/json",
        ...(config.dashboardToken ? { authorization: `Bearer ${config.dashboardToken}` } : {}),
      },
      signal: AbortSignal.timeout(RUNNER_TIMEOUT_MS),
    });
  } catch {
    return { ok: false, why: `no runner answers at ${config.runnerUrl} (RUNNER_URL)` };
  }
  if (response.status === 401) {
    await response.body?.cancel();
    return {
      ok: false,
      why: `the runner at ${config.runnerUrl} wants its DASHBOARD_TOKEN (set it in this shell too)`,
    };
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return {
      ok: false,
      why: `the runner at ${config.runnerUrl} does not serve ${path.split("?")[0]} (an older version?)`,
    };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { ok: false, why: `the runner at ${config.runnerUrl} answered ${response.status}` };
  }
  try {
    return { ok: true, value: schema.parse(await response.json()) };
  } catch (error) {
    return {
      ok: false,
      why: `the runner at ${config.runnerUrl} answered ${path.split("?")[0]} with something unexpected (${errorMessage(error).slice(0, 120)})`,
    };
  }
}

/** One decision of one agent on one job (GET /api/decisions; the runner's DecisionRecord). */
export const DecisionSchema = z.looseObject({
  at: z.string(),
  jobId: z.string(),
  agent: z.string(),
  agentId: z.string().nullable(),
  outcome: z.enum(["bid", "skip"]),
  reason: z.string().nullable(),
  detail: z.string(),
  priceUsd: z.number().optional(),
  confidence: z.number().optional(),
});
export type Decision = z.infer<typeof DecisionSchema>;
export const DecisionsSchema = z.looseObject({ decisions: z.array(DecisionSchema) });

/** The part of GET /api/status the CLI reads: which agents the runner runs, with their ids. */
export const RunnerAgentsSchema = z.looseObject({
  agents: z.array(
    z.looseObject({ name: z.string(), agentId: z.string().nullable(), state: z.string() }),
  ),
});

/** GET /api/settings (src/config/settings.ts RunnerSettings), the fields `doctor` compares. */
export const RunnerSettingsSchema = z.looseObject({
  pollIntervalSeconds: z.number(),
  heartbeatIntervalSeconds: z.number(),
  reloadIntervalSeconds: z.number(),
  shutdownGraceSeconds: z.number(),
  ownerId: z.string(),
  marketplaceUrl: z.string(),
  agentSource: z.string(),
  setInEnvironment: z.array(z.string()),
  setInDotEnv: z.array(z.string()),
});
