import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { MarketplaceError } from "../../src/marketplace/errors.ts";
import {
  type CallOptions,
  fillRoute,
  MarketplaceTransport,
} from "../../src/marketplace/transport.ts";

describe("route templates", () => {
  it("fills each :name with its value, URL-encoded, and splits off the method", () => {
    expect(
      fillRoute("POST /api/jobs/:id/select-bid/:bid", { id: "job 1/2", bid: "bid_9" }),
    ).toEqual({ method: "POST", path: "/api/jobs/job%201%2F2/select-bid/bid_9" });
    expect(fillRoute("GET /api/agents", {})).toEqual({ method: "GET", path: "/api/agents" });
  });

  it("refuses a template whose parameter has no value", () => {
    expect(() => fillRoute("GET /api/jobs/:id", {})).toThrow("GET /api/jobs/:id: no value for :id");
  });

  it("types params from the template: each name required, no other", () => {
    const schema = { safeParse: () => ({ success: true, data: null }) } as never;
    const ok: CallOptions<null, "GET /api/jobs/:id/bids"> = {
      route: "GET /api/jobs/:id/bids",
      params: { id: "job_1" },
      schema,
    };
    // @ts-expect-error: the template names :id, so params must give it.
    const missing: CallOptions<null, "GET /api/jobs/:id"> = { route: "GET /api/jobs/:id", schema };
    const extra: CallOptions<null, "GET /api/jobs"> = {
      route: "GET /api/jobs",
      // @ts-expect-error: a template without parameters takes no params.
      params: { id: "job_1" },
      schema,
    };
    expect([ok.params, missing.route, extra.route]).toEqual([
      { id: "job_1" },
      "GET /api/jobs/:id",
      "GET /api/jobs",
    ]);
  });
});

