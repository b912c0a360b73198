import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { browserSuiteName, hasChromium, launchChromium } from "../support/browser.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { LogCapture } from "../support/log-capture.ts";
import { api, postJob } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The dashboard against the real thing: `startApp()` as `bazaar-runner start` composes
 * it (embedded marketplace on port 0, runner, HTTP surface), the test LLM standing in
 * for Fireworks, and a job that goes from posted to bid, awarded and submitted.
 */

const suiteName = browserSuiteName("dashboard end to end against the real runner");

interface ApiJob {
  status: string;
  bids: Array<{ bid_id: string; agent_id: string; status: string }>;
  result: { success: boolean; output: string } | null;
}

describe.skipIf(!hasChromium)(suiteName, () => {
  let browser: Browser;
  let app: App | undefined;
  let llm: TestLlmServer | undefined;
  let stateDir: string | undefined;
  let page: Page | undefined;
  const logs = new LogCapture();

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.close();
    await app?.stop();
    await llm?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    page = undefined;
    app = undefined;
    llm = undefined;
    stateDir = undefined;
  });

  const card = (p: Page, agent: string) =>
    p.locator(`[data-testid="agent-card"][data-agent-name="${agent}"]`);
  const counter = (p: Page, agent: string, testid: string): Locator =>
    card(p, agent).locator(`[data-testid="${testid}"]`);
  const timelineText = async (p: Page) =>
    (await p.locator('[data-testid="timeline"]').textContent()) ?? "";

  it("shows the three agents and follows a job from bid to result without reloading", async () => {
    stateDir = await mkdtemp(join(tmpdir(), "bazaar-dashboard-e2e-"));
    llm = await startTestLlmServer();
    const config = loadConfig({
      // BAZAAR_API_URL unset: startApp serves the embedded marketplace (on port 0 here).
      FIREWORKS_API_KEY: llm.apiKey,
      LLM_BASE_URL: llm.url,
      AGENT_POLL_INTERVAL: "0.3",
      AGENT_HEARTBEAT_INTERVAL: "1",
      RUNNER_STATE_DIR: join(stateDir, "state"),
      HOST: "127.0.0.1",
      PORT: "0",
    });
    app = await startApp({
      config,
      logger: createLogger({ level: "info", destination: logs, pretty: false }),
      metrics: createMetrics({ processMetrics: false }),
      embeddedMarketplacePort: 0,
    });
    expect(app.marketplaceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logs.entries().map((l) => l.msg)).toContain(
      "BAZAAR_API_URL is unset: serving the embedded AgentBazaar marketplace",
    );

    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(app.httpUrl);

    // The three built-in agents, registered and running.
    await page.locator('[data-testid="agent-card"]').nth(2).waitFor();
    const names = await page
      .locator('[data-testid="agent-card"]')
      .evaluateAll((cards) => cards.map((c) => c.getAttribute("data-agent-name")));
    expect(names.sort()).toEqual(["AnomalyHunter", "CodeReviewer", "SchemaArchitect"]);
    const p = page;
    for (const name of ["SchemaArchitect", "AnomalyHunter", "CodeReviewer"]) {
      await waitFor(
        `${name} shown as running`,
        async () => (await counter(p, name, "agent-state").textContent()) === "running",
      );
    }
    await page.locator('[data-testid="connection"][data-mode="live"]').waitFor();
    expect(await page.locator('[data-testid="marketplace-url"]').textContent()).toBe(
      app.marketplaceUrl,
    );
    expect(await counter(page, "SchemaArchitect", "bids-placed").textContent()).toBe("0");

    // A schema-design job: SchemaArchitect bids, and the page follows without a reload.
    let navigations = 0;
    page.on("framenavigated", () => navigations++);
    const jobId = await postJob(app.marketplaceUrl, {
      title: "Design a PostgreSQL schema for orders",
      description:
        "We need a database schema with tables, foreign keys and indexes for customers and orders.",
      budget_usd: 1,
      required_capabilities: ["schema_design"],
    });
    await waitFor(
      "the bid in the timeline",
      async () =>
        (await p
          .locator(`[data-testid="timeline-event"][data-kind="bid"]`, { hasText: jobId })
          .count()) > 0,
    );
    await waitFor(
      "SchemaArchitect's bids counter at 1",
      async () => (await counter(p, "SchemaArchitect", "bids-placed").textContent()) === "1",
    );
    expect(await counter(page, "AnomalyHunter", "bids-placed").textContent()).toBe("0");
    expect(await counter(page, "CodeReviewer", "bids-placed").textContent()).toBe("0");

    // The poster awards the bid; the win and the accepted result appear.
    const marketUrl = app.marketplaceUrl;
    const job = await api<ApiJob>(marketUrl, "GET", `/api/jobs/${jobId}`);
    const bid = job.body.bids[0];
    expect(bid).toBeDefined();
    const selected = await api(marketUrl, "POST", `/api/jobs/${jobId}/select-bid/${bid?.bid_id}`);
    expect(selected.status).toBe(200);
    await waitFor(
      "the result event in the timeline",
      async () =>
        (await p
          .locator(`[data-testid="timeline-event"][data-kind="result"]`, { hasText: jobId })
          .count()) > 0,
    );
    await waitFor(
      "SchemaArchitect's counters: won 1, results accepted 1",
      async () =>
        (await counter(p, "SchemaArchitect", "bids-won").textContent()) === "1" &&
        (await counter(p, "SchemaArchitect", "results-accepted").textContent()) === "1",
    );
    const timeline = await timelineText(page);
    expect(timeline).toContain(jobId);
    expect(
      await page
        .locator(`[data-testid="timeline-event"][data-kind="won"]`, { hasText: jobId })
        .count(),
    ).toBeGreaterThan(0);
    const done = await api<ApiJob>(marketUrl, "GET", `/api/jobs/${jobId}`);
    expect(done.body.status).toBe("completed");
    expect(done.body.result?.output).toContain("Answer from");
    expect(navigations).toBe(0);

    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/dashboard-e2e.png", fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
  });
});
