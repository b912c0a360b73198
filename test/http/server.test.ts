import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { isLoopbackHost } from "../../src/http/auth.ts";
import { createHttpServer, tokenRequired } from "../../src/http/server.ts";
import { silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { RunnerEvent, StatusSnapshot } from "../../src/runner/telemetry/status-types.ts";
import { waitFor } from "../support/wait.ts";
import { FakeStatusSource } from "./fake-status.ts";
import { openEventStream } from "./sse-client.ts";

const TOKEN = "s3cret-dashboard-token";
const servers: FastifyInstance[] = [];

async function start(
  options: { host?: string; dashboardToken?: string; status?: FakeStatusSource } = {},
) {
  const status = options.status ?? new FakeStatusSource();
  const metrics = createMetrics();
  metrics.agents.set({ state: "running" }, 3);
  const app = await createHttpServer({
    status,
    metrics,
    logger: silentLogger(),
    host: options.host ?? "127.0.0.1",
    dashboardToken: options.dashboardToken,
    streamTimings: { statusIntervalMs: 50, idleCheckMs: 200, heartbeatMs: 100 },
  });
  servers.push(app);
  // Always bound to loopback here; `host` only tells the server what it is exposed on.
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { app, status, metrics, base: `http://127.0.0.1:${address.port}` };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((app) => app.close()));
});

