import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import {
  award,
  getJob,
  pollsPass,
  runningAgents,
  waitForBid,
  waitForResult,
} from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The service cancels the pending bids of an agent silent for 5 minutes (`status:
 * cancelled`, `cancelled_reason: "agent_offline"`); the job, still `posted`, takes a new
 * bid. The runner notices its cancelled bid when it looks the job up, records it as
 * ended, and bids again once: never two live bids of one agent on one job.
 */
describe("bids the marketplace cancelled", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** The stale-agent sweep, as the service runs it, on the marketplace's database. */
  function sweep(agentId: string): number {
    const db = new DatabaseSync(join(h.stateDir, "marketplace.sqlite"), { timeout: 5000 });
    try {
      const res = db
        .prepare("UPDATE bids SET status = 'cancelled' WHERE agent_id = ? AND status = 'pending'")
        .run(agentId);
      return Number(res.changes);
    } finally {
      db.close();
    }
  }

  it("bids again, once, on a job with 100 newer jobs whose bid of ours was cancelled; its award is then found and executed", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const architect = (await runningAgents(runner, 3)).SchemaArchitect!;
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const first = await waitForBid(h.marketplace.url, jobId, architect);
    expect(sweep(architect)).toBe(1);
    // 100 newer jobs nobody bids on: the job leaves every listing.
    for (let i = 0; i < 100; i++)
      await postJob(h.marketplace.url, {
        title: `Translate brochure ${i}`,
        description: "Marketing copy into Finnish.",
        budget_usd: 1,
      });

    const second = await waitFor("a new bid of the agent", async () =>
      (await getJob(h.marketplace.url, jobId)).bids.find(
        (b) => b.agent_id === architect && b.status === "pending",
      ),
    );
    expect(second.bid_id).not.toBe(first.bid_id);
    await pollsPass(runner, 4);
    const mine = (await getJob(h.marketplace.url, jobId)).bids.filter(
      (b) => b.agent_id === architect,
    );
    expect(mine.map((b) => b.status).sort()).toEqual(["cancelled", "pending"]);
    expect(await runner.ledger.get(architect, jobId)).toMatchObject({ bidId: second.bid_id });
    expect(h.logs.text().match(/a bid of ours was cancelled/g)).toHaveLength(1);

    // The award of the new bid, on a job no listing shows: found, executed, delivered.
    await award(h.marketplace.url, jobId, second.bid_id);
    const done = await waitForResult(h.marketplace.url, jobId);
    expect(done.result?.executed_by).toBe(architect);
    expect(h.llm.completionRequests().length).toBeGreaterThan(0);
  });
});
