import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MarketplaceStore,
  type RunningMarketplace,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import { MIGRATIONS } from "../../src/marketplace-server/migrations.ts";
import { assignedJob, getDoc } from "../support/assigned-job.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { type Api, api, obj, placeBidOk, postJob, str } from "../support/marketplace-requests.ts";

/**
 * Human review of hosted work (marketplace-api.md, "Reviews"): the listing, the
 * reviewer's view, and the decision with its payment and the agent's reputation.
 */

let llm: TestLlmServer;
let market: RunningMarketplace;
let a: Api;

beforeAll(async () => {
  llm = await startTestLlmServer({
    responder: () =>
      JSON.stringify({
        summary: "Three dips, all on holidays.",
        key_findings: ["a", "b", "c"],
        details: {},
        confidence: 0.8,
        methodology: "weekday means",
      }),
  });
  market = await startMarketplace({
    dbPath: ":memory:",
    port: 0,
    hostedLlm: { apiKey: llm.apiKey, baseUrl: llm.url, model: "m" },
  });
  a = api(market.url);
});
afterAll(async () => {
  await market?.close();
  await llm?.close();
});

/** A job the marketplace has executed, waiting for review. */
async function reviewable(options: { price?: number; budget?: number } = {}) {
  const job = await assignedJob(a, options);
  const res = await a.req("POST", `/api/jobs/${job.jobId}/execute`);
  if (obj(res.json).status !== "pending_review") throw new Error(`execute: ${res.text}`);
  return job;
}

const review = (jobId: string, body: Record<string, unknown>) =>
  a.req("POST", `/api/jobs/${jobId}/review`, {
    feedback: "fine",
    reviewer_id: "poster_1",
    ...body,
  });

describe("reviews", () => {
  it("lists jobs pending review with their agent's name, and shows one for review", async () => {
    const { jobId, agentId } = await reviewable();
    const listing = obj((await a.req("GET", "/api/reviews/pending")).json);
    const pending = listing.pending_reviews as Record<string, unknown>[];
    expect(listing.count).toBe(pending.length);
    const listed = pending.find((j) => j.job_id === jobId);
    expect(listed).toMatchObject({ status: "pending_review", agent_name: "TestAgent" });

    const view = obj((await a.req("GET", `/api/jobs/${jobId}/review`)).json);
    const job = await getDoc(a, `/api/jobs/${jobId}`);
    expect(view).toEqual({
      job_id: jobId,
      title: job.title,
      description: job.description,
      result: job.result,
      ai_quality_suggestion: job.ai_quality_suggestion,
      agent_id: agentId,
      agent_name: "TestAgent",
      budget_usd: 5,
      status: "pending_review",
    });
  });

  it("accept: the agreed price is released once, the job completed with the review, the agent rated", async () => {
    const { jobId, agentId, wallet } = await reviewable({ price: 2, budget: 5 });
    const res = await review(jobId, { decision: "accept", rating: 0.9 });
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({
      job_id: jobId,
      status: "completed",
      human_review: { decision: "accept", rating: 0.9, feedback: "fine", reviewer: "poster_1" },
      payment: { decision: "accept", payment_status: "released", amount_paid: 2 },
      message: "Review submitted. Payment released.",
    });
    const txnId = str(obj(body.payment).txn_id);

    const job = await getDoc(a, `/api/jobs/${jobId}`);
    expect(job).toMatchObject({
      status: "completed",
      quality_score: 0.9,
      human_review_decision: "accept",
      human_review_rating: 0.9,
      human_review_feedback: "fine",
      reviewed_by: "poster_1",
    });
    expect(typeof job.reviewed_at).toBe("string");
    expect(job.completed_at).toBe(job.reviewed_at);

    const agent = await getDoc(a, `/api/agents/${agentId}`);
    expect(agent).toMatchObject({
      jobs_completed: 1,
      jobs_failed: 0,
      total_earned_usd: 2,
      rating_avg: 4.5,
      rating_count: 1,
      dispute_rate: 0,
    });
    const release = await getDoc(a, `/api/transactions/${txnId}`);
    expect(release).toMatchObject({ txn_type: "release", payee_id: agentId, amount_usd: 2 });
    expect(str(release.payee_wallet).toLowerCase()).toBe(wallet.toLowerCase());
    expect((await getDoc(a, `/api/transactions/${str(job.escrow_txn_id)}`)).status).toBe(
      "released",
    );
    expect((await a.req("GET", "/api/reviews/pending")).text).not.toContain(jobId);
  });

  it("partial: half the price, one completed job; reject: a refund and one failed job", async () => {
    const partial = await reviewable({ price: 3 });
    const paid = obj((await review(partial.jobId, { decision: "partial", rating: 0.5 })).json);
    expect(paid.payment).toMatchObject({ payment_status: "partial", amount_paid: 1.5 });
    expect(await getDoc(a, `/api/agents/${partial.agentId}`)).toMatchObject({
      jobs_completed: 1,
      total_earned_usd: 1.5,
      rating_avg: 2.5,
    });

    const rejected = await reviewable({ price: 3 });
    const res = obj((await review(rejected.jobId, { decision: "reject", rating: 0 })).json);
    expect(res.payment).toMatchObject({
      decision: "reject",
      payment_status: "refunded",
      amount_refunded: 3,
    });
    const refund = await getDoc(a, `/api/transactions/${str(obj(res.payment).txn_id)}`);
    expect(refund).toMatchObject({ txn_type: "refund", amount_usd: 5 });
    expect(await getDoc(a, `/api/agents/${rejected.agentId}`)).toMatchObject({
      jobs_completed: 0,
      jobs_failed: 1,
      total_earned_usd: 0,
      rating_avg: 0,
      rating_count: 1,
    });
  });

  it("rating_avg is the mean of rating × 5 over every review of the agent", async () => {
    const first = await reviewable();
    await review(first.jobId, { decision: "accept", rating: 1 });
    // The same agent wins a second job.
    const jobId = await postJob(a, { title: "Second" });
    const bidId = await placeBidOk(a, jobId, { agent_id: first.agentId, price_usd: 1 });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    await a.req("POST", `/api/jobs/${jobId}/execute`);
    await review(jobId, { decision: "partial", rating: 0.5 });
    expect(await getDoc(a, `/api/agents/${first.agentId}`)).toMatchObject({
      rating_avg: 3.75,
      rating_count: 2,
      jobs_completed: 2,
      total_earned_usd: 2.5,
    });
  });

  it("422 for a missing field; 400 for another decision, a rating outside 0..1, or a job not pending review", async () => {
    const { jobId } = await reviewable();
    for (const missing of ["decision", "rating", "reviewer_id"]) {
      const body: Record<string, unknown> = { decision: "accept", rating: 1, reviewer_id: "r" };
      delete body[missing];
      const res = await a.req("POST", `/api/jobs/${jobId}/review`, body);
      expect(res.status).toBe(422);
      expect(obj(res.json).detail).toMatchObject([{ type: "missing", loc: ["body", missing] }]);
    }
    const bad = await review(jobId, { decision: "maybe", rating: 1 });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ detail: "Decision must be 'accept', 'partial', or 'reject'" });
    const high = await review(jobId, { decision: "accept", rating: 1.5 });
    expect(high.json).toEqual({ detail: "Rating must be between 0.0 and 1.0" });
    expect(high.status).toBe(400);
    // Nothing was changed by the refused reviews.
    expect((await getDoc(a, `/api/jobs/${jobId}`)).status).toBe("pending_review");

    expect((await review(jobId, { decision: "accept", rating: 1 })).status).toBe(200);
    const twice = await review(jobId, { decision: "accept", rating: 1 });
    expect(twice.status).toBe(400);
    expect(twice.json).toEqual({ detail: "Job is not pending review (status: completed)" });
    expect((await a.req("GET", `/api/jobs/${jobId}/review`)).json).toEqual({
      detail: "Job is not pending review (status: completed)",
    });
    expect((await a.req("GET", "/api/jobs/job_00000000/review")).status).toBe(404);
    expect((await review("job_00000000", { decision: "accept", rating: 1 })).status).toBe(404);
  });
});

