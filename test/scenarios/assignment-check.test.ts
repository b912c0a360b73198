import { afterEach, describe, expect, it } from "vitest";
import type { Job } from "../../src/marketplace/schemas.ts";
import { checkAssignment } from "../../src/runner/policy/assignment-check.ts";
import type { LedgerEntry } from "../../src/state/types.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import {
  type ApiJob,
  award,
  counterSum,
  pollsPass,
  runningAgents,
  waitForBid,
} from "../support/market-helpers.ts";
import { api, type Harness, postJob, startHarness } from "../support/runner-harness.ts";

/**
 * Bids need no sign-in and may name any agent; select-bid checks nothing. So an agent
 * can be assigned a job it never bid on, at a price it never offered: the runner must
 * not execute it (no LLM call, no submission), and must say so.
 */
describe("assignments the runner did not agree to", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** A bid through the HTTP API, as anybody may place it, in any agent's name. */
  async function strangerBid(jobId: string, agentId: string, priceUsd: number): Promise<string> {
    const q = new URLSearchParams({
      agent_id: agentId,
      price_usd: String(priceUsd),
      estimated_quality: "0.9",
      estimated_time_seconds: "60",
      approach_summary: "free work, courtesy of a stranger",
    });
    const res = await api<{ bid_id: string }>(
      h.marketplace.url,
      "POST",
      `/api/jobs/${jobId}/bids?${q}`,
    );
    expect(res.status).toBe(200);
    return res.body.bid_id;
  }

  async function job(jobId: string): Promise<ApiJob> {
    return (await api<ApiJob>(h.marketplace.url, "GET", `/api/jobs/${jobId}`)).body;
  }

  it("a stranger's $0 bid in CodeReviewer's name on a job every agent skipped: selected, never executed nor submitted", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    const reviewer = ids.CodeReviewer!;
    // No keyword of any agent: every agent skips it.
    const jobId = await postJob(h.marketplace.url, {
      title: "Translate our brochure into Finnish",
      description: "Marketing copy, 400 words, Finnish native speaker wanted.",
      budget_usd: 2,
    });
    await pollsPass(runner, 2);
    expect((await job(jobId)).bids).toEqual([]);

    await award(h.marketplace.url, jobId, await strangerBid(jobId, reviewer, 0));
    // Nothing of ours pointed at the job; a runner starting now lists every assignment.
    await runner.stop();
    const next = await h.startRunner();
    await runningAgents(next, 3);
    await pollsPass(next, 4);

    expect(h.llm.completionRequests()).toHaveLength(0);
    const after = await job(jobId);
    expect(after.status).toBe("assigned");
    expect(after.result).toBeNull();
    const refused = next.decisions(jobId).filter((d) => d.reason === "not_our_bid");
    expect(refused).toHaveLength(1);
    expect(refused[0]?.agentId).toBe(reviewer);
    expect(await counterSum(next.metrics.assignmentsRefused, { reason: "not_our_bid" })).toBe(1);
    // Said once, however many polls list it.
    expect(h.logs.text().match(/will not execute/g)).toHaveLength(1);
    expect(await counterSum(next.metrics.executions)).toBe(0);
  });

  it("a stranger's cheaper bid in our name beats our own bid: not executed; our own bid's award is", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    const architect = ids.SchemaArchitect!;
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const own = await waitForBid(h.marketplace.url, jobId, architect);
    await award(h.marketplace.url, jobId, await strangerBid(jobId, architect, 0.01));
    await pollsPass(runner, 4);
    expect(h.llm.completionRequests()).toHaveLength(0);
    expect((await job(jobId)).result).toBeNull();
    expect(runner.decisions(jobId).some((d) => d.reason === "not_our_bid")).toBe(true);

    // The same agent's own bid, selected on another job: executed as before.
    const second = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Another schema" });
    const ownBid = await waitForBid(h.marketplace.url, second, architect);
    await award(h.marketplace.url, second, ownBid.bid_id);
    await pollsPass(runner, 4);
    expect(h.llm.completionRequests().length).toBeGreaterThan(0);
    expect(own.price_usd).toBeGreaterThan(0.01);
  });
});

describe("checkAssignment", () => {
  const job = (fields: Partial<Job> = {}): Job =>
    ({
      job_id: "job_1",
      title: "t",
      description: "",
      status: "assigned",
      winning_bid_id: "bid_ours",
      assigned_agent_id: "agent_1",
      final_price_usd: 1,
      ...fields,
    }) as Job;
  const entry = (fields: Partial<LedgerEntry> = {}): LedgerEntry => ({
    agentId: "agent_1",
    jobId: "job_1",
    bidId: "bid_ours",
    bidPriceUsd: 1,
    bidAt: "2026-12-06T00:00:00.000Z",
    executionAttempts: 0,
    submitAttempts: 0,
    updatedAt: "2026-12-06T00:00:00.000Z",
    ...fields,
  });

  it("executes our own winning bid at our price, or at an accepted counter at the floor or above", () => {
    expect(checkAssignment({ job: job(), entry: entry(), floorUsd: 0.5 })).toEqual({
      kind: "ours",
      agreedUsd: 1,
    });
    // Our own price stands even when the floor rose since (a config change).
    expect(checkAssignment({ job: job(), entry: entry(), floorUsd: 2 }).kind).toBe("ours");
    expect(
      checkAssignment({ job: job({ final_price_usd: 0.6 }), entry: entry(), floorUsd: 0.5 }).kind,
    ).toBe("ours");
  });

  it("refuses an assignment with no bid of ours, or through another bid in our name", () => {
    expect(checkAssignment({ job: job(), entry: undefined, floorUsd: 0.1 })).toMatchObject({
      kind: "refused",
      reason: "not_our_bid",
    });
    expect(
      checkAssignment({
        job: job({ winning_bid_id: "bid_stranger" }),
        entry: entry(),
        floorUsd: 0,
      }),
    ).toMatchObject({ kind: "refused", reason: "not_our_bid" });
  });

  it("a bid of ours whose id was never learnt: the agreed price must reach the floor", () => {
    const unknown = entry({ bidId: "unknown" });
    expect(
      checkAssignment({ job: job({ final_price_usd: 0 }), entry: unknown, floorUsd: 0.2 }),
    ).toMatchObject({ kind: "refused", reason: "below_floor" });
    expect(
      checkAssignment({
        job: job({ final_price_usd: null }),
        entry: unknown,
        floorUsd: 0.2,
        winningBid: { bid_id: "bid_x", price_usd: 0.3, final_price_usd: null },
      }),
    ).toEqual({ kind: "ours", agreedUsd: 0.3 });
    // Given up on (cancelled): no longer a bid of ours.
    expect(
      checkAssignment({
        job: job(),
        entry: entry({ bidId: "unknown", stakeEndedAt: "2026-12-06T00:00:00.000Z" }),
        floorUsd: 0,
      }),
    ).toMatchObject({ kind: "refused", reason: "not_our_bid" });
  });

  it("a counter below the floor that we never accepted is refused", () => {
    expect(
      checkAssignment({ job: job({ final_price_usd: 0.1 }), entry: entry(), floorUsd: 0.5 }),
    ).toMatchObject({ kind: "refused", reason: "below_floor" });
  });
});
