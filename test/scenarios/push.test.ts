import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.ts";
import { silentLogger } from "../../src/logger.ts";
import { pollIntervalFor, WEBHOOK_PATH, webhookUrl } from "../../src/runner/feed/webhook-hints.ts";
import { FakeStatusSource } from "../http/fake-status.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { award, counterSum, runningAgents, waitForResult } from "../support/market-helpers.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

describe("push helpers", () => {
  it("polls at the interval without notifications, four times slower while they arrive", () => {
    const base = 30_000;
    const now = 1_000_000_000;
    expect(pollIntervalFor(base, 0, now)).toBe(base);
    expect(pollIntervalFor(base, now - 1000, now)).toBe(4 * base);
    // Ten relaxed intervals without a notification: back to the plain interval.
    expect(pollIntervalFor(base, now - 10 * 4 * base + 1, now)).toBe(4 * base);
    expect(pollIntervalFor(base, now - 10 * 4 * base, now)).toBe(base);
  });

  it("puts the webhook path on PUBLIC_URL", () => {
    expect(webhookUrl(undefined)).toBeUndefined();
    expect(webhookUrl("https://runner.example")).toBe(`https://runner.example${WEBHOOK_PATH}`);
  });
});

describe("the service's job_assigned push", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("starts the work when the push arrives, after fetching the job, not at the next poll", async () => {
    // Polls are ten minutes apart: only the push can explain the work being done.
    h = await startHarness({ env: { AGENT_POLL_INTERVAL: "600" } });
    const runner = await h.startRunner();
    const http = await createHttpServer({
      status: new FakeStatusSource(),
      metrics: runner.metrics,
      logger: silentLogger(),
      host: "127.0.0.1",
      webhook: { isKnownAgent: (id) => runner.isOurAgent(id), onHint: (x) => runner.hint(x) },
    });
    await http.listen({ host: "127.0.0.1", port: 0 });
    const port = (http.server.address() as { port: number }).port;
    try {
      const ids = await runningAgents(runner, 3);
      const listings = () =>
        counterSum(runner.metrics.marketplaceRequests, { route: "GET /api/jobs" });
      await waitFor("the first poll", async () => ((await listings()) >= 1 ? true : undefined));
      const before = await listings();

      // A bid in the agent's name, selected: the service then pushes the flat job_assigned.
      const market = rawApi(h.marketplace.url);
      const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
      const agentId = ids.SchemaArchitect!;
      const bid = await market.req(
        "POST",
        `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=0.5&estimated_quality=0.9&estimated_time_seconds=60&approach_summary=schema`,
      );
      expect(bid.status).toBe(200);
      const bidId = (bid.json as { bid_id: string }).bid_id;
      // The runner's own bid (as a poll would have placed it): it executes only those.
      await runner.ledger.recordBid(agentId, jobId, { bidId, priceUsd: 0.5 });
      await award(h.marketplace.url, jobId, bidId);
      const push = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          event: "job_assigned",
          job_id: jobId,
          title: SCHEMA_JOB.title,
          description: SCHEMA_JOB.description,
          budget_usd: SCHEMA_JOB.budget_usd,
          final_price_usd: 0.5,
          agent_id: agentId,
        }),
      });
      expect(push.status).toBe(202);

      const done = await waitForResult(h.marketplace.url, jobId);
      expect(done.result?.executed_by).toBe(agentId);
      expect(await listings()).toBe(before);
      // The job was looked up through the API before the work started.
      expect(
        await counterSum(runner.metrics.marketplaceRequests, { route: "GET /api/jobs/:id" }),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await http.close();
    }
  });
});
