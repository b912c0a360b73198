import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import {
  CSS_TYPE,
  JS_TYPE,
  pageCsp,
  readStaticFolder,
  SHARED_ASSETS,
  type StaticFile,
  servePage,
  serveStatic,
} from "../web/static.ts";

/**
 * Reads the page and every module and stylesheet of the dashboard folder once; uPlot comes
 * from node_modules, so no CDN is needed.
 */
async function loadAssets(): Promise<{ page: Buffer; assets: Map<string, StaticFile> }> {
  const here = new URL("./dashboard/", import.meta.url);
  const require = createRequire(import.meta.url);
  const [page, assets, uJs, uCss] = await Promise.all([
    readFile(new URL("index.html", here)),
    readStaticFolder(here),
    readFile(require.resolve("uplot/dist/uPlot.esm.js")),
    readFile(require.resolve("uplot/dist/uPlot.min.css")),
  ]);
  assets.set("uplot.esm.js", { body: uJs, type: JS_TYPE });
  assets.set("uplot.min.css", { body: uCss, type: CSS_TYPE });
  return { page, assets };
}

const notFound = (reply: FastifyReply) =>
  reply.code(404).send({ error: "not_found", message: "no such asset" });

/**
 * GET / (the dashboard; `?live=0` renders once, without the event stream), GET /assets/*
 * (its modules, styles and uPlot) and GET /web/assets/* (the base styles and DOM helpers
 * it shares with the marketplace's poster page).
 */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const [{ page, assets }, shared] = await Promise.all([
    loadAssets(),
    readStaticFolder(SHARED_ASSETS),
  ]);

  // Inline styles allowed, as the dashboard always has; inline scripts never.
  servePage(app, "/", page, pageCsp(true));

  // The page carries its icon inline; browsers still ask for /favicon.ico now and then
  // (after a redirect, say), and a 404 there would be a console error on every such load.
  app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());

  serveStatic(app, { prefix: "/assets/", files: assets, notFound });
  serveStatic(app, { prefix: "/web/assets/", files: shared, notFound });
};
