import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.ts";
import { WEBHOOK_PATH, type WebhookHint } from "../../src/http/webhook.ts";
import { silentLogger } from "../../src/logger.ts";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { counterSum } from "../support/market-helpers.ts";
import { api, postJob, registerAgent } from "../support/marketplace-requests.ts";
import { waitFor } from "../support/wait.ts";
import { FakeStatusSource } from "./fake-status.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function startRunnerHttp(
  known: Set<string>,
  options: { burst?: number; ratePerSecond?: number; dashboardToken?: string } = {},
): Promise<{ base: string; hints: WebhookHint[]; metrics: Metrics; app: FastifyInstance }> {
  const hints: WebhookHint[] = [];
  const metrics = createMetrics({ processMetrics: false });
  const app = await createHttpServer({
    status: new FakeStatusSource(),
    metrics,
    logger: silentLogger(),
    host: options.dashboardToken ? "0.0.0.0" : "127.0.0.1",
    dashboardToken: options.dashboardToken,
    webhook: {
      isKnownAgent: (id) => known.has(id),
      onHint: (hint) => hints.push(hint),
      burst: options.burst,
      ratePerSecond: options.ratePerSecond,
    },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  closers.push(() => app.close());
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { base: `http://127.0.0.1:${address.port}`, hints, metrics, app };
}

const post = (url: string, body: unknown, agentId = "agent_11111111") =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-openagora-agent-id": agentId },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("the runner's webhook endpoint", () => {
  it("turns the embedded marketplace's job.posted into hints for our agents only", async () => {
    const known = new Set<string>();
    const runner = await startRunnerHttp(known, { dashboardToken: "tok-abc-123" });
    const market = await startMarketplace({ port: 0, dbPath: ":memory:" });
    closers.push(() => market.close());
    const a = api(market.url);
    const hook = `${runner.base}${WEBHOOK_PATH}`;
    const ours = await registerAgent(a, { execution_mode: "webhook", webhook_url: hook });
    known.add(ours);
    const stranger = await registerAgent(a, {
      execution_mode: "webhook",
      webhook_url: hook,
    });
    expect(stranger).not.toBe(ours);

    const jobId = await postJob(a);
    await waitFor("the job.posted hint", () => runner.hints.length >= 1);
    expect(runner.hints[0]).toEqual({ event: "job.posted", agentId: ours, jobId });
    await waitFor("the stranger's notification ignored", async () =>
      (await counterSum(runner.metrics.webhooks, { outcome: "unknown_agent" })) >= 1
        ? true
        : undefined,
    );
  });

  it("takes the service's flat job_assigned (no X-OpenAgora headers) for the agent its body names, answering 202", async () => {
    const ours = "agent_11111111";
    const runner = await startRunnerHttp(new Set([ours]));
    const url = `${runner.base}${WEBHOOK_PATH}`;
    // Exactly what bidding/submit.py posts when a webhook-mode agent's bid is selected.
    const assigned = (agentId: string) => ({
      event: "job_assigned",
      job_id: "job_abcdef12",
      title: "Design a schema",
      description: "Orders and customers",
      budget_usd: 0.05,
      final_price_usd: 0.04,
      agent_id: agentId,
    });
    const bare = (body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const answer = await bare(assigned(ours));
    // Never 200 with `output`: that would be taken as the job's submission.
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: true });
    await waitFor("the assignment hint", () => runner.hints.length === 1);
    expect(runner.hints).toEqual([{ event: "job_assigned", agentId: ours, jobId: "job_abcdef12" }]);

    expect((await bare(assigned("agent_99999999"))).status).toBe(202);
    expect(await counterSum(runner.metrics.webhooks, { outcome: "unknown_agent" })).toBe(1);
    // A flat body without agent_id names nobody: malformed.
    const { agent_id: _gone, ...nameless } = assigned(ours);
    expect((await bare(nameless)).status).toBe(400);
    expect(runner.hints).toHaveLength(1);
  });

  it("refuses malformed and oversized bodies without a hint", async () => {
    const runner = await startRunnerHttp(new Set(["agent_11111111"]));
    const url = `${runner.base}${WEBHOOK_PATH}`;
    expect((await post(url, "{not json")).status).toBe(400);
    expect((await post(url, { event: "job.posted" })).status).toBe(400);
    const huge = { event: "job.posted", job: { job_id: "job_1", description: "x".repeat(70_000) } };
    expect((await post(url, huge)).status).toBe(413);
    expect(await counterSum(runner.metrics.webhooks, { outcome: "malformed" })).toBe(2);
    expect(runner.hints).toEqual([]);
  });

  it("rate-limits each source address", async () => {
    const runner = await startRunnerHttp(new Set(["agent_11111111"]), {
      burst: 3,
      ratePerSecond: 0.001,
    });
    const url = `${runner.base}${WEBHOOK_PATH}`;
    const body = { event: "job.posted", job: { job_id: "job_12345678" } };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(url, body)).status);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(await counterSum(runner.metrics.webhooks, { outcome: "rate_limited" })).toBe(2);
    await waitFor("three hints", () => runner.hints.length === 3);
  });
});
