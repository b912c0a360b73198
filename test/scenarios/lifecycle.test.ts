import { afterEach, describe, expect, it } from "vitest";
import type { Runner } from "../../src/runner/runner.ts";
import { ANOMALY_JOB, SCHEMA_JOB } from "../support/fixtures.ts";
import { type ApiJob, pollsPass } from "../support/market-helpers.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { api, type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";
import { signIn } from "../support/wallet-auth.ts";

async function agentIds(runner: Runner): Promise<Record<string, string>> {
  return waitFor("all agents registered and running", () => {
    const running = runner.workers.filter((w) => w.state === "running" && w.agentId);
    if (running.length < 3) return undefined;
    return Object.fromEntries(running.map((w) => [w.spec.config.agent_type, w.agentId!]));
  });
}

async function job(h: Harness, jobId: string): Promise<ApiJob> {
  return (await api<ApiJob>(h.marketplace.url, "GET", `/api/jobs/${jobId}`)).body;
}

describe("runner lifecycle against the embedded marketplace", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it("registers the three default agents under a per-owner registration cooldown", async () => {
    h = await startHarness({ registrationCooldownSeconds: 1 });
    const runner = await h.startRunner();
    const ids = await agentIds(runner);
    expect(Object.keys(ids).sort()).toEqual([
      "anomaly_hunter",
      "code_reviewer",
      "schema_architect",
    ]);
    const { body } = await api<{
      agents: Array<{ agent_id: string; owner_id: string; capabilities: Record<string, number> }>;
    }>(h.marketplace.url, "GET", "/api/agents");
    const ours = body.agents.filter((a) => a.owner_id === "multi_runner");
    expect(ours.map((a) => a.agent_id).sort()).toEqual(Object.values(ids).sort());
    const schema = ours.find((a) => a.agent_id === ids.schema_architect);
    expect(schema?.capabilities).toEqual({
      schema_design: 0.96,
      code_review: 0.88,
      data_extraction: 0.85,
    });
    // The cooldown made the service answer 429 at least once; the runner waited it out.
    expect(h.logs.text()).toMatch(/429/);
  });

  it("restarts reuse the same marketplace agents (stable wallets)", async () => {
    h = await startHarness();
    const first = await h.startRunner();
    const before = await agentIds(first);
    await first.stop();
    const second = await h.startRunner();
    expect(await agentIds(second)).toEqual(before);
  });

  it("registers an agent again when the marketplace no longer knows it", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await agentIds(runner);
    const lost = ids.code_reviewer!;
    const worker = runner.workers.find((w) => w.spec.config.agent_type === "code_reviewer")!;
    // Deleting an agent takes its owner's sign-in: the runner holds the agent's key.
    const owner = await signIn(rawApi(h.marketplace.url), worker.wallet!.account!);
    expect(
      (await api(h.marketplace.url, "DELETE", `/api/agents/${lost}`, undefined, owner)).status,
    ).toBe(200);
    const again = await waitFor("a new registration", () =>
      worker.agentId !== lost ? worker.agentId : undefined,
    );
    expect((await api(h.marketplace.url, "GET", `/api/agents/${again}`)).status).toBe(200);
    expect(
      h.logs
        .entries()
        .some((e) => e.msg === "marketplace no longer knew the agent; registered it again"),
    ).toBe(true);
  });

  it("bids only where specialty and capabilities fit, once per agent and job", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await agentIds(runner);
    const schemaJob = await postJob(h.marketplace.url, SCHEMA_JOB);
    const anomalyJob = await postJob(h.marketplace.url, ANOMALY_JOB);
    const cakeJob = await postJob(h.marketplace.url, {
      title: "Bake a birthday cake",
      description: "Chocolate, three layers, candles.",
      budget_usd: 1,
    });
    const lacking = await postJob(h.marketplace.url, {
      ...SCHEMA_JOB,
      title: "Translate an OpenAPI schema to French",
      required_capabilities: ["translation"],
    });
    const noBudget = await postJob(h.marketplace.url, { ...SCHEMA_JOB, budget_usd: 0.0001 });

    await waitFor(
      "bids on the schema and anomaly jobs",
      async () =>
        (await job(h, schemaJob)).bids.length > 0 && (await job(h, anomalyJob)).bids.length > 0,
    );
    // Several more polls pass: nobody bids again.
    await pollsPass(runner, 6);

    const schemaBids = (await job(h, schemaJob)).bids;
    expect(schemaBids.map((b) => b.agent_id)).toEqual([ids.schema_architect]);
    // The design's formula, capped at 0.85 × budget: base 0.04 × (1 + 0.5 × confidence).
    expect(schemaBids[0]!.price_usd).toBeGreaterThan(0.04);
    expect(schemaBids[0]!.price_usd).toBeLessThanOrEqual(0.04 * 1.5);
    expect((await job(h, anomalyJob)).bids.map((b) => b.agent_id)).toEqual([ids.anomaly_hunter]);
    expect((await job(h, cakeJob)).bids).toEqual([]);
    expect((await job(h, lacking)).bids).toEqual([]);
    // 0.85 × a tiny budget is still a valid bid below the budget, or no bid at all.
    for (const bid of (await job(h, noBudget)).bids)
      expect(bid.price_usd).toBeLessThanOrEqual(0.0001);
  });

  it("executes an awarded job with the agent's system prompt and model and submits the result once", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await agentIds(runner);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitFor("a bid", async () => (await job(h, jobId)).bids[0]);
    expect(
      (await api(h.marketplace.url, "POST", `/api/jobs/${jobId}/select-bid/${bid.bid_id}`)).status,
    ).toBe(200);

    const done = await waitFor("the result", async () => {
      const j = await job(h, jobId);
      return j.status === "completed" ? j : undefined;
    });
    expect(done.result?.executed_by).toBe(ids.schema_architect);
    expect(done.result?.success).toBe(true);
    expect(done.result?.model).toBe("accounts/fireworks/models/llama-v3p3-70b-instruct");
    expect(done.result?.tokens_used).toBeGreaterThan(0);

    const calls = h.llm.requests.filter((r) =>
      JSON.stringify(r.body).includes("bookings REST API"),
    );
    expect(calls).toHaveLength(1);
    const messages = calls[0]!.body!.messages as Array<{ role: string; content: string }>;
    expect(messages[0]?.role).toBe("system");
    expect(messages[0]?.content).toMatch(/SchemaArchitect/);
    expect(messages[0]?.content).not.toMatch(/bookings/);
    expect(calls[0]!.body!.temperature).toBe(0.4);

    // Several outbox rounds later the ledger says accepted, and nothing was sent twice.
    await waitFor(
      "the ledger to record acceptance",
      async () => (await runner.ledger.get(ids.schema_architect!, jobId))?.acceptedAt,
    );
    const submissions = h.logs
      .entries()
      .filter((e) => e.msg === "result accepted" && e.jobId === jobId);
    expect(submissions).toHaveLength(1);
  });

  it("retries an LLM 429 and still delivers", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    await agentIds(runner);
    const jobId = await postJob(h.marketplace.url, ANOMALY_JOB);
    const bid = await waitFor("a bid", async () => (await job(h, jobId)).bids[0]);
    h.llm.enqueue({ kind: "429", retryAfterSeconds: 1 });
    await api(h.marketplace.url, "POST", `/api/jobs/${jobId}/select-bid/${bid.bid_id}`);
    const done = await waitFor("the result", async () => {
      const j = await job(h, jobId);
      return j.status === "completed" ? j : undefined;
    });
    expect(done.result?.success).toBe(true);
    expect(
      h.llm.requests.filter((r) => JSON.stringify(r.body).includes("temperature readings")).length,
    ).toBe(2);
  });

  it("without an LLM key still bids and answers a won job with the tools' report, completed", async () => {
    h = await startHarness({ llmKey: false });
    const runner = await h.startRunner();
    await agentIds(runner);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitFor("a bid", async () => (await job(h, jobId)).bids[0]);
    await api(h.marketplace.url, "POST", `/api/jobs/${jobId}/select-bid/${bid.bid_id}`);
    const done = await waitFor("the completed result", async () => {
      const j = await job(h, jobId);
      return j.status === "completed" ? j : undefined;
    });
    expect(done.result?.success).toBe(true);
    expect(done.result?.output).toMatch(/^_Produced without a language model/);
    expect(h.llm.requests).toHaveLength(0);
  });

  it("stop() finishes in-flight work, then heartbeats offline", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await agentIds(runner);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitFor("a bid", async () => (await job(h, jobId)).bids[0]);
    h.llm.enqueue({ kind: "slow", delayMs: 1500 });
    await api(h.marketplace.url, "POST", `/api/jobs/${jobId}/select-bid/${bid.bid_id}`);
    await waitFor("the job in flight", () => runner.workers.some((w) => w.inFlightCount > 0));
    await runner.stop();
    const done = await job(h, jobId);
    expect(done.status).toBe("completed");
    const agent = await api<{ status: string }>(
      h.marketplace.url,
      "GET",
      `/api/agents/${ids.schema_architect}`,
    );
    expect(agent.body.status).toBe("offline");
  });
});
