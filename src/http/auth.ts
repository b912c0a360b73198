import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { WEBHOOK_PATH } from "./webhook.ts";

/** Paths that stay open for probes and scrapers even when a token is required. */
// Probes stay open; so does the favicon, which browsers fetch on their own, cookie or not.
const OPEN_PATHS = new Set(["/healthz", "/readyz", "/metrics", "/favicon.ico"]);
const COOKIE_NAME = "bazaar_dashboard";
const COOKIE_MAX_AGE_S = 7 * 24 * 3600;

/** True for addresses only this machine can reach; there the token is not needed. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return (
    h === "localhost" || h === "::1" || h === "::ffff:127.0.0.1" || /^127(\.\d{1,3}){3}$/.test(h)
  );
}

/** Constant-time string comparison: both sides are hashed first so lengths never leak. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** The URL without its `token` query parameter (where the browser is sent after login). */
function withoutToken(url: string): string {
  const parsed = new URL(url, "http://x");
  parsed.searchParams.delete("token");
  return parsed.pathname + parsed.search;
}

/**
 * The onRequest hook guarding the dashboard and the API with DASHBOARD_TOKEN.
 * Accepts `Authorization: Bearer T`, the session cookie, or `?token=T` once (which sets
 * the HttpOnly cookie, so the page's own fetches and EventSource work). The cookie holds
 * an HMAC of the token, never the token itself.
 */
export function tokenGuard(token: string) {
  const session = createHmac("sha256", token)
    .update("bazaar-runner dashboard session")
    .digest("hex");

  // Returning the reply after sending tells fastify the request is answered (stop here).
  return async function guard(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const path = pathOf(request.url);
    if (OPEN_PATHS.has(path)) return;
    // The marketplace cannot present the token; the endpoint guards itself (webhook.ts).
    if (path === WEBHOOK_PATH) return;

    const presented = bearer(request.headers.authorization);
    if (presented !== undefined && safeEqual(presented, token)) return;

    const cookie = readCookie(request.headers.cookie, COOKIE_NAME);
    if (cookie !== undefined && safeEqual(cookie, session)) return;

    const query = request.query as Record<string, unknown> | undefined;
    const fromQuery = typeof query?.token === "string" ? query.token : undefined;
    if (fromQuery !== undefined && safeEqual(fromQuery, token)) {
      const secure = request.headers["x-forwarded-proto"] === "https" ? "; Secure" : "";
      reply.header(
        "set-cookie",
        `${COOKIE_NAME}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_S}${secure}`,
      );
      // A page load: drop the token from the address bar and history.
      if (request.method === "GET" && path === "/") {
        return reply.redirect(withoutToken(request.url), 303);
      }
      return;
    }

    reply.header("www-authenticate", 'Bearer realm="bazaar-runner"');
    reply.header("cache-control", "no-store");
    if (path === "/" && (request.headers.accept ?? "").includes("text/html")) {
      return reply
        .code(401)
        .type("text/html; charset=utf-8")
        .send(
          "<!doctype html><meta charset=utf-8><title>bazaar-runner</title>" +
            "<p style='font-family:system-ui;margin:3rem'>This dashboard needs its token: " +
            "open <code>/?token=&lt;DASHBOARD_TOKEN&gt;</code> once.</p>",
        );
    }
    return reply.code(401).send({ error: "unauthorized", message: "DASHBOARD_TOKEN required" });
  };
}
