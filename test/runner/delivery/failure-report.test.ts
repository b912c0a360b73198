import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { createMetrics } from "../../../src/metrics.ts";
import {
  MAX_FAILURE_REPORTS,
  Outbox,
  type SubmitOutcome,
} from "../../../src/runner/delivery/outbox.ts";
import type { LedgerResult } from "../../../src/state/types.ts";
import { counterSum } from "../../support/market-helpers.ts";
import { placeBidOk, postJob, registerAgent } from "../../support/marketplace-requests.ts";
import { startWorkerMarket } from "../../support/runner-units.ts";

const FAILED: LedgerResult = {
  success: false,
  output: "The executor failed: the model timed out.",
  tokensUsed: 0,
  model: "test-model",
  error: "timeout",
};

/**
 * The service answers a failure report (`success: false`) with 500 and keeps the job
 * `assigned`: every retry gets 500 again. The outbox sends one at most three times,
 * then closes it, says so, and leaves the job to its poster.
 */
describe("failure reports the marketplace cannot record", () => {
  async function setUp(result: LedgerResult) {
    const m = await startWorkerMarket("failure-report");
    const agentId = await registerAgent(m.api, { name: "Failing" });
    const jobId = await postJob(m.api);
    const bidId = await placeBidOk(m.api, jobId, { agent_id: agentId });
    expect((await m.api.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status).toBe(200);
    await m.ledger.recordBid(agentId, jobId, { bidId, priceUsd: 1 });
    await m.ledger.recordWon(agentId, jobId);
    await m.ledger.startExecution(agentId, jobId);
    await m.ledger.recordResult(agentId, jobId, result);
    // Every submission answered as the service answers a failure report.
    m.market.setFaults({
      rules: [{ route: "POST /api/jobs/:id/submit-result", fault: "error500" }],
    });
    let submissions = 0;
    const metrics = createMetrics({ processMetrics: false });
    const outcomes: SubmitOutcome[] = [];
    const outbox = new Outbox({
      client: m.client,
      ledger: m.ledger,
      logger: silentLogger(),
      metrics,
      baseDelayMs: 1,
      maxDelayMs: 1,
      onOutcome: (_entry, outcome) => {
        submissions++;
        outcomes.push(outcome);
      },
    });
    /** Flushes until nothing is due, at most `rounds` times. */
    const flush = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        await outbox.flush();
      }
    };
    return { m, agentId, jobId, metrics, outcomes, flush, submissions: () => submissions };
  }

  it("sends a failure report at most three times, then closes it and leaves the job assigned", async () => {
    const { m, agentId, jobId, metrics, outcomes, flush, submissions } = await setUp(FAILED);
    await flush(10);
    expect(submissions()).toBe(MAX_FAILURE_REPORTS);
    expect(outcomes.map((o) => o.kind)).toEqual(["retry", "retry", "closed"]);
    const entry = await m.ledger.get(agentId, jobId);
    expect(entry?.closedReason).toMatch(/failure report after 3 attempts.*left to its poster/);
    expect(entry?.submitAttempts).toBe(3);
    expect(await m.ledger.pendingResults()).toEqual([]);
    expect(await counterSum(metrics.resultsSubmitted, { outcome: "failure_unrecorded" })).toBe(1);
    // The job is the poster's: still assigned, no result on it.
    const job = await m.client.getJob(jobId);
    expect(job.status).toBe("assigned");
    expect(job.result ?? null).toBeNull();
  });

  it("a failure report tried more often before (an older ledger) is closed at once", async () => {
    const { m, agentId, jobId, outcomes, flush } = await setUp(FAILED);
    for (let i = 0; i < 5; i++)
      await m.ledger.recordSubmitFailure(agentId, jobId, "500 Internal Server Error", 0);
    await flush(3);
    expect(outcomes.map((o) => o.kind)).toEqual(["closed"]);
    expect((await m.ledger.get(agentId, jobId))?.submitAttempts).toBe(5);
    expect((await m.ledger.get(agentId, jobId))?.closedAt).toBeDefined();
  });

  it("a successful result is still retried until the marketplace takes it", async () => {
    const { m, agentId, jobId, flush, submissions } = await setUp({
      ...FAILED,
      success: true,
      output: "done",
    });
    await flush(6);
    expect(submissions()).toBe(6);
    expect((await m.ledger.get(agentId, jobId))?.closedAt).toBeUndefined();
    m.market.setFaults(null);
    await flush(2);
    expect((await m.ledger.get(agentId, jobId))?.acceptedAt).toBeDefined();
  });
});
