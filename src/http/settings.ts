import type { FastifyPluginAsync } from "fastify";
import type { RunnerSettings } from "../config/settings.ts";

/** GET /api/settings: the runner's effective intervals and their origin (for `doctor`). */
export const settingsRoutes: FastifyPluginAsync<{ settings: RunnerSettings }> = async (
  app,
  opts,
) => {
  app.get("/api/settings", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return opts.settings;
  });
};
