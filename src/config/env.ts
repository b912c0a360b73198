import { z } from "zod";

/** The seed's default model, used when an agent config names none. */
export const DEFAULT_MODEL = "accounts/fireworks/models/llama-v3p3-70b-instruct";
export const DEFAULT_BAZAAR_API_URL = "http://localhost:8000";
export const DEFAULT_LLM_BASE_URL = "https://api.fireworks.ai/inference/v1";
/** USD per million tokens of models whose price is known; LLM_PRICES adds and overrides. */
export const DEFAULT_LLM_PRICES: Record<string, number> = { [DEFAULT_MODEL]: 0.9 };

const blankToUndefined = (value: unknown) =>
  typeof value === "string" && value.trim() === "" ? undefined : value;

const optionalString = z.preprocess(blankToUndefined, z.string().optional());
const optionalUrl = z.preprocess(
  blankToUndefined,
  z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
);
const seconds = (fallback: number) =>
  z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a number of seconds" })
      .positive({ error: "must be a positive number of seconds" })
      .default(fallback),
  );

const EnvSchema = z.object({
  BAZAAR_API_URL: optionalUrl,
  FIREWORKS_API_KEY: optionalString,
  LLM_BASE_URL: z.preprocess(
    blankToUndefined,
    z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).default(DEFAULT_LLM_BASE_URL),
  ),
  LLM_MODEL: z.preprocess(blankToUndefined, z.string().default(DEFAULT_MODEL)),
  LLM_TIMEOUT: seconds(120),
  LLM_PRICES: z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return {};
        try {
          const parsed = z.record(z.string(), z.number().nonnegative()).parse(JSON.parse(raw));
          return parsed;
        } catch {
          ctx.addIssue({
            code: "custom",
            message: 'must be JSON like {"model": usd_per_million_tokens}',
          });
          return z.NEVER;
        }
      }),
  ),
  MONGODB_URI: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, { error: "must start with mongodb:// or mongodb+srv://" })
      .optional(),
  ),
  MONGODB_DB: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[^/\\. "$]+$/, { error: "must be a MongoDB database name" })
      .default("bazaar"),
  ),
  AGENTS_FILE: optionalString,
  AGENT_OWNER_ID: z.preprocess(blankToUndefined, z.string().default("multi_runner")),
  AGENT_POLL_INTERVAL: seconds(30),
  AGENT_HEARTBEAT_INTERVAL: seconds(60),
  AGENT_RELOAD_INTERVAL: seconds(300),
  AGENT_PLUGINS: optionalString,
  SHUTDOWN_GRACE_PERIOD: seconds(30),
  RUNNER_STATE_DIR: z.preprocess(blankToUndefined, z.string().default("./.bazaar-runner")),
  HOST: z.preprocess(blankToUndefined, z.string().default("0.0.0.0")),
  PORT: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a port number" })
      .int({ error: "must be a whole port number" })
      .min(0, { error: "must be a port number from 0 to 65535" })
      .max(65535, { error: "must be a port number from 0 to 65535" })
      .default(8080),
  ),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  DASHBOARD_TOKEN: optionalString,
  PUBLIC_URL: optionalUrl,
});

/** Everything the runner reads from its environment, validated and in useful units. */
export interface RunnerConfig {
  /** Marketplace base URL, without a trailing slash. */
  bazaarApiUrl: string;
  /** False when BAZAAR_API_URL was unset: `start` may then serve the embedded marketplace. */
  bazaarApiUrlExplicit: boolean;
  fireworksApiKey: string | undefined;
  llmBaseUrl: string;
  defaultModel: string;
  llmTimeoutMs: number;
  /** USD per million tokens, by model; used for the cost estimate. */
  llmPrices: Record<string, number>;
  mongodbUri: string | undefined;
  /** Database of `agents` and `runner_ledger` ("bazaar"). */
  mongodbDb: string;
  agentsFile: string | undefined;
  ownerId: string;
  pollIntervalMs: number;
  heartbeatIntervalMs: number;
  reloadIntervalMs: number;
  shutdownGraceMs: number;
  plugins: string[];
  stateDir: string;
  host: string;
  port: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  dashboardToken: string | undefined;
  /**
   * Where the marketplace reaches this runner's port from outside; when set, agents take
   * webhook notifications there (PUBLIC_URL + the webhook path).
   */
  publicUrl: string | undefined;
}

/** A bad environment value. The message is one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const stripSlash = (url: string) => url.replace(/\/+$/, "");

/** Reads and validates the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RunnerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    throw new ConfigError(`${variable}: ${issue?.message ?? "invalid value"}`);
  }
  const e = parsed.data;
  return {
    bazaarApiUrl: stripSlash(e.BAZAAR_API_URL ?? DEFAULT_BAZAAR_API_URL),
    bazaarApiUrlExplicit: e.BAZAAR_API_URL !== undefined,
    fireworksApiKey: e.FIREWORKS_API_KEY,
    llmBaseUrl: stripSlash(e.LLM_BASE_URL),
    defaultModel: e.LLM_MODEL,
    llmTimeoutMs: e.LLM_TIMEOUT * 1000,
    llmPrices: { ...DEFAULT_LLM_PRICES, ...e.LLM_PRICES },
    mongodbUri: e.MONGODB_URI,
    mongodbDb: e.MONGODB_DB,
    agentsFile: e.AGENTS_FILE,
    ownerId: e.AGENT_OWNER_ID,
    pollIntervalMs: e.AGENT_POLL_INTERVAL * 1000,
    heartbeatIntervalMs: e.AGENT_HEARTBEAT_INTERVAL * 1000,
    reloadIntervalMs: e.AGENT_RELOAD_INTERVAL * 1000,
    shutdownGraceMs: e.SHUTDOWN_GRACE_PERIOD * 1000,
    plugins: (e.AGENT_PLUGINS ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean),
    stateDir: e.RUNNER_STATE_DIR,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dashboardToken: e.DASHBOARD_TOKEN,
    publicUrl: e.PUBLIC_URL === undefined ? undefined : stripSlash(e.PUBLIC_URL),
  };
}
