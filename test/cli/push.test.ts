import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { WEBHOOK_PATH } from "../../src/runner/push.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { LogCapture } from "../support/log-capture.ts";
import { award, counterSum, waitForBid, waitForResult } from "../support/market-helpers.ts";
import { api } from "../support/marketplace-requests.ts";
import { postJob } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";
import { closedPort, tempDir } from "./cli.ts";

/**
 * Push: with PUBLIC_URL set, agents take webhook notifications from the marketplace and
 * act on them (after fetching the job from the API) without waiting for a poll.
 */
describe("start with PUBLIC_URL: webhook notifications", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let market: RunningMarketplace;
  let app: App | undefined;
  let metrics: Metrics;
  const logger = createLogger({ level: "info", destination: new LogCapture(), pretty: false });

  beforeEach(async () => {
    dir = await tempDir("bazaar-push-");
    market = await startMarketplace({ port: 0, dbPath: ":memory:" });
    metrics = createMetrics({ processMetrics: false });
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
    await market.close();
    await dir.cleanup();
  });

  async function start(env: Record<string, string> = {}): Promise<App> {
    const port = await closedPort();
    app = await startApp({
      config: loadConfig({
        BAZAAR_API_URL: market.url,
        RUNNER_STATE_DIR: join(dir.path, "state"),
        HOST: "127.0.0.1",
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // Long enough that only a notification can explain a quick bid.
        AGENT_POLL_INTERVAL: "600",
        AGENT_HEARTBEAT_INTERVAL: "600",
        FIREWORKS_API_KEY: "",
        ...env,
      }),
      logger,
      metrics,
    });
    return app;
  }

  const listings = () => counterSum(metrics.marketplaceRequests, { route: "GET /api/jobs" });

  it("registers agents for webhooks, bids on a posted job and does an awarded one without polling", async () => {
    const running = await start();
    const agentId = await waitFor("SchemaArchitect running", () => {
      const w = running.runner.workers.find(
        (x) => x.spec.config.name === "SchemaArchitect" && x.state === "running",
      );
      return w?.agentId;
    });
    const a = api(market.url);
    const doc = (await a.req("GET", `/api/agents/${agentId}`)).json as Record<string, unknown>;
    expect(doc).toMatchObject({
      execution_mode: "webhook",
      webhook_url: `${running.httpUrl.replace("localhost", "127.0.0.1")}${WEBHOOK_PATH}`,
    });
    // Let the first poll finish, then count listings: none may explain what follows.
    await waitFor("the first poll", async () => ((await listings()) >= 1 ? true : undefined));
    const before = await listings();

    const jobId = await postJob(market.url, SCHEMA_JOB);
    const bid = await waitForBid(market.url, jobId, agentId);
    await award(market.url, jobId, bid.bid_id);
    const done = await waitForResult(market.url, jobId);
    expect(done.result?.executed_by).toBe(agentId);
    expect(await listings()).toBe(before);
    expect(await counterSum(metrics.webhooks, { outcome: "accepted" })).toBeGreaterThanOrEqual(2);
  });
});
