import { readdir, readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";

/** One file a page may load, read once at start. */
export interface StaticFile {
  body: Buffer;
  type: string;
}

export const JS_TYPE = "text/javascript; charset=utf-8";
export const CSS_TYPE = "text/css; charset=utf-8";

/** What a browser may load from a page's folder: its modules and stylesheets, not its .ts types. */
const SERVED: Record<string, string> = { ".js": JS_TYPE, ".css": CSS_TYPE };

/** Headers of every page and file: no sniffing, no referrer, always revalidated. */
export const STATIC_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * The page may load only its own files and talk only to its own origin;
 * `inlineStyles` also allows inline styles (`'unsafe-inline'`), never inline scripts.
 */
export function pageCsp(inlineStyles: boolean): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    inlineStyles ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Reads every module and stylesheet of `folder` (a directory URL ending in `/`) once. */
export async function readStaticFolder(folder: URL): Promise<Map<string, StaticFile>> {
  const names = (await readdir(folder)).filter((name) => SERVED[extname(name)] !== undefined);
  const bodies = await Promise.all(names.map((name) => readFile(new URL(name, folder))));
  return new Map(
    names.map((name, i) => [name, { body: bodies[i]!, type: SERVED[extname(name)]! }]),
  );
}

/** The shared base stylesheet and DOM helpers both pages load from /web/assets/ (this folder's assets/). */
export const SHARED_ASSETS = new URL("./assets/", import.meta.url);

export interface ServeStaticOptions {
  /** URL prefix ending in `/`: a file `x.js` is served at `${prefix}x.js`. */
  prefix: string;
  files: ReadonlyMap<string, StaticFile>;
  /** Sends the 404 of a name not in `files`, in the server's own error shape. */
  notFound: (reply: FastifyReply) => FastifyReply;
}

/** GET `${prefix}*`: the files by name, nothing else (no path walks outside them). */
export function serveStatic(app: FastifyInstance, options: ServeStaticOptions): void {
  app.get(`${options.prefix}*`, async (request, reply) => {
    const file = options.files.get((request.params as { "*": string })["*"]);
    if (!file) return options.notFound(reply);
    return reply.headers(STATIC_HEADERS).type(file.type).send(file.body);
  });
}

/** GET `path`: the page itself, with its content security policy; framing refused. */
export function servePage(app: FastifyInstance, path: string, page: Buffer, csp: string): void {
  app.get(path, async (_request, reply) =>
    reply
      .headers({ ...STATIC_HEADERS, "content-security-policy": csp, "x-frame-options": "DENY" })
      .type("text/html; charset=utf-8")
      .send(page),
  );
}
