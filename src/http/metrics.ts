import type { FastifyPluginAsync } from "fastify";
import type { Metrics } from "../metrics.ts";

/** Prometheus scrape endpoint: the runner's own registry (process metrics included). */
export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, opts) => {
  app.get("/metrics", async (_request, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply
      .header("content-type", opts.metrics.registry.contentType)
      .header("cache-control", "no-store")
      .send(body);
  });
};
