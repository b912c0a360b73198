import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { RunnerConfig } from "../config/env.ts";
import { createHttpServer } from "../http/server.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import type { RunningMarketplace } from "../marketplace-server/index.ts";
import { isAgentBazaar } from "../marketplace-server/probe.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { Runner } from "../runner/runner.ts";
import { errorMessage } from "../secrets.ts";
import { CliError } from "./context.ts";

export interface AppOptions {
  config: RunnerConfig;
  logger: Logger;
  metrics?: Metrics;
  llm?: LlmClient;
  /** Port of the embedded marketplace when BAZAAR_API_URL is unset (8000; tests use 0). */
  embeddedMarketplacePort?: number;
  /** Seconds after a job's first bid at which the embedded marketplace awards it. */
  autoAwardSeconds?: number;
}

export interface App {
  runner: Runner;
  http: FastifyInstance;
  /** Where the runner's HTTP surface listens. */
  httpUrl: string;
  marketplaceUrl: string;
  stop(): Promise<void>;
}

/**
 * `bazaar-runner start`: the embedded marketplace when BAZAAR_API_URL is unset (or the
 * one already answering on port 8000), the runner, and its HTTP surface.
 */
export async function startApp(options: AppOptions): Promise<App> {
  const { logger } = options;
  let config = options.config;
  const metrics = options.metrics ?? createMetrics();
  let marketplace: RunningMarketplace | undefined;

  if (!config.bazaarApiUrlExplicit) {
    const port = options.embeddedMarketplacePort ?? 8000;
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
    throw error;
  }

  const http = await createHttpServer({
    status: runner,
    metrics,
    logger,
    dashboardToken: config.dashboardToken,
    host: config.host,
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
    throw new CliError(
      `cannot listen on ${config.host}:${config.port} (PORT): ${errorMessage(error)}`,
    );
  }
  logger.info(
    { url: httpUrl, dashboard: `${httpUrl}/`, metrics: `${httpUrl}/metrics` },
    "health, metrics and dashboard listening",
  );

  let stopped: Promise<void> | undefined;
  return {
    runner,
    http,
    httpUrl,
    marketplaceUrl: config.bazaarApiUrl,
    stop() {
      stopped ??= (async () => {
        await runner.stop();
        await http.close();
        await marketplace?.close();
      })();
      return stopped;
    },
  };
}
