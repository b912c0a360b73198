import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { startTracing, type Tracing } from "../../src/tracing/start.ts";
import { jobTraceIds } from "../../src/tracing/trace-ids.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { award, waitForBid } from "../support/market-helpers.ts";
import { POSTER } from "../support/marketplace-requests.ts";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  renderWaterfall,
  startOtlpReceiver,
} from "../support/otlp-receiver.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, startHarness } from "../support/runner-harness.ts";
import { SECRET_TEST_MNEMONIC, WATCHED_SECRETS } from "../support/test-secrets.ts";
import { waitFor } from "../support/wait.ts";
import { signIn } from "../support/wallet-auth.ts";

/**
 * Tracing on, for real: the runner against the embedded marketplace and the test LLM
 * server, its spans exported over OTLP/HTTP to a receiver that decodes them. One job,
 * posted, bid on, countered, awarded, executed, submitted and paid, is one trace.
 */

let h: Harness | undefined;
let receiver: OtlpReceiver | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  await h?.close();
  await tracing?.shutdown();
  await receiver?.close();
  h = undefined;
  tracing = undefined;
  receiver = undefined;
});

const CLIENT = 3;

const schemaWorker = (runner: Runner) =>
  runner.workers.find((w) => w.spec.config.agent_type === "schema_architect")!;

async function tracedRunner(env: Record<string, string> = {}) {
  receiver = await startOtlpReceiver();
  h = await startHarness({ env: { AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC } });
  const metrics = createMetrics({ processMetrics: false, exemplars: true });
  tracing = await startTracing({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "20", ...env },
    logger: h.logger,
    metrics,
    llmPrices: { ...h.config.llmPrices, "test-model": 2 },
  });
  expect(tracing).toBeDefined();
  const runner = await h.startRunner({}, { metrics });
  await waitFor("all agents running", () =>
    runner.workers.length === 3 && runner.workers.every((w) => w.state === "running")
      ? true
      : undefined,
  );
  return { harness: h, receiver, runner, metrics };
}

async function postJob(harness: Harness): Promise<string> {
  const res = await rawApi(harness.marketplace.url).req("POST", "/api/jobs", {
    ...SCHEMA_JOB,
    poster_id: "trace_poster",
    poster_wallet: POSTER.address,
  });
  if (res.status !== 200) throw new Error(`post: ${res.status} ${res.text}`);
  return (res.json as { job_id: string }).job_id;
}

async function counter(harness: Harness, bidId: string, price: number): Promise<void> {
  const a = rawApi(harness.marketplace.url);
  const res = await a.req(
    "POST",
    `/api/bids/${bidId}/counter`,
    { new_price: price, message: "How about this?", by: "poster" },
    await signIn(a, POSTER),
  );
  if (res.status !== 200) throw new Error(`counter: ${res.status} ${res.text}`);
}

