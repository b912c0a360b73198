import { hostname } from "node:os";
import { z } from "zod";
import { BazaarRunnerError, type BazaarRunnerErrorOptions } from "../errors.ts";

/** The seed's default model, used when an agent config names none. */
export const DEFAULT_MODEL = "accounts/fireworks/models/llama-v3p3-70b-instruct";
/** Port of the embedded marketplace; the default BAZAAR_API_URL points at it. */
const DEFAULT_MARKETPLACE_PORT = 8000;
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

/** An optional daily cap in USD; unset means no cap. */
const usdCap = z.preprocess(
  blankToUndefined,
  z.coerce
    .number({ error: "must be a number of USD" })
    .nonnegative({ error: "must be a non-negative number of USD" })
    .optional(),
);
const port = (fallback: number) =>
  z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a port number" })
      .int({ error: "must be a whole port number" })
      .min(0, { error: "must be a port number from 0 to 65535" })
      .max(65535, { error: "must be a port number from 0 to 65535" })
      .default(fallback),
  );

const EnvSchema = z.object({
  BAZAAR_API_URL: optionalUrl,
  MARKETPLACE_PORT: port(DEFAULT_MARKETPLACE_PORT),
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
  RUNNER_REPLICA_ID: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[\w.:@-]{1,100}$/, {
        error: "must be 1 to 100 letters, digits or . _ : @ -",
      })
      .optional(),
  ),
  LEASE_TTL: seconds(30),
  // Loopback by default: the dashboard is not on the network unless asked (the image sets 0.0.0.0).
  HOST: z.preprocess(blankToUndefined, z.string().default("127.0.0.1")),
  PORT: port(8080),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  ),
  DASHBOARD_TOKEN: optionalString,
  AGENT_WALLET_MNEMONIC: optionalString,
  AGENT_WALLET: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: "must be 0x followed by 40 hex digits" })
      .optional(),
  ),
  AGENT_MIN_MARGIN: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a number" })
      .min(1, { error: "must be at least 1 (a floor below the LLM cost loses money)" })
      .default(1.5),
  ),
  AGENT_PRICING: z.preprocess(
    blankToUndefined,
    z.enum(["fixed", "adaptive"], { error: "must be fixed or adaptive" }).default("adaptive"),
  ),
  AGENT_PRICE_EXPLORATION: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a number" })
      .min(0, { error: "must be between 0 and 1" })
      .max(1, { error: "must be between 0 and 1" })
      .default(0.1),
  ),
  POSTER_PRIVATE_KEY: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^(0x)?[0-9a-fA-F]{64}$/, { error: "must be a 32-byte hex private key" })
      .optional(),
  ),
  AGENT_DAILY_SPEND_USD: usdCap,
  RUNNER_DAILY_SPEND_USD: usdCap,
  QUALITY_GATE: z.preprocess(blankToUndefined, z.enum(["off", "on", "review"]).default("on")),
  QUALITY_THRESHOLD: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: "must be a number" })
      .min(0, { error: "must be between 0 and 1" })
      .max(1, { error: "must be between 0 and 1" })
      .default(0.7),
  ),
  RUNNER_URL: optionalUrl,
  PUBLIC_URL: optionalUrl,
  // OpenTelemetry's own variables (src/tracing reads them; listed here for the docs).
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString,
  OTEL_EXPORTER_OTLP_HEADERS: optionalString,
  OTEL_TRACES_EXPORTER: optionalString,
  OTEL_TRACES_SAMPLER: optionalString,
  OTEL_TRACES_SAMPLER_ARG: optionalString,
  OTEL_SERVICE_NAME: optionalString,
  OTEL_BSP_MAX_QUEUE_SIZE: optionalString,
});

type EnvVariable = keyof typeof EnvSchema.shape;

/**
 * What each variable means, for `start --help` and the README's table (one source: a test
 * keeps the README equal to `envTableMarkdown()`). `default` overrides the schema's own
 * default where that reads badly. Markdown code spans only; help strips the backticks.
 */
