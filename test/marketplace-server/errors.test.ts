import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import {
  createMarketplaceApp,
  isAgentBazaar,
  type MarketplaceApp,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import { newWallet } from "../support/marketplace-requests.ts";

/** FastAPI-shaped validation and errors, through app.inject. */

let market: MarketplaceApp;
beforeAll(async () => {
  market = await createMarketplaceApp({ dbPath: ":memory:" });
});
afterAll(async () => {
  await market.close();
});

async function post(url: string, payload?: string, contentType = "application/json") {
  const res = await market.app.inject({
    method: "POST",
    url,
    ...(payload === undefined ? {} : { payload, headers: { "content-type": contentType } }),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

describe("validation errors", () => {
  it("malformed JSON is a 422 json_invalid", async () => {
    const res = await post("/api/agents/register", '{"name": ');
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatchObject([
      { type: "json_invalid", loc: ["body", 0], msg: "JSON decode error" },
    ]);
  });

  it("a missing body is a 422 on loc [body]", async () => {
    const res = await post("/api/jobs");
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { type: "missing", loc: ["body"], msg: "Field required", input: null },
    ]);
  });

  it("a JSON body that is not an object is a 422 model_attributes_type", async () => {
    const res = await post("/api/jobs", "[1, 2]");
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatchObject([{ type: "model_attributes_type", loc: ["body"] }]);
  });

  it("wrong types name the field and pydantic's error type", async () => {
    const res = await post(
      "/api/agents/register",
      JSON.stringify({
        name: 5,
        description: "d",
        owner_id: "o",
        wallet_address: newWallet(),
        capabilities: { analysis: "high", sql: 1.5 },
        base_rate_usd: true,
      }),
    );
    expect(res.status).toBe(422);
    const detail = res.body.detail as Record<string, unknown>[];
    expect(detail.map((d) => [d.loc, d.type])).toEqual([
      [["body", "name"], "string_type"],
      [["body", "base_rate_usd"], "float_type"],
      [["body", "capabilities", "analysis"], "float_parsing"],
      [["body", "capabilities", "sql"], "less_than_equal"],
    ]);
  });

  it("a missing body field reports the body as its input", async () => {
    const res = await post("/api/agents/register", JSON.stringify({ name: "n" }));
    const first = (res.body.detail as Record<string, unknown>[])[0];
    expect(first).toEqual({
      type: "missing",
      loc: ["body", "description"],
      msg: "Field required",
      input: { name: "n" },
    });
  });

  it("a route without a body ignores whatever is sent", async () => {
    const res = await post(
      "/api/jobs/job_00000000/select-bid/bid_00000000",
      "not json",
      "text/plain",
    );
    // Past the body: the route's own answer for an unknown job (the service's 400).
    expect([res.status, res.body]).toEqual([400, { detail: "Job job_00000000 not found" }]);
  });

  it("query numbers out of range are 422 (estimated_quality 0..1, price >= 0)", async () => {
    const res = await post(
      "/api/jobs/job_00000000/bids?agent_id=a&price_usd=-1&estimated_quality=1.5&estimated_time_seconds=5&approach_summary=x",
    );
    expect(res.status).toBe(422);
    const detail = res.body.detail as Record<string, unknown>[];
    expect(detail.map((d) => [d.loc, d.type])).toEqual([
      [["query", "price_usd"], "greater_than_equal"],
      [["query", "estimated_quality"], "less_than_equal"],
    ]);
  });
});

describe("methods", () => {
  it("a known path asked with another method is 405 with Allow, as Starlette answers; an unknown path 404", async () => {
    for (const [method, url, allow] of [
      ["PATCH", "/api/jobs/job_1/bids", "GET, HEAD, POST"],
      ["GET", "/api/jobs/job_1/select-bid/bid_1", "POST"],
      ["PATCH", "/api/agents/agent_1", "DELETE, GET, HEAD, PUT"],
      ["GET", "/api/auth/verify/", "POST"],
      ["DELETE", "/api/auth/logout?x=1", "POST"],
    ] as const) {
      const res = await market.app.inject({ method, url });
      expect([method, url, res.statusCode, res.json()]).toEqual([
        method,
        url,
        405,
        { detail: "Method Not Allowed" },
      ]);
      expect(res.headers.allow).toBe(allow);
    }
    const unknown = await market.app.inject({ method: "PUT", url: "/api/nothing/here" });
    expect([unknown.statusCode, unknown.json()]).toEqual([404, { detail: "Not Found" }]);
  });
});

describe("unexpected errors", () => {
  it("are a plain-text 500 Internal Server Error", async () => {
    const local = await createMarketplaceApp({ dbPath: ":memory:" });
    try {
      local.store.close(); // every handler touching the database now throws
      const res = await local.app.inject({ method: "GET", url: "/api/agents" });
      expect(res.statusCode).toBe(500);
      expect(res.body).toBe("Internal Server Error");
      expect(res.headers["content-type"]).toContain("text/plain");
    } finally {
      await local.close();
    }
  });
});

describe("isAgentBazaar", () => {
  it("is true for the embedded marketplace, false for anything else", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      expect(await isAgentBazaar(m.url)).toBe(true);
      expect(await isAgentBazaar(`${m.url}/`)).toBe(true);
      m.setFaults({ rules: [{ route: "GET /api/agents", fault: "html503" }] });
      expect(await isAgentBazaar(m.url)).toBe(false);
    } finally {
      await m.close();
    }
    // Nothing listens there any more.
    expect(await isAgentBazaar(m.url)).toBe(false);
  });

  it("gives up after its timeout on a server that never answers", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      m.setFaults({ rules: [{ route: "GET /api/agents", fault: "delay", delayMs: 3000 }] });
      expect(await isAgentBazaar(m.url, 200)).toBe(false);
    } finally {
      m.setFaults(null);
      await m.close();
    }
  });
});

describe("logging", () => {
  async function linesAt(level: string): Promise<string[]> {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const m = await startMarketplace({
      dbPath: ":memory:",
      port: 0,
      logger: createLogger({ level, destination, pretty: false }),
    });
    try {
      await fetch(`${m.url}/api/agents`);
      await fetch(`${m.url}/api/nowhere`);
      await fetch(`${m.url}/api/jobs`, { method: "POST", body: "{}" });
    } finally {
      await m.close();
    }
    return lines;
  }

  it("logs each request at debug level only", async () => {
    const info = await linesAt("info");
    expect(info.filter((l) => l.includes("/api/"))).toEqual([]);
    const debug = await linesAt("debug");
    const requests = debug.filter((l) => l.includes('"msg":"marketplace response"'));
    expect(requests).toHaveLength(3);
    expect(requests.every((l) => l.includes('"level":20'))).toBe(true);
  });
});
