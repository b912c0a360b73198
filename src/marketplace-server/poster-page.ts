import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  pageCsp,
  readStaticFolder,
  SHARED_ASSETS,
  STATIC_HEADERS,
  servePage,
  serveStatic,
} from "../web/static.ts";
import { PagePoster, pagePosterKeyFile } from "./poster-identity.ts";
import { parseBody } from "./validation.ts";

/**
 * The poster's page of the embedded marketplace, at /poster/: post a job with files,
 * watch the bids, counter, approve, award, run hosted execution, review or sign off,
 * and see the payment. Plain ES modules and a stylesheet from ./poster/, no build step,
 * over the base styles and DOM helpers it shares with the runner's dashboard
 * (src/web/assets/, served at /web/assets/); the page reads the public JSON API as any
 * client would.
 *
 * Counters, approvals and rejections need the job's poster signed in. The page holds no
 * key and no session: it asks /poster/act/… and the marketplace signs in as the page's
 * poster (poster-identity.ts) and sends the call. Those routes act for whoever reaches
 * them, so they answer only a request from this machine, addressed to this machine by
 * name (no DNS rebinding) and sent by the page itself (no other site's form or script).
 */

/** The negotiation calls the page may ask the marketplace to make as its poster. */
const ACTIONS = ["counter", "accept-counter", "approve", "reject"] as const;
type Action = (typeof ACTIONS)[number];

const CounterRequest = z.object({
  new_price: z.number().positive(),
  message: z.string().max(2000).default(""),
});

/** Host names that reach this machine, with an optional port. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

function isLoopbackPeer(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith("127.");
  return address === "::1";
}

/** Why a request may not act as the page's poster, or null when it may. */
export function actRefusal(request: FastifyRequest): string | null {
  if (!isLoopbackPeer(request.socket.remoteAddress))
    return "the poster page acts only for requests from this machine";
  const host = request.headers.host ?? "";
  if (!LOOPBACK_HOST.test(host))
    return "the poster page acts only when addressed as 127.0.0.1, localhost or [::1]";
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`)
    return `the poster page acts only for itself, not for ${origin}`;
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin")
    return "the poster page acts only for itself (Sec-Fetch-Site)";
  return null;
}

const notFound = (reply: FastifyReply) => reply.code(404).send({ detail: "Not Found" });

export interface PosterPageOptions {
  /** The marketplace's database; the page's poster key is kept beside it (see pagePosterKeyFile). */
  dbPath: string;
}

/**
 * GET /poster/ (the page), GET /poster/assets/* (its modules and stylesheet),
 * GET /web/assets/* (the styles and DOM helpers it shares with the dashboard),
 * GET /poster/identity (the wallet the page posts as) and POST /poster/act/bids/:bid_id/:action.
 */
export const posterPage: FastifyPluginAsync<PosterPageOptions> = async (app, options) => {
  const here = new URL("./poster/", import.meta.url);
  const [page, assets, shared] = await Promise.all([
    readFile(new URL("index.html", here)),
    readStaticFolder(here),
    readStaticFolder(SHARED_ASSETS),
  ]);
  const server = app as FastifyInstance;
  const poster = new PagePoster(server, pagePosterKeyFile(options.dbPath));

  servePage(server, "/poster", page, pageCsp(false));
  serveStatic(server, { prefix: "/poster/assets/", files: assets, notFound });
  serveStatic(server, { prefix: "/web/assets/", files: shared, notFound });

  app.get("/poster/identity", async (_request, reply) =>
    reply
      .headers(STATIC_HEADERS)
      .send({ wallet: poster.wallet, poster_id: poster.wallet.toLowerCase() }),
  );

  app.post<{ Params: { bid_id: string; action: string } }>(
    "/poster/act/bids/:bid_id/:action",
    async (request, reply) => {
      const refusal = actRefusal(request);
      if (refusal) {
        request.log.warn(
          { url: request.url, host: request.headers.host, origin: request.headers.origin },
          `poster page: refused an action (${refusal})`,
        );
        return reply.code(403).send({ detail: refusal });
      }
      const { bid_id: bidId, action } = request.params;
      if (!(ACTIONS as readonly string[]).includes(action))
        return reply.code(404).send({ detail: "Not Found" });
      const path = `/api/bids/${encodeURIComponent(bidId)}/${action as Action}`;
      const answer =
        action === "counter"
          ? await poster.act("POST", path, {
              ...parseBody(CounterRequest, request.body),
              by: "poster",
            })
          : await poster.act("POST", action === "accept-counter" ? `${path}?by=poster` : path);
      return reply.code(answer.status).send(answer.body);
    },
  );
};
