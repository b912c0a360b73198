import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { RunnerConfig } from "../config/env.ts";
import { describeSettings, type RunnerSettings, runnerSettings } from "../config/settings.ts";
import { createHttpServer } from "../http/server.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import type { RunningMarketplace } from "../marketplace-server/index.ts";
import { isAgentBazaar } from "../marketplace-server/probe.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { Runner } from "../runner/runner.ts";
import { errorMessage } from "../secrets.ts";
import { startTracing, type Tracing, tracingRequested } from "../tracing/start.ts";
import { CliError } from "./context.ts";

export interface AppOptions {
  config: RunnerConfig;
  logger: Logger;
  metrics?: Metrics;
  llm?: LlmClient;
  /** Port of the embedded marketplace when BAZAAR_API_URL is unset (MARKETPLACE_PORT; tests use 0). */
  embeddedMarketplacePort?: number;
  /** The environment the config was read from (for the settings' origin); process.env. */
  env?: NodeJS.ProcessEnv;
  /** Variable names `.env` set (see loadDotEnv). */
  fromDotEnv?: readonly string[];
  /** Seconds after a job's first bid at which the embedded marketplace awards it. */
  autoAwardSeconds?: number;
}

export interface App {
  runner: Runner;
  http: FastifyInstance;
  /** Where the runner's HTTP surface listens. */
  httpUrl: string;
  marketplaceUrl: string;
  settings: RunnerSettings;
  stop(): Promise<void>;
}

/**
 * `bazaar-runner start`: the embedded marketplace when BAZAAR_API_URL is unset (or the
 * one already answering on port 8000), the runner, and its HTTP surface.
 */
export async function startApp(options: AppOptions): Promise<App> {
  const { logger } = options;
  let config = options.config;
  const env = options.env ?? process.env;
  // OpenTelemetry only when an OTEL_* variable asks (nothing of the SDK is loaded otherwise).
  const metrics = options.metrics ?? createMetrics({ exemplars: tracingRequested(env) });
  const tracing = await startTracing({ env, logger, metrics, llmPrices: config.llmPrices }).catch(
    (error: unknown): Tracing | undefined => {
      logger.warn({ problem: errorMessage(error) }, "tracing could not start; running without it");
      return undefined;
    },
  );
  let marketplace: RunningMarketplace | undefined;

  if (!config.bazaarApiUrlExplicit) {
    const port = options.embeddedMarketplacePort ?? config.marketplacePort;
    const existing = `http://127.0.0.1:${port}`;
    if (port !== 0 && (await isAgentBazaar(existing))) {
      logger.info(
        { url: existing },
        `BAZAAR_API_URL is unset and an AgentBazaar API already answers on port ${port}; using it`,
      );
      config = { ...config, bazaarApiUrl: existing };
    } else {
      try {
        // The embedded marketplace (fastify routes, its SQLite store) loads only when served.
        const { startMarketplace } = await import("../marketplace-server/index.ts");
        marketplace = await startMarketplace({
          host: "127.0.0.1",
          port,
          dbPath: join(config.stateDir, "marketplace.sqlite"),
          autoAwardSeconds: options.autoAwardSeconds,
          logger,
          // Hosted execution (POST /api/jobs/{id}/execute) uses the runner's LLM settings.
          hostedLlm: {
            client: options.llm,
            apiKey: config.fireworksApiKey,
            baseUrl: config.llmBaseUrl,
            model: config.defaultModel,
            timeoutMs: config.llmTimeoutMs,
          },
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EADDRINUSE")
          throw new CliError(
            `BAZAAR_API_URL is unset and port ${port} is taken by something that is not an AgentBazaar API: set BAZAAR_API_URL to your marketplace, or free the port`,
          );
        throw error;
      }
      config = { ...config, bazaarApiUrl: marketplace.url };
      logger.info(
        { url: marketplace.url, db: join(config.stateDir, "marketplace.sqlite") },
        "BAZAAR_API_URL is unset: serving the embedded AgentBazaar marketplace",
      );
    }
  }

  let runner: Runner;
  try {
    runner = await Runner.start({
      config,
      logger,
      metrics,
      llm: options.llm,
      embeddedMarketplace: marketplace !== undefined,
    });
  } catch (error) {
    await marketplace?.close();
    await tracing?.shutdown();
    throw error;
  }

  const settings = runnerSettings(config, env, options.fromDotEnv ?? []);
  const http = await createHttpServer({
    status: runner,
    metrics,
    logger,
    dashboardToken: config.dashboardToken,
    host: config.host,
    settings,
    // With PUBLIC_URL the agents take webhook notifications here; polling stays the fallback.
    webhook: config.publicUrl
      ? { isKnownAgent: (id) => runner.isOurAgent(id), onHint: (hint) => runner.hint(hint) }
      : undefined,
  });
  let httpUrl: string;
  try {
    httpUrl = await http.listen({ host: config.host, port: config.port });
  } catch (error) {
    await runner.stop();
    await marketplace?.close();
    await tracing?.shutdown();
    throw new CliError(
      `cannot listen on ${config.host}:${config.port} (PORT): ${errorMessage(error)}`,
    );
  }
  logger.info(
    {
      url: httpUrl,
      dashboard: `${httpUrl}/`,
      metrics: `${httpUrl}/metrics`,
      // The embedded marketplace's page for posting jobs and following them to payment.
      ...(marketplace ? { posterPage: `${marketplace.url}/poster/` } : {}),
    },
    "health, metrics and dashboard listening",
  );
  logStartSummary(logger, settings, { localMarketplace: !config.bazaarApiUrlExplicit });

  let stopped: Promise<void> | undefined;
  return {
    runner,
    http,
    httpUrl,
    marketplaceUrl: config.bazaarApiUrl,
    settings,
    stop() {
      stopped ??= (async () => {
        await runner.stop();
        await http.close();
        await marketplace?.close();
        // Last: the spans of the drain (submissions, offline) go out too.
        await tracing?.shutdown();
      })();
      return stopped;
    },
  };
}

/** The command a user types to post a demo job (the README's walkthrough). */
export const TRY_POST_COMMAND =
  'npm run bazaar-runner -- jobs post --title "Design a REST API" --description "OpenAPI spec and PostgreSQL schema for a bookings service" --budget 1 --capability schema_design';

/** What a newcomer needs after start-up: the settings in effect, how to stop, what next. */
function logStartSummary(
  logger: Logger,
  settings: RunnerSettings,
  options: { localMarketplace: boolean },
): void {
  logger.info({ settings }, `settings: ${describeSettings(settings)}`);
  logger.info(
    { graceSeconds: settings.shutdownGraceSeconds },
    `Ctrl-C (SIGINT/SIGTERM) stops the runner: no new bids, in-flight jobs finish (up to ${settings.shutdownGraceSeconds} s, SHUTDOWN_GRACE_PERIOD), agents go offline`,
  );
  const next = options.localMarketplace
    ? TRY_POST_COMMAND
    : "npm run bazaar-runner -- jobs list --status posted";
  logger.info({ command: next }, `try, in another terminal: ${next}`);
}
