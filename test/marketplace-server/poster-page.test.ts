import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InjectOptions } from "fastify";
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { createMarketplaceApp, type MarketplaceApp } from "../../src/marketplace-server/index.ts";
import { posterAccount } from "../../src/wallet/poster-key.ts";
import { LogCapture } from "../support/log-capture.ts";
import { registerAgent } from "../support/marketplace-requests.ts";
import type { Api, RawResponse } from "../support/raw-http.ts";

/**
 * The poster page's server side: the page and its modules under /poster/ (with `/` still
 * the JSON it was), the page's poster identity, and the calls the marketplace makes as
 * that poster for the page, which it makes only for the page itself on this machine.
 */
describe("the poster page's routes", () => {
  let dir: string | undefined;
  let market: MarketplaceApp | undefined;
  const logs = new LogCapture();

  afterEach(async () => {
    await market?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    market = dir = undefined;
  });

  async function open(): Promise<MarketplaceApp> {
    dir ??= await mkdtemp(join(tmpdir(), "bazaar-poster-routes-"));
    market = await createMarketplaceApp({
      dbPath: join(dir, "marketplace.sqlite"),
      logger: createLogger({ level: "warn", destination: logs, pretty: false }),
    });
    return market;
  }

  /** The raw-HTTP helpers over inject: requests as from 127.0.0.1, Host localhost:80. */
  function injectApi(m: MarketplaceApp): Api {
    const send = async (options: InjectOptions): Promise<RawResponse> => {
      const res = await m.app.inject(options);
      let json: unknown = null;
      try {
        json = res.json();
      } catch {
        json = null;
      }
      return { status: res.statusCode, headers: new Headers(), text: res.body, json };
    };
    return {
      base: "http://localhost",
      req: (method, url, body, headers = {}) =>
        send({
          method: method as InjectOptions["method"],
          url,
          headers:
            body === undefined ? headers : { "content-type": "application/json", ...headers },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        }),
      raw: (method, url, raw) =>
        send({
          method: method as InjectOptions["method"],
          url,
          headers: { "content-type": "application/json" },
          payload: raw,
        }),
    };
  }

  /** A job of the page's poster with one bid at `price`. */
  async function jobWithBid(m: MarketplaceApp, price: number) {
    const a = injectApi(m);
    const { wallet } = (await a.req("GET", "/poster/identity")).json as { wallet: string };
    const posted = await a.req("POST", "/api/jobs", {
      title: "Review the billing module",
      description: "Find the bugs",
      required_capabilities: ["analysis"],
      budget_usd: 20,
      poster_id: wallet.toLowerCase(),
      poster_wallet: wallet,
    });
    expect(posted.status, posted.text).toBe(200);
    const jobId = (posted.json as { job_id: string }).job_id;
    const agentId = await registerAgent(a);
    const bid = await a.req(
      "POST",
      `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=${price}&estimated_quality=0.8&estimated_time_seconds=60&approach_summary=careful`,
    );
    expect(bid.status, bid.text).toBe(200);
    return { a, jobId, bidId: (bid.json as { bid_id: string }).bid_id };
  }

  const bidOf = async (a: Api, jobId: string, bidId: string) => {
    const bids = (
      (await a.req("GET", `/api/jobs/${jobId}/bids`)).json as {
        bids: Array<{ bid_id: string; status: string; counter_offers: unknown[] }>;
      }
    ).bids;
    return bids.find((b) => b.bid_id === bidId);
  };

  it("serves the page and its modules under /poster/, and / still answers its JSON", async () => {
    const m = await open();
    for (const url of ["/poster/", "/poster"]) {
      const page = await m.app.inject({ url });
      expect(page.statusCode).toBe(200);
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(page.body).toContain('<script type="module" src="/poster/assets/app.js">');
    }
    for (const name of ["app.js", "api.js", "dom.js", "format.js", "render.js"]) {
      const asset = await m.app.inject({ url: `/poster/assets/${name}` });
      expect(asset.statusCode, name).toBe(200);
      expect(asset.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    }
    const css = await m.app.inject({ url: "/poster/assets/style.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await m.app.inject({ url: "/poster/assets/../poster-page.ts" })).statusCode).toBe(404);
    expect((await m.app.inject({ url: "/poster/assets/nothing.js" })).statusCode).toBe(404);
    const root = await m.app.inject({ url: "/" });
    expect(root.json()).toEqual({
      name: "AgentBazaar (embedded)",
      status: "operational",
      embedded: true,
    });
  });

  it("the page's poster is the CLI's development poster: one key file beside the database, kept across restarts", async () => {
    const m = await open();
    const first = (await m.app.inject({ url: "/poster/identity" })).json() as { wallet: string };
    const key = (await readFile(join(dir ?? "", "dev-poster-key"), "utf8")).trim();
    expect(first.wallet).toBe(privateKeyToAccount(key as `0x${string}`).address);
    await m.close();
    const again = await open();
    expect((await again.app.inject({ url: "/poster/identity" })).json()).toEqual({
      wallet: first.wallet,
      poster_id: first.wallet.toLowerCase(),
    });
    // `bazaar-runner jobs …` with RUNNER_STATE_DIR here signs as the same poster.
    const cli = posterAccount({
      posterPrivateKey: undefined,
      stateDir: dir ?? "",
      bazaarApiUrl: "http://127.0.0.1:8000",
    });
    expect(cli.address).toBe(first.wallet);
  });

  it("counters, accepts the agent's counter, approves and rejects as the job's poster for the page", async () => {
    const m = await open();
    const { a, jobId, bidId } = await jobWithBid(m, 12);
    expect((await bidOf(a, jobId, bidId))?.status).toBe("awaiting_approval");
    // The public route refuses a caller who is not signed in as the poster...
    const anonymous = await a.req("POST", `/api/bids/${bidId}/approve`);
    expect(anonymous.status).toBe(401);
    // ...and the page's route makes the call signed in as the poster.
    const approved = await a.req("POST", `/poster/act/bids/${bidId}/approve`, undefined, {
      origin: "http://localhost:80",
      "sec-fetch-site": "same-origin",
    });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json).toMatchObject({ bid_id: bidId, approved: true });

    const countered = await a.req("POST", `/poster/act/bids/${bidId}/counter`, {
      new_price: 9,
      message: "9?",
    });
    expect(countered.status, countered.text).toBe(200);
    expect(countered.json).toMatchObject({
      status: "counter_offered",
      counter_offers: [{ price_usd: 9, message: "9?", by: "poster" }],
    });
    // Accepting its own offer is the marketplace's 400, relayed as it is.
    const own = await a.req("POST", `/poster/act/bids/${bidId}/accept-counter`);
    expect(own.status).toBe(400);
    expect(own.json).toEqual({ detail: "The last counter-offer was made by the poster" });

    const rejected = await a.req("POST", `/poster/act/bids/${bidId}/reject`);
    expect(rejected.json).toEqual({ bid_id: bidId, status: "rejected" });
    expect((await bidOf(a, jobId, bidId))?.status).toBe("rejected");

    expect((await a.req("POST", `/poster/act/bids/${bidId}/select`)).status).toBe(404);
    const bad = await a.req("POST", `/poster/act/bids/${bidId}/counter`, { new_price: "lots" });
    expect(bad.status).toBe(422);
  });

  it("acts only for the page on this machine: not for another site, a rebound host name or another machine", async () => {
    const m = await open();
    const { a, jobId, bidId } = await jobWithBid(m, 2);
    const counter = (headers: Record<string, string>, remoteAddress = "127.0.0.1") =>
      m.app.inject({
        method: "POST",
        url: `/poster/act/bids/${bidId}/counter`,
        headers: { "content-type": "application/json", ...headers },
        payload: JSON.stringify({ new_price: 1, message: "cheaper" }),
        remoteAddress,
      });

    const refusals: Array<[Record<string, string>, string, string]> = [
      [{ origin: "https://evil.example" }, "127.0.0.1", "not for https://evil.example"],
      [{ "sec-fetch-site": "cross-site" }, "127.0.0.1", "Sec-Fetch-Site"],
      [{ host: "evil.example:8000" }, "127.0.0.1", "addressed as 127.0.0.1, localhost or [::1]"],
      [{}, "10.1.2.3", "requests from this machine"],
    ];
    for (const [headers, remote, why] of refusals) {
      const res = await counter(headers, remote);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect((res.json() as { detail: string }).detail).toContain(why);
    }
    expect((await bidOf(a, jobId, bidId))?.counter_offers).toEqual([]);
    expect(
      logs.entries().filter((l) => String(l.msg).startsWith("poster page: refused an action")),
    ).toHaveLength(refusals.length);

    // The same request from the page itself, addressed by IP or by name, goes through.
    const ok = await counter({ host: "127.0.0.1:8000", origin: "http://127.0.0.1:8000" });
    expect(ok.statusCode, ok.body).toBe(200);
    const ipv6 = await counter({ host: "[::1]:8000" }, "::1");
    expect(ipv6.statusCode, ipv6.body).toBe(200);
  });
});
