import type { FastifyPluginAsync } from "fastify";
import type { StatusSource } from "../runner/telemetry/status-types.ts";

/** Liveness and readiness probes (always open, even with a dashboard token). */
export const healthRoutes: FastifyPluginAsync<{ status: StatusSource }> = async (app, opts) => {
  app.get("/healthz", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return { status: "ok" };
  });

  app.get("/readyz", async (_request, reply) => {
    const { ready, reasons } = opts.status.ready();
    reply.header("cache-control", "no-store");
    if (ready) return { ready: true };
    return reply.code(503).send({ ready: false, reasons });
  });
};
