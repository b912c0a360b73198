import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname } from "node:path";
import type { FastifyPluginAsync } from "fastify";

interface Asset {
  body: Buffer;
  type: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** The page may load only its own files and talk only to its own origin. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** What the browser may load from the dashboard folder; its .ts files are types for tsc. */
const SERVED: Record<string, string> = { ".js": JS, ".css": CSS };

/**
 * Reads the page and every module and stylesheet of the dashboard folder once; uPlot comes
 * from node_modules, so no CDN is needed.
 */
async function loadAssets(): Promise<{ page: Buffer; assets: Map<string, Asset> }> {
  const here = new URL("./dashboard/", import.meta.url);
  const require = createRequire(import.meta.url);
  const assets = new Map<string, Asset>();
  const names = (await readdir(here)).filter((name) => SERVED[extname(name)] !== undefined);
  const [page, ...bodies] = await Promise.all([
    readFile(new URL("index.html", here)),
    ...names.map((name) => readFile(new URL(name, here))),
  ]);
  names.forEach((name, i) => {
    assets.set(name, { body: bodies[i]!, type: SERVED[extname(name)]! });
  });
  const [uJs, uCss] = await Promise.all([
    readFile(require.resolve("uplot/dist/uPlot.esm.js")),
    readFile(require.resolve("uplot/dist/uPlot.min.css")),
  ]);
  assets.set("uplot.esm.js", { body: uJs, type: JS });
  assets.set("uplot.min.css", { body: uCss, type: CSS });
  return { page: page!, assets };
}

/** GET / (the dashboard; `?live=0` renders once, without the event stream) and GET /assets/* (its modules, styles and uPlot). */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const { page, assets } = await loadAssets();

  const common = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };

  app.get("/", async (_request, reply) => {
    return reply
      .headers({ ...common, "content-security-policy": CSP, "x-frame-options": "DENY" })
      .type("text/html; charset=utf-8")
      .send(page);
  });

  // The page carries its icon inline; browsers still ask for /favicon.ico now and then
  // (after a redirect, say), and a 404 there would be a console error on every such load.
  app.get("/favicon.ico", async (_request, reply) => reply.code(204).send());

  app.get("/assets/*", async (request, reply) => {
    const name = (request.params as { "*": string })["*"];
    const asset = assets.get(name);
    if (!asset) return reply.code(404).send({ error: "not_found", message: "no such asset" });
    return reply.headers(common).type(asset.type).send(asset.body);
  });
};