describe("one trace per job", () => {
  it("shows a job from decision to payment as one trace, in order, with the right parents", async () => {
    const { harness, runner, metrics } = await tracedRunner();
    const worker = schemaWorker(runner);
    const agentId = worker.agentId!;
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, agentId);
    await counter(harness, bid.bid_id, 0.03);
    await waitFor("the counter-offer answered", () =>
      runner.recentEvents().some((e) => e.kind === "negotiation" && e.jobId === jobId)
        ? true
        : undefined,
    );
    await award(harness.marketplace.url, jobId, bid.bid_id);
    await waitFor("the result accepted", () =>
      worker.stats.view.resultsAccepted === 1 ? true : undefined,
    );
    await rawApi(harness.marketplace.url).req(
      "POST",
      `/api/jobs/${jobId}/complete?quality_score=0.6`,
    );
    await waitFor("the payment read back", () =>
      worker.stats.view.earnings.paidUsd > 0 ? true : undefined,
    );

    const { traceId, rootSpanId } = jobTraceIds(agentId, jobId);
    const spans = await waitFor("the job's root span at the receiver", async () => {
      await tracing!.flush();
      const mine = receiver!.spans().filter((s) => s.traceId === traceId);
      return mine.some((s) => s.name === "bazaar.job") ? mine : undefined;
    });
    // The README's "screenshot" of a trace.
    console.log(`\n${renderWaterfall(spans)}\n`);

    const named = (name: string) => spans.filter((s) => s.name === name);
    const one = (name: string): ReceivedSpan => {
      const found = named(name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const root = one("bazaar.job");
    expect(root.spanId).toBe(rootSpanId);
    expect(root.parentSpanId).toBe("");
    expect(root.attributes["bazaar.job.id"]).toBe(jobId);
    expect(root.attributes["bazaar.job.outcome"]).toBe("partial");
    expect(root.resource["service.name"]).toBe("bazaar-runner");

    // The story's steps hang from the root, in the order they happened.
    const steps = spans
      .filter((s) => s.parentSpanId === rootSpanId)
      .sort((a, b) => (a.startNs < b.startNs ? -1 : 1))
      .map((s) => s.name);
    expect(steps).toEqual([
      "bazaar.decision",
      "bazaar.bid",
      "bazaar.negotiation",
      "bazaar.award",
      "bazaar.execution",
      "bazaar.submission",
      "bazaar.payment",
    ]);
    const decision = one("bazaar.decision");
    expect(decision.attributes["bazaar.decision.reason"]).toBe("bid");
    expect(decision.attributes["bazaar.bid.price_usd"]).toBe(bid.price_usd);
    expect(one("bazaar.negotiation").attributes["bazaar.negotiation.action"]).toBe("accept");
    expect(one("bazaar.award").attributes["bazaar.award.noticed_by"]).toBe("poll");
    expect(one("bazaar.payment").attributes["bazaar.payment.amount_usd"]).toBe(bid.price_usd / 2);

    // Marketplace calls are client spans under the step that made them.
    const clientUnder = (parent: ReceivedSpan) =>
      spans.filter((s) => s.parentSpanId === parent.spanId && s.kind === CLIENT);
    expect(clientUnder(one("bazaar.bid")).map((s) => s.name)).toEqual(["POST /api/jobs/:id/bids"]);
    const submitCall = clientUnder(one("bazaar.submission"));
    expect(submitCall.map((s) => s.attributes["http.response.status_code"])).toEqual([200]);

    // The execution: its LLM calls are the AI SDK's GenAI spans, with usage and cost.
    const execution = one("bazaar.execution");
    expect(execution.attributes["bazaar.execution.success"]).toBe(true);
    const underExecution = (span: ReceivedSpan): boolean =>
      span.parentSpanId === execution.spanId ||
      spans.some((p) => p.spanId === span.parentSpanId && underExecution(p));
    const llmCalls = spans.filter(
      (s) => underExecution(s) && typeof s.attributes["gen_ai.usage.output_tokens"] === "number",
    );
    expect(llmCalls.length).toBeGreaterThan(0);
    for (const call of llmCalls) {
      expect(typeof call.attributes["gen_ai.request.model"]).toBe("string");
      expect(typeof call.attributes["gen_ai.usage.input_tokens"]).toBe("number");
      expect(call.attributes["bazaar.llm.cost_usd"]).toBeGreaterThanOrEqual(0);
    }

    // The prompt and the answer stay out of the trace (customer data).
    for (const call of llmCalls) {
      expect(call.attributes).not.toHaveProperty("gen_ai.input.messages");
      expect(call.attributes).not.toHaveProperty("gen_ai.output.messages");
    }
    // The quality gate, where it runs, is a step of the execution.
    for (const gate of named("bazaar.quality_gate")) expect(underExecution(gate)).toBe(true);

    // No secret in any attribute (the receiver also wrote them to the printed log,
    // which the suite's secret guard greps at the end).
    const everything = JSON.stringify(receiver!.spans().map((s) => [s.attributes, s.resource]));
    for (const secret of WATCHED_SECRETS) expect(everything).not.toContain(secret);

    // The job's log lines and the metric exemplars name the trace.
    const started = harness.logs
      .entries()
      .find((e) => e.msg === "execution started" && e.jobId === jobId);
    expect(started?.traceId).toBe(traceId);
    const exposition = await metrics.registry.metrics();
    expect(exposition).toContain(`trace_id="${traceId}"`);
    // The dashboard's job view gets it with the decision.
    expect(runner.decisions(jobId).find((d) => d.agentId === agentId)?.traceId).toBe(traceId);
  });

  it("joins the spans of a restarted runner to the same trace, with no stored id", async () => {
    const { harness, runner } = await tracedRunner();
    const agentId = schemaWorker(runner).agentId!;
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, agentId);
    // The runner that bid stops; another (same ledger, same agents) takes the award.
    await runner.stop();
    const again = await harness.startRunner();
    await waitFor("the agents running again", () =>
      again.workers.length === 3 && again.workers.every((w) => w.state === "running")
        ? true
        : undefined,
    );
    const worker = schemaWorker(again);
    expect(worker.agentId).toBe(agentId);
    await award(harness.marketplace.url, jobId, bid.bid_id);
    await waitFor("the result accepted", () =>
      worker.stats.view.resultsAccepted === 1 ? true : undefined,
    );
    await rawApi(harness.marketplace.url).req(
      "POST",
      `/api/jobs/${jobId}/complete?quality_score=1`,
    );
    const { traceId, rootSpanId } = jobTraceIds(agentId, jobId);
    const spans = await waitFor("the job's root span at the receiver", async () => {
      await tracing!.flush();
      const mine = receiver!.spans().filter((s) => s.traceId === traceId);
      return mine.some((s) => s.name === "bazaar.job") ? mine : undefined;
    });
    const steps = spans
      .filter((s) => s.parentSpanId === rootSpanId)
      .sort((a, b) => (a.startNs < b.startNs ? -1 : 1))
      .map((s) => s.name);
    // The restarted runner may see the job still posted and find its bid standing: a
    // decision `already_bid`, which does not end the trace.
    expect(steps[0]).toBe("bazaar.decision");
    expect(steps.filter((name) => name !== "bazaar.decision")).toEqual([
      "bazaar.bid",
      "bazaar.award",
      "bazaar.execution",
      "bazaar.submission",
      "bazaar.payment",
    ]);
    for (const later of spans.filter((s) => s.name === "bazaar.decision").slice(1))
      expect(later.attributes["bazaar.decision.reason"]).toBe("already_bid");
    const roots = spans.filter((s) => s.name === "bazaar.job");
    expect(roots.map((s) => s.attributes["bazaar.job.outcome"])).toEqual(["released"]);
  });
});