const ENV_DOCS: Record<EnvVariable, { meaning: string; default?: string }> = {
  BAZAAR_API_URL: {
    default: "`http://localhost:$MARKETPLACE_PORT`",
    meaning:
      "Marketplace API. When unset, `start` serves the embedded marketplace there (or uses an AgentBazaar API already answering on that port).",
  },
  MARKETPLACE_PORT: {
    meaning:
      "Port of the embedded marketplace `start` serves when `BAZAAR_API_URL` is unset (on 127.0.0.1).",
  },
  FIREWORKS_API_KEY: {
    meaning: "Key for the LLM service. Without it the agents still heartbeat and bid.",
  },
  LLM_BASE_URL: { meaning: "Any OpenAI-compatible server." },
  LLM_MODEL: { meaning: "Model for agents whose config names none." },
  LLM_TIMEOUT: { meaning: "Seconds per LLM attempt." },
  LLM_PRICES: {
    default: "default model at $0.90",
    meaning:
      'JSON `{"model": usd_per_million_tokens}` for the cost estimate; adds to and overrides the built-in price of the default model.',
  },
  MONGODB_URI: {
    meaning:
      "Agent configs from `bazaar.agents`; the ledger goes to `bazaar.runner_ledger`; replicas share the agents through leases in `bazaar.runner_leases` (see [Several replicas](#several-replicas)). An unreachable server fails start-up within 10 s.",
  },
  MONGODB_DB: {
    meaning: "The database of `agents`, `runner_ledger`, `runner_leases` and `runner_fences`.",
  },
  AGENTS_FILE: {
    meaning: "Agent configs from a JSON or YAML file instead (watched for changes).",
  },
  AGENT_OWNER_ID: { meaning: "Owner of the agents the runner registers." },
  AGENT_POLL_INTERVAL: { meaning: "Seconds between job polls." },
  AGENT_HEARTBEAT_INTERVAL: {
    meaning:
      "Seconds between heartbeats of one agent. Agents are spread over the interval; their moments are rounded to 100 ms (a quarter of a shorter interval) so that one timer sends each tick's heartbeats together.",
  },
  AGENT_RELOAD_INTERVAL: { meaning: "Seconds between full config reloads." },
  AGENT_PLUGINS: { meaning: "Comma-separated modules that register more executors." },
  SHUTDOWN_GRACE_PERIOD: {
    meaning: "Seconds in-flight jobs get to finish on SIGINT/SIGTERM (Ctrl-C).",
  },
  RUNNER_STATE_DIR: {
    meaning:
      "Local ledger (and embedded marketplace) files. Without MongoDB one runner per directory: a second refuses to start.",
  },
  RUNNER_REPLICA_ID: {
    default: "hostname:pid",
    meaning:
      "This replica's id in logs, status and leases. A stable id lets a restarted replica take its own leases back at once.",
  },
  LEASE_TTL: {
    meaning: "Seconds an agent lease lasts without renewal; renewed every third of it.",
  },
  HOST: {
    meaning:
      "Address of health, metrics and the dashboard. Loopback by default; the Docker image and Railway use `0.0.0.0`.",
  },
  PORT: { meaning: "Port of health, metrics and the dashboard." },
  LOG_LEVEL: { meaning: "pino level. JSON lines; pretty on a terminal." },
  DASHBOARD_TOKEN: {
    meaning:
      "When set and `HOST` is not loopback, the dashboard and `/api/*` require it. Without it a non-loopback `HOST` gets a warning: the dashboard is open.",
  },
  AGENT_WALLET_MNEMONIC: {
    meaning:
      "**Secret.** BIP-39 phrase; every agent gets its own key at `m/44'/60'/0'/0/i` (see [Money](#money-wallets-payments-and-secrets)). Back it up: it is the only way to the earnings.",
  },
  AGENT_WALLET: {
    meaning:
      "A payout address you hold, for agents without a key or `wallet_address` of their own. Paid there; they cannot sign in or negotiate.",
  },
  AGENT_MIN_MARGIN: {
    meaning: "Price floor = estimated LLM cost of the job × this (at least 1).",
  },
  AGENT_PRICING: {
    meaning:
      "`adaptive`: each agent learns, per job class, the multiplier of its fixed price that earns most from its won, lost and paid bids (kept in the ledger); `fixed`: `base_rate_usd × (1 + 0.5 × confidence)` always. Either way never below the floor nor above 85 % of the budget.",
  },
  AGENT_PRICE_EXPLORATION: {
    meaning:
      "With adaptive pricing, the largest share of bids (0 to 1) that try another price than the best known one.",
  },
  POSTER_PRIVATE_KEY: {
    meaning:
      "**Secret.** The key `jobs post` and `jobs counter` sign in with as the poster; for a local marketplace a development key is generated into `RUNNER_STATE_DIR`.",
  },
  AGENT_DAILY_SPEND_USD: {
    meaning:
      "Per agent: estimated LLM spend per UTC day at which it stops bidding (it keeps heartbeating and finishes its jobs).",
  },
  RUNNER_DAILY_SPEND_USD: {
    meaning: "The same for all agents of the runner together (shared by replicas on one ledger).",
  },
  QUALITY_GATE: {
    meaning:
      "The check of every deliverable before it is submitted: `on` predicts its quality from deterministic checks, `review` adds a short second-LLM review against a rubric made from the job's text; below `QUALITY_THRESHOLD` one repair round runs when the expected payment covers its LLM cost, else the result goes out with an honest note. `off` submits as the executor made it.",
  },
  QUALITY_THRESHOLD: {
    meaning:
      "Predicted quality (0..1) below which the quality gate repairs or notes a deliverable.",
  },
  RUNNER_URL: {
    default: "`http://localhost:$PORT`",
    meaning:
      "Where the CLI (`jobs show`, `agents list`, `doctor`) asks a running runner for its decisions, agents and settings.",
  },
  PUBLIC_URL: {
    meaning:
      'Where the marketplace can reach this runner\'s `PORT` (e.g. `https://runner.example.com`). When set, agents register with `execution_mode: "webhook"` and `webhook_url` = `PUBLIC_URL/webhooks/agentbazaar` (agents registered earlier get the `webhook_url` with `PUT /api/agents/{id}`, which cannot change their mode: they hear of new jobs at once and of awards at a poll) and act on `job.posted` and `job_assigned` notifications at once (each a hint: the job is looked up before anything is done); polling continues as the fallback, at 4 × `AGENT_POLL_INTERVAL` while notifications arrive.',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    meaning:
      "OTLP/HTTP collector (e.g. `http://localhost:4318`): when set, tracing is on, one trace per agent and job (decision, bid, negotiation, award, execution with its tools and LLM calls, submission, payment), spans sent as JSON to `/v1/traces`. Unset: nothing of OpenTelemetry is loaded. See Tracing.",
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    meaning:
      "Headers sent to the collector, `key=value,key2=value2` (e.g. an API key); their values are treated as secrets.",
  },
  OTEL_TRACES_EXPORTER: {
    meaning:
      "`otlp` turns tracing on (to `http://localhost:4318` without an endpoint); `none` keeps it off whatever else is set (so does `OTEL_SDK_DISABLED=true`).",
  },
  OTEL_TRACES_SAMPLER: {
    default: "`parentbased_always_on`",
    meaning:
      "`always_on`, `always_off` or `traceidratio` (with or without `parentbased_`): decided per job on its trace id, so every replica keeps or drops the same jobs, whole.",
  },
  OTEL_TRACES_SAMPLER_ARG: {
    default: "`1`",
    meaning: "The ratio of jobs traced for `traceidratio`, from 0 to 1.",
  },
  OTEL_SERVICE_NAME: {
    default: "`bazaar-runner`",
    meaning: "The `service.name` of the spans (`OTEL_RESOURCE_ATTRIBUTES` adds others).",
  },
  OTEL_BSP_MAX_QUEUE_SIZE: {
    default: "`2048`",
    meaning:
      "Spans waiting for the collector, at most; more are dropped and counted in `bazaar_runner_trace_spans_dropped_total`, so a collector that is down never holds up heartbeats or bids. `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and `OTEL_EXPORTER_OTLP_TIMEOUT` are read too.",
  },
};

