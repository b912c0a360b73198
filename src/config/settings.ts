import { envVariableDocs, type RunnerConfig } from "./env.ts";

/**
 * The effective settings of a runner and where they came from: logged at start and
 * served at GET /api/settings, so `doctor` can compare its shell with the running runner.
 * Names of variables only, never their values.
 */
export interface RunnerSettings {
  pollIntervalSeconds: number;
  heartbeatIntervalSeconds: number;
  reloadIntervalSeconds: number;
  shutdownGraceSeconds: number;
  ownerId: string;
  marketplaceUrl: string;
  /** Where the agent configs come from. */
  agentSource: "mongo" | "file" | "defaults";
  /** The runner's variables that were set, by origin; every other one has its default. */
  setInEnvironment: string[];
  setInDotEnv: string[];
}

/** `fromDotEnv`: the names `.env` set (see loadDotEnv). */
export function runnerSettings(
  config: RunnerConfig,
  env: NodeJS.ProcessEnv,
  fromDotEnv: readonly string[],
): RunnerSettings {
  const set = envVariableDocs()
    .map((v) => v.name)
    .filter((name) => (env[name] ?? "").trim() !== "");
  return {
    pollIntervalSeconds: config.pollIntervalMs / 1000,
    heartbeatIntervalSeconds: config.heartbeatIntervalMs / 1000,
    reloadIntervalSeconds: config.reloadIntervalMs / 1000,
    shutdownGraceSeconds: config.shutdownGraceMs / 1000,
    ownerId: config.ownerId,
    marketplaceUrl: config.bazaarApiUrl,
    agentSource: config.mongodbUri ? "mongo" : config.agentsFile ? "file" : "defaults",
    setInEnvironment: set.filter((name) => !fromDotEnv.includes(name)),
    setInDotEnv: set.filter((name) => fromDotEnv.includes(name)),
  };
}

/** Where one variable's value came from, in words. */
export function originOf(
  settings: Pick<RunnerSettings, "setInEnvironment" | "setInDotEnv">,
  variable: string,
): string {
  if (settings.setInEnvironment.includes(variable)) return `${variable} from the environment`;
  if (settings.setInDotEnv.includes(variable)) return `${variable} from .env`;
  return "default";
}

const AGENT_SOURCES: Record<RunnerSettings["agentSource"], string> = {
  mongo: "MongoDB (MONGODB_URI)",
  file: "a file (AGENTS_FILE)",
  defaults: "the built-in defaults",
};

/** One sentence: intervals with their origin, and the agents' source. */
export function describeSettings(settings: RunnerSettings): string {
  const list = (names: string[]) => (names.length ? names.join(", ") : "none");
  return [
    `poll every ${settings.pollIntervalSeconds} s (${originOf(settings, "AGENT_POLL_INTERVAL")})`,
    `heartbeat every ${settings.heartbeatIntervalSeconds} s (${originOf(settings, "AGENT_HEARTBEAT_INTERVAL")})`,
    `agents from ${AGENT_SOURCES[settings.agentSource]}`,
    `set in the environment: ${list(settings.setInEnvironment)}; in .env: ${list(settings.setInDotEnv)}; the rest are defaults`,
  ].join("; ");
}
