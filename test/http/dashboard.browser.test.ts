import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dashboardRoutes } from "../../src/http/dashboard.ts";
import { createHttpServer } from "../../src/http/server.ts";
import { statusRoutes } from "../../src/http/status.ts";
import { silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { performanceOf } from "../../src/runner/telemetry/earnings.ts";
import type { JobOutcome } from "../../src/state/outcomes.ts";
import { browserSuiteName, CHROMIUM, hasChromium, launchChromium } from "../support/browser.ts";
import { waitFor } from "../support/wait.ts";
import { FakeStatusSource } from "./fake-status.ts";

const TOKEN = "browser-test-token-123";

const suiteName = browserSuiteName("dashboard in chromium");

describe.skipIf(!hasChromium)(suiteName, () => {
  let browser: Browser;
  const servers: FastifyInstance[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((app) => app.close()));
  });

  async function listen(app: FastifyInstance): Promise<string> {
    servers.push(app);
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    return `http://127.0.0.1:${address.port}`;
  }

  async function serve(status: FakeStatusSource, host = "127.0.0.1", dashboardToken?: string) {
    const app = await createHttpServer({
      status,
      metrics: createMetrics({ processMetrics: false }),
      logger: silentLogger(),
      host,
      dashboardToken,
      streamTimings: { statusIntervalMs: 200 },
    });
    return listen(app);
  }

  /** A runner from before GET /api/decisions (a proxy may serve an older one): it answers 404. */
  async function serveWithoutDecisions(status: FakeStatusSource) {
    const app = Fastify();
    app.addHook("onRequest", async (request, reply) => {
      if (request.url.startsWith("/api/decisions")) await reply.code(404).send();
    });
    await app.register(statusRoutes, { status });
    await app.register(dashboardRoutes);
    return listen(app);
  }

  /** A page that records script errors, so a broken dashboard fails the test. */
  async function openPage(width = 1440, height = 1000): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    return { page, errors };
  }

  const counter = (page: Page, agent: string, testid: string) =>
    page.locator(
      `[data-testid="agent-card"][data-agent-name="${agent}"] [data-testid="${testid}"]`,
    );

  it("shows the agents, issues and history, and follows new events live", async () => {
    const status = new FakeStatusSource({ history: true });
    status.setReady(true);
    status.issues = [
      {
        source: "mongo",
        ref: "665f1c2e9b1e",
        message: "agent_type: no executor named 'translator'",
      },
      { source: "mongo", ref: "BrokenBot", message: "base_rate_usd: expected a number" },
    ];
    const base = await serve(status);
    const { page, errors } = await openPage();
    try {
      await page.goto(base);
      await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
      const names = await page
        .locator('[data-testid="agent-card"]')
        .evaluateAll((cards) => cards.map((c) => c.getAttribute("data-agent-name")));
      expect(names).toEqual(["SchemaArchitect", "AnomalyHunter", "CodeReviewer"]);
      expect(await counter(page, "SchemaArchitect", "bids-placed").textContent()).toBe("6");

      const issues = page.locator('[data-testid="config-issues"]');
      expect(await issues.isVisible()).toBe(true);
      expect(await issues.textContent()).toContain("665f1c2e9b1e");
      expect(await page.locator('[data-testid="timeline-event"]').count()).toBeGreaterThan(20);
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();

      status.emit({
        kind: "bid",
        agent: "SchemaArchitect",
        jobId: "job_browser_1",
        message: "bid $0.052 (confidence 0.86)",
        amountUsd: 0.052,
      });
      const first = page.locator('[data-testid="timeline-event"]').first();
      await waitFor("new event at the top of the timeline", async () =>
        (await first.textContent())?.includes("job_browser_1"),
      );
      expect(await first.getAttribute("data-kind")).toBe("bid");
      await waitFor(
        "bids-placed counter to update",
        async () => (await counter(page, "SchemaArchitect", "bids-placed").textContent()) === "7",
      );
      expect(await page.locator('[data-testid="total-bids-placed"]').textContent()).toBe("13");

      status.emit({
        kind: "won",
        agent: "SchemaArchitect",
        jobId: "job_browser_1",
        message: "bid accepted",
        amountUsd: 0.052,
      });
      status.emit({
        kind: "execution",
        agent: "SchemaArchitect",
        jobId: "job_browser_1",
        message: "executed in 6.1 s (1,240 tokens)",
        tokens: 1240,
        costUsd: 0.0011,
      });
      await waitFor(
        "bids-won counter to update",
        async () => (await counter(page, "SchemaArchitect", "bids-won").textContent()) === "4",
      );
      await waitFor(
        "in-flight to show the won job",
        async () => (await counter(page, "SchemaArchitect", "in-flight").textContent()) === "2 / 3",
      );
      expect(await page.locator("#chart-activity canvas").count()).toBe(1);
      expect(await page.locator("#chart-llm canvas").count()).toBe(1);

      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/dashboard.png", fullPage: true });
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("falls back to polling /api/status when the event stream fails", async () => {
    const status = new FakeStatusSource();
    status.ledgerOpen = false;
    status.marketplace.reachable = false;
    const base = await serve(status);
    const { page } = await openPage(390, 844);
    try {
      await page.route("**/api/events/stream", (route) => route.abort());
      await page.goto(base);
      await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
      await page.locator('[data-testid="connection"][data-mode="polling"]').waitFor();
      status.emit({ kind: "error", agent: "AnomalyHunter", message: "POST /api/bids: 500" });
      await waitFor(
        "errors counter to update by polling",
        async () => (await counter(page, "AnomalyHunter", "errors").textContent()) === "1",
      );
      expect(await page.locator('[data-testid="timeline"]').textContent()).toContain(
        "POST /api/bids: 500",
      );
      expect(await page.locator('[data-testid="config-issues"]').isVisible()).toBe(false);
      expect(await page.locator('[data-testid="marketplace-reachable"]').textContent()).toBe(
        "unreachable",
      );
      expect(await page.locator('[data-testid="facts"]').textContent()).toContain("not open");
      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: "test-results/dashboard-mobile.png", fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("with a token on a public host, ?token= once opens the live dashboard", async () => {
    const status = new FakeStatusSource();
    const base = await serve(status, "0.0.0.0", TOKEN);
    const { page, errors } = await openPage();
    try {
      const denied = await page.goto(base);
      expect(denied?.status()).toBe(401);
      await page.goto(`${base}/?token=${TOKEN}`);
      expect(new URL(page.url()).search).toBe("");
      await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
      status.emit({
        kind: "result",
        agent: "CodeReviewer",
        jobId: "job_tok",
        message: "result accepted",
      });
      await waitFor(
        "results-accepted to update through the cookie-authenticated stream",
        async () => (await counter(page, "CodeReviewer", "results-accepted").textContent()) === "1",
      );
      expect(await page.content()).not.toContain(TOKEN);
      const unexpected = errors.filter((e) => !e.includes("401"));
      expect(unexpected, unexpected.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });

  /** The number a tile or counter shows ("$0.0720", "1,240", "2 / 3" → 0.072, 1240, 2). */
  const numberIn = (text: string | null) => Number((text ?? "").replace(/[$,]/g, "").split(" ")[0]);

  /** What every agent card shows for one counter, and their sum. */
  async function cardSum(page: Page, testid: string): Promise<number> {
    const values = await page
      .locator(`[data-testid="agent-card"] [data-testid="${testid}"]`)
      .allTextContents();
    return values.reduce((n, v) => n + numberIn(v), 0);
  }

  /** Runs a headless Chromium screenshot on virtual time; resolves with its exit code. */
  async function virtualTimeScreenshot(url: string, png: string): Promise<number | null> {
    const profile = await mkdtemp(join(tmpdir(), "bazaar-vt-"));
    try {
      const child = spawn(
        CHROMIUM,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          `--user-data-dir=${profile}`,
          `--screenshot=${png}`,
          "--window-size=1280,1600",
          "--virtual-time-budget=10000",
          url,
        ],
        { stdio: "ignore" },
      );
      let exit: number | null | undefined;
      child.on("exit", (code) => {
        exit = code;
      });
      try {
        await waitFor("the virtual-time screenshot to finish", () => exit !== undefined, {
          timeoutMs: 60_000,
          intervalMs: 200,
        });
      } finally {
        if (exit === undefined) child.kill();
      }
      return exit ?? null;
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }

  it("?live=0 renders once from /api/status and the recent events, with no event stream", async () => {
    const status = new FakeStatusSource({ history: true });
    status.decide({
      jobId: "job_1a2b",
      agent: "SchemaArchitect",
      outcome: "bid",
      reason: null,
      detail: "schema_design matched",
      priceUsd: 0.03,
      confidence: 0.8,
    });
    const base = await serve(status);
    const { page, errors } = await openPage();
    const requested: string[] = [];
    page.on("request", (request) => requested.push(new URL(request.url()).pathname));
    try {
      await page.goto(`${base}/?live=0&job=job_1a2b`);
      await page.locator('[data-testid="connection"][data-mode="once"]').waitFor();
      expect(await page.locator('[data-testid="agent-card"]').count()).toBe(3);
      expect(await page.locator('[data-testid="timeline-event"]').count()).toBeGreaterThan(20);
      expect(await page.locator('[data-testid="total-bids-placed"]').textContent()).toBe("12");
      expect(await page.locator('[data-testid="connection"]').textContent()).toMatch(
        /^snapshot \d{2}:\d{2}:\d{2}$/,
      );
      await page.locator('[data-testid="decision"]').first().waitFor();
      expect(requested).toContain("/api/status");
      expect(requested).toContain("/api/events");
      expect(requested).not.toContain("/api/events/stream");
      expect(status.listenerCount()).toBe(0);
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }

    // What the issue met: a headless browser's virtual-time screenshot now finishes.
    await mkdir("test-results", { recursive: true });
    const png = join(process.cwd(), "test-results", "dashboard-live0.png");
    await rm(png, { force: true });
    expect(await virtualTimeScreenshot(`${base}/?live=0`, png)).toBe(0);
    expect((await readFile(png)).subarray(1, 4).toString()).toBe("PNG");
  });

  it("serves the dashboard folder's modules and styles, not its type files", async () => {
    const base = await serve(new FakeStatusSource());
    for (const name of ["app.js", "charts.js", "decisions.js", "dom.js", "format.js"]) {
      const res = await fetch(`${base}/assets/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
      expect(await res.text()).toMatch(/^\/\/ @ts-check\n/);
    }
    for (const name of ["render.js", "stream.js", "timeline.js", "style.css"]) {
      expect((await fetch(`${base}/assets/${name}`)).status).toBe(200);
    }
    for (const name of ["types.ts", "uplot.esm.d.ts", "index.html"]) {
      expect((await fetch(`${base}/assets/${name}`)).status).toBe(404);
    }
  });

  it("renders the header from /api/status at once, without waiting for the stream", async () => {
    const status = new FakeStatusSource();
    const base = await serve(status);
    const { page, errors } = await openPage();
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      // The stream answers only when the test says so.
      await page.route("**/api/events/stream", async (route) => {
        await held;
        await route.continue();
      });
      await page.goto(base);
      await page.locator('[data-testid="connection"][data-mode="loaded"]').waitFor();
      expect(await page.locator('[data-testid="connection"]').textContent()).toMatch(
        /^loaded \d{2}:\d{2}:\d{2}$/,
      );
      expect(await page.locator('[data-testid="agent-card"]').count()).toBe(3);
      expect(await page.locator('[data-testid="marketplace-url"]').textContent()).toBe(
        "http://127.0.0.1:8000",
      );
      expect(status.listenerCount()).toBe(0);
      release();
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      release();
      await page.close();
    }
  });

  it("tells time on the 24-hour clock on the chart axes and in the legend", async () => {
    // A time zone where it is 15:xx now: a 12-hour clock would say 3 pm.
    let offset = 15 - new Date().getUTCHours();
    if (offset > 14) offset -= 24;
    if (offset < -12) offset += 24;
    const timezoneId = offset === 0 ? "UTC" : `Etc/GMT${offset > 0 ? "-" : "+"}${Math.abs(offset)}`;
    const status = new FakeStatusSource({ history: true });
    const base = await serve(status);
    const context = await browser.newContext({
      viewport: { width: 1440, height: 1000 },
      timezoneId,
    });
    const page = await context.newPage();
    try {
      await page.goto(base);
      await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
      const clock = /^([01]\d|2[0-3]):[0-5]\d$/;
      for (const chart of ["#chart-activity", "#chart-llm"]) {
        const ticks = await waitFor(`${chart}'s time axis`, () =>
          page.locator(chart).getAttribute("data-x-ticks"),
        );
        const labels = ticks.split(" ");
        expect(labels.length).toBeGreaterThan(2);
        for (const label of labels) expect(label).toMatch(clock);
        expect(labels.some((label) => Number(label.slice(0, 2)) >= 13)).toBe(true);
      }
      const plot = page.locator("#chart-activity .u-over");
      const box = await plot.boundingBox();
      if (!box) throw new Error("no plot area");
      await page.mouse.move(box.x + box.width - 30, box.y + box.height / 2);
      const legend = page
        .locator("#chart-activity .u-legend .u-series")
        .first()
        .locator(".u-value");
      const atCursor = await waitFor("the legend's time at the cursor", async () => {
        const text = (await legend.textContent()) ?? "";
        return clock.test(text) ? text : undefined;
      });
      expect(Number(atCursor.slice(0, 2))).toBeGreaterThanOrEqual(13);
      const eventTime = await page
        .locator('[data-testid="timeline-event"] time')
        .first()
        .textContent();
      expect(eventTime).toMatch(/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
    } finally {
      await context.close();
    }
  });

  it("shows each agent's decision on a job picked in the timeline or by its id", async () => {
    const status = new FakeStatusSource();
    status.emit({
      kind: "bid",
      agent: "SchemaArchitect",
      jobId: "job_schema_1",
      message: "bid $0.052 (confidence 0.86)",
      amountUsd: 0.052,
    });
    status.decide({
      jobId: "job_schema_1",
      agent: "SchemaArchitect",
      outcome: "bid",
      reason: null,
      detail: "schema_design 0.9 and keywords matched",
      priceUsd: 0.052,
      confidence: 0.86,
      // With tracing on, the job's trace id for the agent (src/tracing).
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    });
    status.decide({
      jobId: "job_schema_1",
      agent: "AnomalyHunter",
      outcome: "skip",
      reason: "capability",
      detail: "schema_design 0.2 is below min_capability_score 0.5",
    });
    status.decide({
      jobId: "job_schema_1",
      agent: "CodeReviewer",
      outcome: "skip",
      reason: "no_keyword",
      detail: "no keyword of code_reviewer matched",
    });
    // "Write a poem": no agent bids, so no event names it.
    for (const agent of ["SchemaArchitect", "AnomalyHunter", "CodeReviewer"]) {
      status.decide({
        jobId: "job_poem",
        agent,
        outcome: "skip",
        reason: "no_keyword",
        detail: `no keyword of ${agent} matched`,
      });
    }
    const base = await serve(status);
    const { page, errors } = await openPage();
    const decision = (agent: string) =>
      page.locator(`[data-testid="decision"][data-agent="${agent}"]`);
    try {
      await page.goto(base);
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
      expect(
        await page.locator('[data-testid="decision-jobs"] [data-job-id="job_schema_1"]').count(),
      ).toBe(1);
      await page.locator('[data-testid="timeline"] [data-job-id="job_schema_1"]').click();
      await page.locator('[data-testid="decision"]').nth(2).waitFor();
      expect(await page.locator('[data-testid="decisions-job-id"]').textContent()).toBe(
        "job_schema_1",
      );
      expect(await page.locator("#decisions-job").textContent()).toContain("1 bid, 2 skipped");
      expect(await decision("SchemaArchitect").getAttribute("data-outcome")).toBe("bid");
      expect(await decision("SchemaArchitect").textContent()).toContain("$0.052 · confidence 0.86");
      expect(
        await decision("SchemaArchitect").locator('[data-testid="decision-trace"]').textContent(),
      ).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      expect(await decision("AnomalyHunter").textContent()).not.toContain("trace");
      expect(await decision("AnomalyHunter").getAttribute("data-outcome")).toBe("skip");
      expect(await decision("AnomalyHunter").textContent()).toContain(
        "capability below the minimum",
      );
      expect(await decision("AnomalyHunter").textContent()).toContain(
        "schema_design 0.2 is below min_capability_score 0.5",
      );
      expect(await decision("CodeReviewer").textContent()).toContain("no keyword matched");

      await page.locator('[data-testid="decisions-form"] input').fill("job_poem");
      await page.locator('[data-testid="decisions-form"] button').click();
      await waitFor(
        "the poem job's decisions",
        async () =>
          (await page.locator('[data-testid="decisions-job-id"]').textContent()) === "job_poem" &&
          (await page.locator('[data-testid="decision"][data-outcome="skip"]').count()) === 3,
      );
      expect(await page.locator("#decisions-job").textContent()).toContain("0 bids, 3 skipped");
      expect(await decision("SchemaArchitect").textContent()).toContain(
        "no keyword of SchemaArchitect matched",
      );
      await mkdir("test-results", { recursive: true });
      await page.locator('[data-testid="decisions"]').screenshot({
        path: "test-results/dashboard-decisions.png",
      });
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("says decisions are not available when the runner has no /api/decisions", async () => {
    const status = new FakeStatusSource();
    status.emit({ kind: "bid", agent: "SchemaArchitect", jobId: "job_old", message: "bid $0.04" });
    const base = await serveWithoutDecisions(status);
    const { page, errors } = await openPage();
    try {
      await page.goto(base);
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
      await page.locator('[data-testid="timeline"] [data-job-id="job_old"]').click();
      const unavailable = page.locator('[data-testid="decisions-unavailable"]');
      await unavailable.waitFor();
      expect(await unavailable.textContent()).toContain("Decisions are not available");
      expect(await page.locator('[data-testid="decision"]').count()).toBe(0);
      // The 404 of that one request is the only complaint.
      const unexpected = errors.filter((e) => !e.includes("404"));
      expect(unexpected, unexpected.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("shows wallets, the spend cap, the replica and the reload status when the runner sends them", async () => {
    const status = new FakeStatusSource();
    const [schema, anomaly, reviewer] = status.agents;
    if (!schema || !anomaly || !reviewer) throw new Error("the fake has three agents");
    schema.wallet = { address: "0x52908400098527886E0F7030069857D2E4169EE7", holdsKey: true };
    anomaly.wallet = { address: "0x8617E340B3D01FA5F11F306F4090FD50E238070D", holdsKey: false };
    reviewer.wallet = null;
    anomaly.spendCapReached = true;
    schema.spendCapReached = false;
    status.replica = {
      id: "replica-a1",
      agents: ["SchemaArchitect", "AnomalyHunter", "CodeReviewer"],
      others: [
        { id: "replica-b2", agents: 2 },
        { id: "replica-c3", agents: 1 },
      ],
    };
    status.reload = {
      ok: false,
      agents: 3,
      issues: 0,
      error: "mongo: connection refused",
      at: new Date(Date.now() - 30_000).toISOString(),
    };
    const base = await serve(status);
    for (const [width, height, name] of [
      [1440, 1000, "dashboard-contract.png"],
      [390, 844, "dashboard-contract-mobile.png"],
    ] as const) {
      const { page, errors } = await openPage(width, height);
      try {
        await page.goto(base);
        await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
        const card = (agent: string) =>
          page.locator(`[data-testid="agent-card"][data-agent-name="${agent}"]`);
        expect(await counter(page, "SchemaArchitect", "wallet-address").textContent()).toBe(
          "0x52908400098527886E0F7030069857D2E4169EE7",
        );
        expect(await counter(page, "SchemaArchitect", "wallet-key").textContent()).toBe("key held");
        expect(await counter(page, "AnomalyHunter", "wallet-key").textContent()).toBe(
          "payout only — cannot sign",
        );
        expect(await card("CodeReviewer").locator('[data-testid="wallet"]').count()).toBe(0);
        expect(await counter(page, "AnomalyHunter", "spend-cap").textContent()).toBe(
          "spend cap reached",
        );
        expect(await card("SchemaArchitect").locator('[data-testid="spend-cap"]').count()).toBe(0);

        expect(await page.locator('[data-testid="replica-id"]').textContent()).toBe("replica-a1");
        expect(await page.locator('[data-testid="replica"]').textContent()).toContain(
          "3 agents here",
        );
        expect(await page.locator('[data-testid="replica-agents"]').textContent()).toBe(
          "SchemaArchitect, AnomalyHunter, CodeReviewer",
        );
        expect(await page.locator('[data-testid="replica-others"]').textContent()).toBe(
          "others: replica-b2 (2 agents), replica-c3 (1 agent)",
        );

        const reload = page.locator('[data-testid="reload-outcome"]');
        expect(await reload.textContent()).toBe("failed: mongo: connection refused");
        expect(await reload.getAttribute("class")).toBe("tone-bad");

        // Tiles total what the cards show; the ledger panel reads the ledger.
        for (const id of [
          "bids-placed",
          "bids-won",
          "in-flight",
          "results-accepted",
          "results-failed",
          "errors",
        ]) {
          expect(numberIn(await page.locator(`[data-testid="total-${id}"]`).textContent())).toBe(
            await cardSum(page, id),
          );
        }
        for (const id of ["bid-usd", "won-usd", "paid-usd"]) {
          expect(
            numberIn(await page.locator(`[data-testid="total-${id}"]`).textContent()),
          ).toBeCloseTo(await cardSum(page, id), 3);
        }
        expect(await page.locator('[data-testid="total-bid-usd"]').textContent()).toBe("$0.542");
        expect(await page.locator('[data-testid="total-won-usd"]').textContent()).toBe("$0.243");
        expect(await page.locator('[data-testid="total-paid-usd"]').textContent()).toBe("$0.186");
        expect(await page.locator('[data-testid="ledger-bids"]').textContent()).toBe("12");
        expect(await page.locator('[data-testid="ledger-accepted"]').textContent()).toBe("3");

        await mkdir("test-results", { recursive: true });
        await page.screenshot({ path: `test-results/${name}`, fullPage: true });
        expect(errors, errors.join("\n")).toEqual([]);
      } finally {
        await page.close();
      }
    }

    // Live changes: a reload that worked with issues, and a failed result (not "accepted").
    const { page } = await openPage();
    try {
      await page.goto(base);
      await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
      status.reload = { ok: true, agents: 3, issues: 2, error: null, at: new Date().toISOString() };
      status.emit(
        {
          kind: "result",
          agent: "SchemaArchitect",
          jobId: "job_bad",
          message: "failed result submitted",
        },
        { failed: true },
      );
      const reload = page.locator('[data-testid="reload-outcome"]');
      await waitFor(
        "the reload status to turn ok with issues",
        async () => (await reload.getAttribute("data-ok")) === "true",
      );
      expect(await reload.textContent()).toBe("ok · 3 agents · 2 issues");
      expect(await reload.getAttribute("class")).toBe("tone-warn");
      await waitFor(
        "the failed result on the card and the tile",
        async () =>
          (await counter(page, "SchemaArchitect", "results-failed").textContent()) === "1" &&
          (await page.locator('[data-testid="total-results-failed"]').textContent()) === "2",
      );
      expect(await page.locator('[data-testid="total-results-accepted"]').textContent()).toBe("3");
    } finally {
      await page.close();
    }
  });

  it("shows each agent's earnings, the earnings over time and the quality gate's calibration, agreeing with each other", async () => {
    const status = new FakeStatusSource();
    const now = Date.now();
    const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString();
    const outcome = (jobId: string, minutesAgo: number, o: Partial<JobOutcome>): JobOutcome => ({
      agentId: "a",
      jobId,
      updatedAt: ago(minutesAgo),
      ...o,
    });
    const figures: Record<string, JobOutcome[]> = {
      SchemaArchitect: [
        outcome("s1", 30, {
          result: "won",
          llmCostUsd: 0.01,
          predictedQuality: 0.82,
          qualityScore: 0.9,
          paidUsd: 0.05,
        }),
        outcome("s2", 200, {
          result: "won",
          llmCostUsd: 0.02,
          predictedQuality: 0.88,
          qualityScore: 0.5,
          paidUsd: 0.025,
        }),
        outcome("s3", 400, { result: "lost" }),
      ],
      // Loses money: executed, scored low, paid nothing.
      AnomalyHunter: [
        outcome("a1", 90, {
          result: "won",
          llmCostUsd: 0.004,
          predictedQuality: 0.3,
          qualityScore: 0.2,
          paidUsd: 0,
        }),
      ],
    };
    for (const agent of status.agents) {
      const outcomes = figures[agent.name];
      if (outcomes) agent.performance = performanceOf(outcomes, now);
    }
    const base = await serve(status);
    const { page, errors } = await openPage();
    try {
      await page.goto(base);
      await page.locator('[data-testid="earnings-row"]').nth(1).waitFor();
      const cell = (agent: string, id: string) =>
        page.locator(
          `[data-testid="earnings-row"][data-agent-name="${agent}"] [data-testid="earn-${id}"]`,
        );
      // Only the agents with figures (CodeReviewer has none yet).
      expect(
        await page
          .locator('[data-testid="earnings-row"]')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-agent-name"))),
      ).toEqual(["SchemaArchitect", "AnomalyHunter"]);
      expect(await cell("SchemaArchitect", "win-rate").textContent()).toBe("67 % (2 of 3)");
      expect(await cell("SchemaArchitect", "quality").textContent()).toBe("0.70 (2)");
      expect(await cell("SchemaArchitect", "predicted").textContent()).toBe("0.85 → 0.70");
      expect(await cell("SchemaArchitect", "error").textContent()).toBe("0.23");
      expect(await cell("SchemaArchitect", "llm-cost").textContent()).toBe("$0.0300");
      expect(await cell("SchemaArchitect", "paid").textContent()).toBe("$0.0750");
      expect(await cell("SchemaArchitect", "margin").textContent()).toBe("$0.0450");
      expect(await cell("AnomalyHunter", "margin").textContent()).toBe("$-0.0040");
      expect(await cell("AnomalyHunter", "margin").getAttribute("class")).toBe("tone-bad");

      // The total row adds up the rows; the chart draws the same margin.
      const rowsSum = async (id: string) =>
        (
          await page
            .locator(`[data-testid="earnings-row"] [data-testid="earn-${id}"]`)
            .allTextContents()
        ).reduce((n, t) => n + numberIn(t), 0);
      for (const id of ["llm-cost", "paid", "margin", "margin-day"]) {
        expect(
          numberIn(await page.locator(`[data-testid="earn-total-${id}"]`).textContent()),
        ).toBeCloseTo(await rowsSum(id), 4);
      }
      expect(await page.locator('[data-testid="earn-total-margin"]').textContent()).toBe("$0.0410");
      await waitFor(
        "the chart to draw the margin",
        async () =>
          (await page.locator('[data-testid="chart-earnings"]').getAttribute("data-margin-usd")) !==
          null,
      );
      expect(
        Number(
          await page.locator('[data-testid="chart-earnings"]').getAttribute("data-margin-usd"),
        ),
      ).toBeCloseTo(0.041, 6);

      // Calibration: SchemaArchitect predicted 0.82 and 0.88 (one bucket), AnomalyHunter 0.3.
      const calibration = (agent: string) =>
        page.locator(`[data-testid="calibration"][data-agent-name="${agent}"]`);
      const rows = calibration("SchemaArchitect").locator('[data-testid="calibration-row"]');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().getAttribute("data-from")).toBe("0.8");
      expect(await rows.first().locator('[data-testid="cal-count"]').textContent()).toBe("2");
      expect(await rows.first().locator('[data-testid="cal-predicted"]').textContent()).toBe(
        "0.85",
      );
      expect(await rows.first().locator('[data-testid="cal-actual"]').textContent()).toBe("0.70");
      // The bucket's error agrees with the table's (one pair each side of the mean).
      expect(
        await calibration("SchemaArchitect").locator('[data-testid="cal-error"]').textContent(),
      ).toBe(`error ${await cell("SchemaArchitect", "error").textContent()} over 2 jobs`);
      expect(
        await calibration("AnomalyHunter")
          .locator('[data-testid="calibration-row"]')
          .getAttribute("data-from"),
      ).toBe("0.3");

      await mkdir("test-results", { recursive: true });
      await page.locator('[data-testid="earnings"]').screenshot({
        path: "test-results/dashboard-earnings.png",
      });
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
