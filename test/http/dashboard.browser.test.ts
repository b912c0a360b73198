import { mkdir } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.ts";
import { silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { browserSuiteName, hasChromium, launchChromium } from "../support/browser.ts";
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

  async function serve(status: FakeStatusSource, host = "127.0.0.1", dashboardToken?: string) {
    const app = await createHttpServer({
      status,
      metrics: createMetrics({ processMetrics: false }),
      logger: silentLogger(),
      host,
      dashboardToken,
      streamTimings: { statusIntervalMs: 200 },
    });
    servers.push(app);
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("no port");
    return `http://127.0.0.1:${address.port}`;
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
      // This replica and the others sharing the agents.
      expect(await page.locator('[data-testid="replica-id"]').textContent()).toBe(
        "runner-7f3a:4121",
      );
      expect(await page.locator('[data-testid="replica-others"]').textContent()).toBe(
        "runner-9c2e:388 3 · runner-b41d:77 2",
      );

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
        { timeoutMs: 20_000 },
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
});