export interface EnvVariableDoc {
  name: EnvVariable;
  /** Markdown: a code span, or "–" when unset by default. */
  default: string;
  meaning: string;
}

/** The schema's default for one variable, as shown to a user. */
function schemaDefault(name: EnvVariable): string {
  const value: unknown = EnvSchema.shape[name].parse(undefined);
  if (value === undefined) return "–";
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/** Every variable with its default and meaning, in the schema's order. */
export function envVariableDocs(): EnvVariableDoc[] {
  return (Object.keys(EnvSchema.shape) as EnvVariable[]).map((name) => ({
    name,
    default: ENV_DOCS[name].default ?? schemaDefault(name),
    meaning: ENV_DOCS[name].meaning,
  }));
}

/** The README's configuration table. */
export function envTableMarkdown(): string {
  return [
    "| Variable | Default | Meaning |",
    "| --- | --- | --- |",
    ...envVariableDocs().map((v) => `| \`${v.name}\` | ${v.default} | ${v.meaning} |`),
  ].join("\n");
}

/** The same, as plain text for `start --help`. */
export function envHelpText(): string {
  const plain = (text: string) => text.replaceAll("`", "");
  const docs = envVariableDocs();
  const width = Math.max(...docs.map((v) => v.name.length));
  return [
    "Environment variables (also read from ./.env; the environment wins):",
    ...docs.map(
      (v) =>
        `  ${v.name.padEnd(width)}  ${plain(v.meaning)} [default: ${v.default === "–" ? "unset" : plain(v.default)}]`,
    ),
  ].join("\n");
}

/** Everything the runner reads from its environment, validated and in useful units. */
export interface RunnerConfig {
  /** Marketplace base URL, without a trailing slash. */
  bazaarApiUrl: string;
  /** False when BAZAAR_API_URL was unset: `start` may then serve the embedded marketplace. */
  bazaarApiUrlExplicit: boolean;
  /** Port of the embedded marketplace `start` serves when BAZAAR_API_URL is unset. */
  marketplacePort: number;
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
  /** This process's id among replicas: RUNNER_REPLICA_ID, else hostname:pid. */
  replicaId: string;
  /** How long an agent lease lasts without renewal (LEASE_TTL, 30 s). */
  leaseTtlMs: number;
  host: string;
  port: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  dashboardToken: string | undefined;
  /** BIP-39 phrase the agents' keys derive from (a secret). */
  walletMnemonic: string | undefined;
  /** Payout-only address for agents without a key of their own. */
  payoutWallet: string | undefined;
  /** The poster-side CLI's key (a secret): counters are signed in as the job's poster. */
  posterPrivateKey: string | undefined;
  /** Price floor = estimated LLM cost × this. */
  minMargin: number;
  /** AGENT_PRICING: the fixed formula, or prices learned from the outcomes. */
  pricing: "fixed" | "adaptive";
  /** AGENT_PRICE_EXPLORATION: the share of adaptive bids that may explore (0..1). */
  priceExploration: number;
  /** Estimated LLM spend per agent per UTC day, USD; undefined = no cap. */
  agentDailySpendUsd: number | undefined;
  /** Estimated LLM spend of the whole runner per UTC day, USD; undefined = no cap. */
  runnerDailySpendUsd: number | undefined;
  /** The quality gate's settings (QUALITY_GATE, QUALITY_THRESHOLD); undefined when off. */
  quality?: { threshold: number; llmReview: boolean } | undefined;
  /** Where the CLI looks for a running runner (its HTTP surface), no trailing slash. */
  runnerUrl: string;
  /**
   * Where the marketplace reaches this runner's port from outside; when set, agents take
   * webhook notifications there (PUBLIC_URL + the webhook path).
   */
  publicUrl: string | undefined;
}

/** A bad environment value. The message is one line naming the variable. */
export class ConfigError extends BazaarRunnerError {
  override name = "ConfigError";
  constructor(message: string, options?: BazaarRunnerErrorOptions) {
    super("BR_ERR_CONFIG", message, options);
  }
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
    bazaarApiUrl: stripSlash(e.BAZAAR_API_URL ?? `http://localhost:${e.MARKETPLACE_PORT}`),
    bazaarApiUrlExplicit: e.BAZAAR_API_URL !== undefined,
    marketplacePort: e.MARKETPLACE_PORT,
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
    replicaId: e.RUNNER_REPLICA_ID ?? `${hostname()}:${process.pid}`,
    leaseTtlMs: e.LEASE_TTL * 1000,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dashboardToken: e.DASHBOARD_TOKEN,
    walletMnemonic: e.AGENT_WALLET_MNEMONIC?.trim().split(/\s+/).join(" "),
    payoutWallet: e.AGENT_WALLET,
    minMargin: e.AGENT_MIN_MARGIN,
    pricing: e.AGENT_PRICING,
    priceExploration: e.AGENT_PRICE_EXPLORATION,
    posterPrivateKey: e.POSTER_PRIVATE_KEY,
    agentDailySpendUsd: e.AGENT_DAILY_SPEND_USD,
    runnerDailySpendUsd: e.RUNNER_DAILY_SPEND_USD,
    quality:
      e.QUALITY_GATE === "off"
        ? undefined
        : { threshold: e.QUALITY_THRESHOLD, llmReview: e.QUALITY_GATE === "review" },
    runnerUrl: stripSlash(e.RUNNER_URL ?? `http://localhost:${e.PORT}`),
    publicUrl: e.PUBLIC_URL === undefined ? undefined : stripSlash(e.PUBLIC_URL),
  };
}
