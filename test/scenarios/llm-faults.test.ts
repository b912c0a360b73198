import { randomUUID } from "node:crypto";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createLlmClient, type LlmClientOptions } from "../../src/llm/client.ts";
import { createMetrics } from "../../src/metrics.ts";
import { MAX_FAILURE_REPORTS } from "../../src/runner/delivery/outbox.ts";
import type { Runner } from "../../src/runner/runner.ts";
import type { LedgerResult } from "../../src/state/types.ts";
import type { LlmFault } from "../support/llm-server.ts";
import {
  type ApiJob,
  award,
  counterSum,
  getJob,
  pollsPass,
  runningAgents,
  waitForBid,
} from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * LLM faults seen from the runner: each job's completion is retried within its
 * budget (attempts and wall time); when the budget is spent the job gets one failed
 * result that says why, and the marketplace gets it once.
 */

describe("LLM faults at the level of the runner", () => {
  let h: Harness | undefined;
  let pool: Agent | undefined;
  afterEach(async () => {
    await h?.close();
    await pool?.close();
    h = undefined;
    pool = undefined;
  });

  /** A harness and a runner whose LLM client has the given (small) budget. */
  async function start(
    budget: Partial<LlmClientOptions> = {},
  ): Promise<{ runner: Runner; ids: Record<string, string> }> {
    h = await startHarness();
    pool = new Agent();
    const metrics = createMetrics({ processMetrics: false });
    const llm = createLlmClient({
      apiKey: h.llm.apiKey,
      baseUrl: h.llm.url,
      dispatcher: pool,
      logger: h.logger,
      metrics,
      baseDelayMs: 20,
      maxDelayMs: 50,
      ...budget,
    });
    const runner = await h.startRunner({}, { llm, metrics });
    return { runner, ids: await runningAgents(runner, 3) };
  }

  /** Posts a schema job with a unique marker, awards it to SchemaArchitect, waits for its result. */
  async function runJob(
    runner: Runner,
    ids: Record<string, string>,
    faults: { enqueue?: LlmFault[]; always?: LlmFault } = {},
  ): Promise<{ job: ApiJob; result: LedgerResult | undefined; attempts: number; agentId: string }> {
    const harness = h!;
    const marker = `marker-${randomUUID()}`;
    const agentId = ids.SchemaArchitect!;
    const jobId = await postJob(harness.marketplace.url, {
      title: "Design an OpenAPI schema for a REST API",
      description: `A PostgreSQL database schema for bookings (${marker}).`,
      budget_usd: 1,
      required_capabilities: ["schema_design"],
    });
    const bid = await waitForBid(harness.marketplace.url, jobId, agentId);
    const submits = () =>
      counterSum(runner.metrics.marketplaceRequests, { route: "POST /api/jobs/:id/submit-result" });
    const submitsBefore = await submits();
    if (faults.enqueue) harness.llm.enqueue(...faults.enqueue);
    harness.llm.setDefaultFault(faults.always);
    await award(harness.marketplace.url, jobId, bid.bid_id);
    // A result is accepted; a failure report is given up (the service answers 500 to
    // success:false, so it is tried MAX_FAILURE_REPORTS times and the job stays assigned).
    const entry = await waitFor("the result settled in the ledger", async () => {
      const e = await runner.ledger.get(agentId, jobId);
      return e?.acceptedAt || e?.closedAt ? e : undefined;
    });
    harness.llm.setDefaultFault(undefined);
    const sent = (await submits()) - submitsBefore;
    expect(sent).toBe(entry.result?.success ? 1 : MAX_FAILURE_REPORTS);
    // More outbox rounds: nothing is sent again.
    await pollsPass(runner, 3);
    expect((await submits()) - submitsBefore).toBe(sent);
    const job = await getJob(harness.marketplace.url, jobId);
    const attempts = harness.llm
      .completionRequests()
      .filter((r) => r.rawBody.includes(marker)).length;
    return { job, result: entry.result, attempts, agentId };
  }

  it("waits out a 429 with Retry-After, then delivers", async () => {
    const { runner, ids } = await start();
    const { job, attempts } = await runJob(runner, ids, {
      enqueue: [{ kind: "429", retryAfter: "1" }],
    });
    expect(job.status).toBe("completed");
    expect(job.result?.success).toBe(true);
    expect(attempts).toBe(2);
    // The wait was the one the service asked for, not the client's own backoff.
    const retries = h!.logs.entries().filter((e) => e.msg === "LLM call failed, retrying");
    expect(retries.map((e) => e.delayMs)).toEqual([1000]);
  });

  it("persistent 500s: the attempts budget is spent, one failed result says why", async () => {
    const { runner, ids } = await start({ maxAttempts: 3 });
    const { job, result, attempts, agentId } = await runJob(runner, ids, {
      always: { kind: "500" },
    });
    expect(attempts).toBe(3);
    expect(await counterSum(runner.metrics.llmRequests, { outcome: "retry" })).toBe(2);
    expect(job.status).toBe("assigned");
    expect(result?.success).toBe(false);
    expect(result?.output).toMatch(/LLM call failed/);
    expect(result?.output).toMatch(/500/);
    expect(result?.output).toMatch(/gave up after 3 attempts/);
    expect(await counterSum(runner.metrics.executions, { agent: agentId, outcome: "failed" })).toBe(
      1,
    );
    expect(
      await counterSum(runner.metrics.resultsSubmitted, {
        agent: agentId,
        outcome: "failure_unrecorded",
      }),
    ).toBe(1);
  });

  it("persistent 503 pages: the wall-time budget is spent, one failed result says why", async () => {
    const { runner, ids } = await start({
      maxAttempts: 1000,
      maxTotalMs: 1500,
      baseDelayMs: 100,
      maxDelayMs: 200,
    });
    const { job, result, attempts } = await runJob(runner, ids, { always: { kind: "503-html" } });
    expect(job.status).toBe("assigned");
    expect(result?.output).toMatch(/503/);
    expect(result?.output).toMatch(/wall-time budget/);
    // The HTML page itself is not the reason.
    expect(result?.output).not.toMatch(/<html>/);
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThan(100);
  });

  it("an empty completion is retried; empty every time ends as a failed result", async () => {
    const { runner, ids } = await start({ maxAttempts: 2 });
    const once = await runJob(runner, ids, { enqueue: [{ kind: "empty-completion" }] });
    expect(once.job.result?.success).toBe(true);
    expect(once.attempts).toBe(2);

    const always = await runJob(runner, ids, { always: { kind: "empty-completion" } });
    expect(always.attempts).toBe(2);
    expect(always.job.status).toBe("assigned");
    expect(always.result?.output).toMatch(/empty completion/);
  });

  it("a hanging LLM is cut off by the per-attempt timeout; the job fails once, saying so", async () => {
    const { runner, ids } = await start({ maxAttempts: 2, timeoutMs: 300 });
    const { job, result, attempts } = await runJob(runner, ids, { always: { kind: "hang" } });
    expect(attempts).toBe(2);
    expect(job.status).toBe("assigned");
    expect(result?.output).toMatch(/timed out/);
  });

  it("malformed and truncated bodies are retried; malformed every time ends as a failed result", async () => {
    const { runner, ids } = await start({ maxAttempts: 3 });
    const recovered = await runJob(runner, ids, {
      enqueue: [{ kind: "malformed-json" }, { kind: "truncated-json" }],
    });
    expect(recovered.attempts).toBe(3);
    expect(recovered.job.result?.success).toBe(true);

    const broken = await runJob(runner, ids, { always: { kind: "malformed-json" } });
    expect(broken.attempts).toBe(3);
    expect(broken.job.status).toBe("assigned");
    expect(broken.result?.output).toMatch(/malformed JSON/);
  });
});