describe("agent reputation fields", () => {
  it("a new agent has them at 0; submit-result and complete leave jobs_completed and the rating alone", async () => {
    const { jobId, agentId } = await assignedJob(a, { price: 2 });
    expect(await getDoc(a, `/api/agents/${agentId}`)).toMatchObject({
      rating_avg: 0,
      rating_count: 0,
      jobs_completed: 0,
      jobs_failed: 0,
      total_earned_usd: 0,
      dispute_rate: 0,
    });
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "done",
      executed_by: agentId,
    });
    const done = await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=0.9`);
    expect(done.status).toBe(200);
    expect(await getDoc(a, `/api/agents/${agentId}`)).toMatchObject({
      rating_avg: 0,
      rating_count: 0,
      jobs_completed: 0,
      jobs_failed: 0,
      total_earned_usd: 2,
    });
  });

  it("an agent and a job stored before the reputation columns existed read with their defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "reputation-"));
    try {
      const dbPath = join(dir, "v5.db");
      const db = new DatabaseSync(dbPath);
      for (const sql of MIGRATIONS.slice(0, 5)) db.exec(sql);
      db.exec("PRAGMA user_version = 5");
      db.exec(`INSERT INTO agents (agent_id, name, description, owner_id, wallet_address,
        execution_mode, provider, base_rate_usd, rate_per_1k_tokens, status, created_at,
        jobs_completed, total_earned_usd)
        VALUES ('agent_0000abcd', 'Old', 'd', 'o', '0x1', 'self_hosted', 'fireworks', 0.01,
        0.001, 'available', '2024-01-01T00:00:00', 3, 1.5)`);
      db.exec(`INSERT INTO jobs (job_id, poster_id, poster_wallet, title, description, task_type,
        min_capability_score, budget_usd, deadline_minutes, status, created_at)
        VALUES ('job_0000abcd', 'p', '0x2', 't', 'd', 'analysis', 0.7, 1, 10, 'posted',
        '2024-01-01T00:00:00')`);
      db.close();
      const store = new MarketplaceStore(dbPath);
      try {
        expect(store.getAgent("agent_0000abcd")).toMatchObject({
          jobs_completed: 3,
          total_earned_usd: 1.5,
          rating_avg: 0,
          rating_count: 0,
          jobs_failed: 0,
          dispute_rate: 0,
        });
        expect(store.getJob("job_0000abcd")).toMatchObject({
          ai_quality_suggestion: null,
          human_review_decision: null,
          human_review_rating: null,
          human_review_feedback: null,
          reviewed_by: null,
          reviewed_at: null,
        });
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
