import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { RunnerSettings } from "../config/settings.ts";
import { frameworkLogger, type Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { StatusSource } from "../runner/telemetry/status-types.ts";
import { errorMessage } from "../secrets.ts";
import { isLoopbackHost, tokenGuard } from "./auth.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { healthRoutes } from "./health.ts";
import { metricsRoutes } from "./metrics.ts";
import { settingsRoutes } from "./settings.ts";
import { type StreamTimings, statusRoutes } from "./status.ts";
import { type WebhookOptions, webhookRoutes } from "./webhook.ts";

export interface HttpServerOptions {
  status: StatusSource;
  metrics: Metrics;
  logger: Logger;
  /** DASHBOARD_TOKEN; enforced only when `host` is not a loopback address. */
  dashboardToken?: string;
  /** The address the server will be bound to (decides whether the token applies). */
  host: string;
  /** Event-stream timings; tests shorten them. */
  streamTimings?: Partial<StreamTimings>;
  /** The push endpoint for marketplace notifications, when the runner takes them. */
  webhook?: Omit<WebhookOptions, "logger" | "metrics">;
  /** Served at GET /api/settings when given. */
  settings?: RunnerSettings;
}

/** True when the dashboard and /api/* will ask for the token. */
export function tokenRequired(
  options: Pick<HttpServerOptions, "dashboardToken" | "host">,
): boolean {
  return Boolean(options.dashboardToken) && !isLoopbackHost(options.host);
}

/**
 * The runner's HTTP surface: probes, Prometheus metrics, the status API with its event
 * stream, and the dashboard. Returned unstarted: call `listen({ host, port })`.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const log = options.logger.child({ component: "http" });
  const app = Fastify({
    // Typed as fastify's base logger so the instance matches the plain FastifyInstance type.
    loggerInstance: frameworkLogger(log) as FastifyBaseLogger,
    // Request lines would be noise (probes every few seconds) and carry ?token= in URLs.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: "idle",
  });

  app.setErrorHandler((error, request, reply) => {
    const statusCode =
      typeof (error as { statusCode?: unknown }).statusCode === "number"
        ? (error as { statusCode: number }).statusCode
        : 500;
    const path = request.url.split("?")[0];
    if (statusCode >= 500) {
      log.error({ path, error: errorMessage(error) }, "http request failed");
      return reply.code(statusCode).send({ error: "internal", message: "internal error" });
    }
    return reply.code(statusCode).send({ error: "bad_request", message: errorMessage(error) });
  });

  if (options.dashboardToken && tokenRequired(options)) {
    app.addHook("onRequest", tokenGuard(options.dashboardToken));
  } else if (options.dashboardToken) {
    log.info({ host: options.host }, "loopback bind: dashboard token not required");
  } else if (!isLoopbackHost(options.host)) {
    log.warn(
      { host: options.host },
      `the dashboard and /api/* are open to anyone who can reach ${options.host}: set DASHBOARD_TOKEN, or HOST=127.0.0.1`,
    );
  }

  await app.register(healthRoutes, { status: options.status });
  await app.register(metricsRoutes, { metrics: options.metrics });
  await app.register(statusRoutes, { status: options.status, timings: options.streamTimings });
  if (options.settings) await app.register(settingsRoutes, { settings: options.settings });
  await app.register(dashboardRoutes);
  if (options.webhook) {
    await app.register(webhookRoutes, {
      ...options.webhook,
      logger: log,
      metrics: options.metrics,
    });
  }
  return app;
}