describe("answers read from a loopback server", () => {
  /** A server answering every request with `reply`; the transport's pool is closed after. */
  async function withServer(
    reply: (res: ServerResponse, req: IncomingMessage) => void,
    body: (transport: MarketplaceTransport) => Promise<void>,
    options: { maxBodyBytes?: number; timeoutMs?: number; basePath?: string } = {},
  ): Promise<void> {
    const server = createServer((req, res) => reply(res, req));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const dispatcher = new Agent();
    try {
      await body(
        new MarketplaceTransport({
          baseUrl: `http://127.0.0.1:${port}${options.basePath ?? ""}`,
          dispatcher,
          maxAttempts: 1,
          ...options,
        }),
      );
    } finally {
      await dispatcher.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const list = (transport: MarketplaceTransport) =>
    transport.call({ route: "GET /api/jobs", schema: z.array(z.number()) }).then(
      (value) => ({ value }),
      (error: unknown) => ({ error: error as MarketplaceError }),
    );

  it("reads a body of announced length and one sent in chunks", async () => {
    await withServer(
      (res) => res.setHeader("content-type", "application/json").end("[1,2,3]"),
      async (transport) => expect(await list(transport)).toEqual({ value: [1, 2, 3] }),
    );
    await withServer(
      (res) => {
        res.setHeader("content-type", "application/json");
        res.write("[1,");
        setTimeout(() => res.end("2]"), 20);
      },
      async (transport) => expect(await list(transport)).toEqual({ value: [1, 2] }),
    );
  });

  it("refuses a body past maxBodyBytes, announced or counted as it arrives", async () => {
    const big = JSON.stringify(Array.from({ length: 100 }, (_, i) => i));
    for (const chunked of [false, true]) {
      await withServer(
        (res) => {
          if (!chunked) return res.end(big);
          res.write(big.slice(0, 100));
          res.end(big.slice(100));
        },
        async (transport) => {
          const { error } = (await list(transport)) as { error: MarketplaceError };
          expect(error.kind).toBe("invalid-response");
          expect(error.message).toMatch(/answer larger than 64 bytes/);
        },
        { maxBodyBytes: 64 },
      );
    }
  });

  it("hands a 2xx body to the call's sink past maxBodyBytes; an error's body stays capped", async () => {
    const big = JSON.stringify(Array.from({ length: 100 }, (_, i) => i));
    /** Counts the bytes it is given. */
    const sinks: Array<{ bytes: number }> = [];
    const counting = () => {
      const seen = { bytes: 0 };
      sinks.push(seen);
      return {
        write: (chunk: Uint8Array) => {
          seen.bytes += chunk.byteLength;
        },
        end: () => seen.bytes,
      };
    };
    let status = 200;
    await withServer(
      (res) => {
        res.statusCode = status;
        res.write(big.slice(0, 100));
        res.end(big.slice(100));
      },
      async (transport) => {
        const call = () =>
          transport.call({ route: "GET /api/jobs", sink: counting, schema: z.number() });
        expect(await call()).toBe(big.length);
        status = 503;
        const error = (await call().catch((e: unknown) => e)) as MarketplaceError;
        expect(error.message).toMatch(/answer larger than 64 bytes/);
        // The error's body never reached a sink.
        expect(sinks).toHaveLength(1);
      },
      { maxBodyBytes: 64 },
    );
  });

  it("turns a sink's refusal into an invalid answer", async () => {
    await withServer(
      (res) => res.end("{}"),
      async (transport) => {
        const error = (await transport
          .call({
            route: "GET /api/jobs",
            sink: () => ({
              write: () => {
                throw new Error("not a listing");
              },
              end: () => null,
            }),
            schema: z.unknown(),
          })
          .catch((e: unknown) => e)) as MarketplaceError;
        expect(error.kind).toBe("invalid-response");
        expect(error.message).toMatch(/not JSON \(not a listing\)/);
      },
    );
  });

  it("gives up on headers or a body that do not come within timeoutMs", async () => {
    await withServer(
      () => {},
      async (transport) => {
        const { error } = (await list(transport)) as { error: MarketplaceError };
        expect(error.kind).toBe("timeout");
        expect(error.message).toMatch(/no answer within 100 ms/);
      },
      { timeoutMs: 100 },
    );
    await withServer(
      (res) => res.write("[1,"),
      async (transport) => {
        const { error } = (await list(transport)) as { error: MarketplaceError };
        expect(error.kind).toBe("timeout");
      },
      { timeoutMs: 100 },
    );
  });

  it("sends the path under the base URL's own path, with the defined query entries", async () => {
    const seen: string[] = [];
    await withServer(
      (res, req) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
        res.setHeader("content-type", "application/json").end("[]");
      },
      async (transport) => {
        await transport.call({
          route: "GET /api/agents/:id/jobs",
          params: { id: "a b" },
          query: { status: "posted", limit: 5, skip: undefined, q: "x&y z" },
          schema: z.array(z.number()),
          token: "session-token",
        });
        await list(transport);
      },
      { basePath: "/market/" },
    );
    expect(seen).toEqual([
      "GET /market/api/agents/a%20b/jobs?status=posted&limit=5&q=x%26y+z Bearer session-token",
      "GET /market/api/jobs undefined",
    ]);
  });

  it("fails a request undici refuses (an invalid header value) without sending it", async () => {
    let requests = 0;
    await withServer(
      (res) => {
        requests++;
        res.end("[]");
      },
      async (transport) => {
        const error = await transport
          .call({ route: "GET /api/jobs", schema: z.array(z.number()), token: "bad\nvalue" })
          .catch((e: unknown) => e as MarketplaceError);
        expect(error).toMatchObject({ kind: "network" });
        expect((error as MarketplaceError).message).toMatch(/invalid authorization header/);
      },
    );
    expect(requests).toBe(0);
  });

  it("gives up with the caller's reason when its signal aborts, before or during the call", async () => {
    await withServer(
      () => {},
      async (transport) => {
        const reason = new Error("closing");
        const call = (signal: AbortSignal) =>
          transport
            .call({ route: "GET /api/jobs", schema: z.array(z.number()), signal })
            .catch((error: unknown) => error);
        expect(await call(AbortSignal.abort(reason))).toBe(reason);
        const controller = new AbortController();
        const pending = call(controller.signal);
        setTimeout(() => controller.abort(reason), 50);
        expect(await pending).toBe(reason);
      },
      { timeoutMs: 60_000 },
    );
  });
});
