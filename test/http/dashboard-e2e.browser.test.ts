import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createHttpServer } from "../../src/http/server.ts";
import { createLogger, silentLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { browserSuiteName, hasChromium, launchChromium } from "../support/browser.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { LogCapture } from "../support/log-capture.ts";
import { api, type Harness, postJob, startHarness } from "../support/runner-harness.ts";
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

  describe("one source for each figure", () => {
    let h: Harness | undefined;
    let http: FastifyInstance | undefined;
    afterEach(async () => {
      await http?.close();
      await h?.close();
      http = undefined;
      h = undefined;
    });

    /** The runner's HTTP surface (status API, stream, dashboard) on a free port. */
    async function serveRunner(runner: Runner): Promise<string> {
      await http?.close();
      http = await createHttpServer({
        status: runner,
        metrics: createMetrics({ processMetrics: false }),
        logger: silentLogger(),
        host: "127.0.0.1",
      });
      return http.listen({ host: "127.0.0.1", port: 0 });
    }

    const numberIn = (text: string | null) =>
      Number((text ?? "").replace(/[$,]/g, "").split(" ")[0]);
    const shown = async (p: Page, testid: string) =>
      numberIn(await p.locator(`[data-testid="${testid}"]`).textContent());
    const cardSum = async (p: Page, testid: string) =>
      (
        await p.locator(`[data-testid="agent-card"] [data-testid="${testid}"]`).allTextContents()
      ).reduce((n, v) => n + numberIn(v), 0);

    interface Counts {
      bids: number;
      won: number;
      accepted: number;
      failed: number;
    }

    /** The tiles, the sum of the cards and the ledger panel, as the page shows them now. */
    async function figures(p: Page) {
      return {
        tiles: {
          bids: await shown(p, "total-bids-placed"),
          won: await shown(p, "total-bids-won"),
          accepted: await shown(p, "total-results-accepted"),
          failed: await shown(p, "total-results-failed"),
        },
        cards: {
          bids: await cardSum(p, "bids-placed"),
          won: await cardSum(p, "bids-won"),
          accepted: await cardSum(p, "results-accepted"),
          failed: await cardSum(p, "results-failed"),
        },
        ledger: {
          bids: await shown(p, "ledger-bids"),
          won: await shown(p, "ledger-won"),
          accepted: await shown(p, "ledger-accepted"),
        },
      };
    }

    /** Waits until the tiles, the cards and the ledger panel all show `expected`. */
    async function expectAgree(p: Page, when: string, expected: Counts): Promise<void> {
      let last: Awaited<ReturnType<typeof figures>> | undefined;
      const { failed: _notInLedger, ...ledgerExpected } = expected;
      try {
        await waitFor(
          `the same figures everywhere ${when}`,
          async () => {
            last = await figures(p);
            return (
              JSON.stringify(last.tiles) === JSON.stringify(expected) &&
              JSON.stringify(last.cards) === JSON.stringify(expected) &&
              JSON.stringify(last.ledger) === JSON.stringify(ledgerExpected)
            );
          },
          { timeoutMs: 20_000 },
        );
      } catch {
        // Say which figure disagreed.
        expect({ when, ...last }).toEqual({
          when,
          tiles: expected,
          cards: expected,
          ledger: ledgerExpected,
        });
      }
    }

    async function award(marketUrl: string, jobId: string): Promise<number> {
      const job = await api<ApiJob & { bids: Array<{ price_usd: number }> }>(
        marketUrl,
        "GET",
        `/api/jobs/${jobId}`,
      );
      const bid = job.body.bids[0];
      if (!bid) throw new Error(`no bid on ${jobId}`);
      const selected = await api(marketUrl, "POST", `/api/jobs/${jobId}/select-bid/${bid.bid_id}`);
      expect(selected.status).toBe(200);
      return bid.price_usd;
    }

    async function finished(marketUrl: string, jobId: string, status: string): Promise<void> {
      await waitFor(
        `${jobId} ${status}`,
        async () =>
          (await api<ApiJob>(marketUrl, "GET", `/api/jobs/${jobId}`)).body.status === status,
        { timeoutMs: 20_000 },
      );
    }

    const schemaJob = (n: number) => ({
      title: `Design a PostgreSQL schema for orders (${n})`,
      description:
        "We need a database schema with tables, foreign keys and indexes for customers and orders.",
      budget_usd: 1,
      required_capabilities: ["schema_design"],
    });

    it("tiles, cards and the ledger panel agree after a bid, a failed result, a successful result and a restart", async () => {
      h = await startHarness();
      const market = h.marketplace.url;
      let runner = await h.startRunner();
      let url = await serveRunner(runner);
      page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      const p = page;
      const errors: string[] = [];
      p.on("pageerror", (error) => errors.push(error.message));
      await p.goto(url);
      await p.locator('[data-testid="agent-card"]').nth(2).waitFor();
      await expectAgree(p, "at start", { bids: 0, won: 0, accepted: 0, failed: 0 });

      // A bid.
      const failing = await postJob(market, schemaJob(1));
      await expectAgree(p, "after a bid", { bids: 1, won: 0, accepted: 0, failed: 0 });

      // A failed result: the LLM refuses; the service cannot record a failure (500 to
      // success:false), so the report is given up after three tries and the job stays
      // assigned, for its poster.
      h.llm.setDefaultFault({ kind: "status", status: 400, message: "bad request" });
      await award(market, failing);
      await waitFor(
        "the failure report given up",
        async () => {
          const architect = runner.workers.find((w) => w.spec.config.name === "SchemaArchitect");
          const entry = architect?.agentId && (await runner.ledger.get(architect.agentId, failing));
          return entry ? (entry.closedAt ? true : undefined) : undefined;
        },
        { timeoutMs: 30_000 },
      );
      await finished(market, failing, "assigned");
      await expectAgree(p, "after a failed result", { bids: 1, won: 1, accepted: 0, failed: 1 });

      // A successful result.
      h.llm.setDefaultFault(undefined);
      const working = await postJob(market, schemaJob(2));
      await expectAgree(p, "after the second bid", { bids: 2, won: 1, accepted: 0, failed: 1 });
      await award(market, working);
      await finished(market, working, "completed");
      const afterJobs = { bids: 2, won: 2, accepted: 1, failed: 1 };
      await expectAgree(p, "after a successful result", afterJobs);
      // A restart keeps the totals.
      await runner.stop();
      runner = await h.startRunner();
      url = await serveRunner(runner);
      await p.goto(url);
      await p.locator('[data-testid="agent-card"]').nth(2).waitFor();
      await expectAgree(p, "after a restart", afterJobs);
      // Each registered agent's earnings, from the ledger's outcomes: the chart draws the
      // margin the table totals.
      await waitFor(
        "an earnings row for each agent",
        async () => (await p.locator('[data-testid="earnings-row"]').count()) === 3,
        { timeoutMs: 20_000 },
      );
      expect(
        Number(await p.locator('[data-testid="chart-earnings"]').getAttribute("data-margin-usd")),
      ).toBeCloseTo(await shown(p, "earn-total-margin"), 4);

      await mkdir("test-results", { recursive: true });
      await p.screenshot({ path: "test-results/dashboard-e2e-figures.png", fullPage: true });
      expect(errors, errors.join("\n")).toEqual([]);
    }, 120_000);
  });
});