describe("probes", () => {
  it("GET /healthz answers ok", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("GET /readyz is 503 with reasons until the source is ready, then 200", async () => {
    const { base, status } = await start();
    const before = await fetch(`${base}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({
      ready: false,
      reasons: ["config not loaded", "marketplace not reached"],
    });
    status.setReady(true);
    const after = await fetch(`${base}/readyz`);
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ ready: true });
  });

  it("GET /metrics serves Prometheus text with runner and process metrics", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain("# TYPE bazaar_runner_agents gauge");
    expect(text).toContain('bazaar_runner_agents{state="running"} 3');
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_heap_size_used_bytes");
  });
});

describe("status API", () => {
  it("GET /api/status returns the snapshot", async () => {
    const { base, status } = await start();
    status.issues = [{ source: "mongo", ref: "665f00aa", message: "agent_type: unknown executor" }];
    const res = await fetch(`${base}/api/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as StatusSnapshot;
    expect(body.agents.map((a) => a.name)).toEqual([
      "SchemaArchitect",
      "AnomalyHunter",
      "CodeReviewer",
    ]);
    expect(body.agents[0]?.bidsPlaced).toBe(6);
    expect(body.config.issues).toEqual(status.issues);
    expect(body.marketplace.url).toBe("http://127.0.0.1:8000");
  });

  it("GET /api/events returns the most recent events up to limit, and rejects a bad limit", async () => {
    const { base, status } = await start();
    for (let i = 1; i <= 5; i += 1)
      status.emit({ kind: "bid", agent: "AnomalyHunter", message: `bid ${i}` });
    const res = await fetch(`${base}/api/events?limit=2`);
    const body = (await res.json()) as { events: RunnerEvent[] };
    expect(body.events.map((e) => e.message)).toEqual(["bid 4", "bid 5"]);
    expect((await fetch(`${base}/api/events?limit=0`)).status).toBe(400);
    expect((await fetch(`${base}/api/events?limit=abc`)).status).toBe(400);
  });

  it("GET /api/decisions answers each agent's decision on a job, and the recent ones", async () => {
    const { base, status } = await start();
    const at = new Date().toISOString();
    status.decisionLog.push(
      {
        at,
        jobId: "job_a",
        agent: "A",
        agentId: "agent_a",
        outcome: "bid",
        reason: null,
        detail: "bid $0.05",
        priceUsd: 0.05,
        confidence: 0.8,
      },
      {
        at,
        jobId: "job_b",
        agent: "A",
        agentId: "agent_a",
        outcome: "skip",
        reason: "no_keyword",
        detail: "no keyword",
      },
    );
    const one = await fetch(`${base}/api/decisions?job_id=job_b`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ decisions: [status.decisionLog[1]] });
    const all = (await (await fetch(`${base}/api/decisions`)).json()) as { decisions: unknown[] };
    expect(all.decisions).toHaveLength(2);
    expect((await fetch(`${base}/api/decisions?job_id=`)).status).toBe(400);
  });

  it("a failing snapshot is a 500 without the error's text", async () => {
    const status = new FakeStatusSource();
    status.snapshot = async () => {
      throw new Error("ledger exploded: mongodb://u:hunter2@db");
    };
    const { base } = await start({ status });
    const res = await fetch(`${base}/api/status`);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("hunter2");
  });
});

describe("event stream", () => {
  it("sends a snapshot first, then each new event, then fresh snapshots", async () => {
    const { base, status } = await start();
    const stream = await openEventStream(`${base}/api/events/stream`);
    try {
      expect(stream.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const first = await stream.next((f) => f.event === "status");
      expect((JSON.parse(first.data) as StatusSnapshot).agents).toHaveLength(3);

      const emitted = status.emit({
        kind: "won",
        agent: "SchemaArchitect",
        jobId: "job_77",
        message: "bid accepted",
        amountUsd: 0.05,
      });
      const frame = await stream.next((f) => f.event === "message");
      expect(JSON.parse(frame.data)).toEqual(emitted);

      const update = await stream.next((f) => {
        if (f.event !== "status") return false;
        const snap = JSON.parse(f.data) as StatusSnapshot;
        return snap.agents.find((a) => a.name === "SchemaArchitect")?.bidsWon === 4;
      });
      expect(update.data).toContain('"earnings"');
      await stream.next((f) => f.comment);
    } finally {
      stream.close();
    }
  });

  it("drops its listener when the client disconnects", async () => {
    const { base, status } = await start();
    const stream = await openEventStream(`${base}/api/events/stream`);
    await stream.next((f) => f.event === "status");
    expect(status.listenerCount()).toBe(1);
    stream.close();
    await waitFor("listener removed", () => status.listenerCount() === 0);
  });

  it("does not keep the server from closing", async () => {
    const { app, base, status } = await start();
    const stream = await openEventStream(`${base}/api/events/stream`);
    await stream.next((f) => f.event === "status");
    await app.close();
    expect(status.listenerCount()).toBe(0);
    stream.close();
  });
});

describe("dashboard token", () => {
  it("applies only with a token on a non-loopback host", () => {
    expect(tokenRequired({ host: "0.0.0.0", dashboardToken: TOKEN })).toBe(true);
    expect(tokenRequired({ host: "::", dashboardToken: TOKEN })).toBe(true);
    expect(tokenRequired({ host: "0.0.0.0" })).toBe(false);
    expect(tokenRequired({ host: "0.0.0.0", dashboardToken: "" })).toBe(false);
    for (const host of ["127.0.0.1", "::1", "localhost", "[::1]", "127.0.0.2"]) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    expect(isLoopbackHost("10.0.0.5")).toBe(false);
  });

  it("on 0.0.0.0 guards the dashboard and API but not the probes", async () => {
    const { base } = await start({ host: "0.0.0.0", dashboardToken: TOKEN });
    for (const path of ["/api/status", "/api/events", "/", "/assets/app.js"]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(await res.text()).not.toContain(TOKEN);
    }
    expect(
      (await fetch(`${base}/api/status`, { headers: { authorization: "Bearer nope" } })).status,
    ).toBe(401);
    expect((await fetch(`${base}/api/status?token=nope`)).status).toBe(401);
    const ok = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain(TOKEN);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it("answers the browser's own /favicon.ico with 204, token or not (no console 404)", async () => {
    const { base } = await start({ host: "0.0.0.0", dashboardToken: TOKEN });
    expect((await fetch(`${base}/favicon.ico`)).status).toBe(204);
  });

  it("?token= once sets an HttpOnly cookie that opens the page, API and stream", async () => {
    const { base, status } = await start({ host: "0.0.0.0", dashboardToken: TOKEN });
    const login = await fetch(`${base}/?token=${TOKEN}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/");
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(";")[0]!;

    const page = await fetch(`${base}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(TOKEN);
    expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${base}/assets/uplot.esm.js`, { headers: { cookie } })).status).toBe(200);
    expect(
      (await fetch(`${base}/api/status`, { headers: { cookie: "bazaar_dashboard=forged" } }))
        .status,
    ).toBe(401);

    const stream = await openEventStream(`${base}/api/events/stream`, { headers: { cookie } });
    try {
      expect(stream.response.status).toBe(200);
      await stream.next((f) => f.event === "status");
      status.emit({ kind: "bid", agent: "CodeReviewer", message: "bid $0.040" });
      await stream.next((f) => f.event === "message" && f.data.includes("bid $0.040"));
    } finally {
      stream.close();
    }
  });

  it("?token= on an API call answers it and sets the cookie", async () => {
    const { base } = await start({ host: "0.0.0.0", dashboardToken: TOKEN });
    const res = await fetch(`${base}/api/status?token=${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/^bazaar_dashboard=/);
  });

  it("on 127.0.0.1 the token is not required", async () => {
    const { base } = await start({ host: "127.0.0.1", dashboardToken: TOKEN });
    expect((await fetch(`${base}/api/status`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(200);
  });
});

describe("dashboard assets", () => {
  it("serves the page, its script and styles, and uPlot from node_modules", async () => {
    const { base } = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="/assets/app.js"');
    expect(html).toContain('data-testid="timeline"');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);

    const uplot = await fetch(`${base}/assets/uplot.esm.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await uplot.text()).toContain("uPlot");
    const css = await fetch(`${base}/assets/uplot.min.css`);
    expect(await css.text()).toContain(".uplot");
    const charts = await fetch(`${base}/assets/charts.js`);
    expect(await charts.text()).toContain('from "./uplot.esm.js"');
    expect((await fetch(`${base}/assets/style.css`)).headers.get("content-type")).toMatch(
      /^text\/css/,
    );

    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
  });
});
