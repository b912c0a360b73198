import { describe, expect, it } from "vitest";
import { expectAuthRequired, expectDetail, httpxParams } from "../../support/client-replay.ts";
import { useHostedMarket } from "../../support/hosted-market.ts";
import {
  obj,
  postJob,
  type RawResponse,
  registerAgent,
  str,
} from "../../support/marketplace-requests.ts";

/**
 * The real service's web UI (OpenAgora ui/src/App.tsx), its requests replayed against
 * the embedded marketplace, each answer the one the service's api.py gives. The UI
 * cannot post a job (its wallet is 40 characters, api.py wants 42) nor approve or reject
 * a bid (it sends no session); it reads, and it reviews.
 */

const LLM_ANSWER = {
  summary: "Three anomalies in March.",
  key_findings: ["Spike on the 3rd", "Dip on the 17th", "Flat week 4"],
  details: { anomalies: 3 },
  confidence: 0.8,
  methodology: "Seasonal decomposition.",
};

/** App.tsx `handlePostJob`: the poster it adds to every job. */
const UI_POSTER = {
  poster_id: "demo_user",
  poster_wallet: "0xDemoWallet0000000000000000000000000001",
};
/** App.tsx `handleAcceptBid` / `handleRejectBid`: a JSON content type and no body. */
const JSON_NO_BODY = { "content-type": "application/json" };

const hosted = useHostedMarket("accounts/test/models/ui", () => JSON.stringify(LLM_ANSWER));

/** App.tsx `fetchData`: the three reads, and the key the UI takes from each. */
async function fetchData() {
  const [agents, jobs, reviews] = await Promise.all([
    hosted.a.req("GET", "/api/agents"),
    hosted.a.req("GET", "/api/jobs"),
    hosted.a.req("GET", "/api/reviews/pending"),
  ]);
  for (const res of [agents, jobs, reviews]) expect(res.status, res.text).toBe(200);
  const list = (res: RawResponse, key: string) => obj(res.json)[key] as Record<string, unknown>[];
  return {
    agents: list(agents, "agents"),
    jobs: list(jobs, "jobs"),
    pendingReviews: list(reviews, "pending_reviews"),
  };
}

/** A job posted elsewhere (the UI cannot), bid on and awarded to `agentId`: its bid. */
async function bidOn(jobId: string, agentId: string, price: number): Promise<string> {
  const res = await hosted.a.req(
    "POST",
    `/api/jobs/${jobId}/bids?${httpxParams({
      agent_id: agentId,
      price_usd: price,
      estimated_quality: 0.8,
      estimated_time_seconds: 60,
      approach_summary: "Decompose the series",
    })}`,
  );
  expect(res.status, res.text).toBe(200);
  return str(obj(res.json).bid_id);
}

/** A job done by hosted execution, waiting for the human's review; its agreed price is `price`. */
async function pendingReview(agentId: string, price: number): Promise<string> {
  const jobId = await postJob(hosted.a, { budget_usd: 4 });
  const bidId = await bidOn(jobId, agentId, price);
  expect((await hosted.a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status).toBe(200);
  const executed = await hosted.a.req("POST", `/api/jobs/${jobId}/execute`);
  expect(obj(executed.json).status).toBe("pending_review");
  return jobId;
}

/** App.tsx `submitReview`: the body it sends for a decision. */
function reviewBody(decision: "accept" | "partial" | "reject") {
  return {
    decision,
    rating: decision === "accept" ? 1.0 : decision === "partial" ? 0.5 : 0.2,
    feedback: `User ${decision}ed the work`,
    reviewer_id: "demo_user",
  };
}

describe("ui/src/App.tsx", () => {
  it("fetchData reads agents, jobs and pending reviews; handlePostJob's job is refused (400) and nothing is reloaded", async () => {
    const agentId = await registerAgent(hosted.a, { name: "Analyst" });
    const before = await fetchData();
    expect(before.agents.map((x) => x.agent_id)).toContain(agentId);

    // handlePostJob: the modal's fields (PostJobModal handleSubmit) and the UI's poster
    const res = await hosted.a.req("POST", "/api/jobs", {
      title: "Find the anomalies",
      description: "In March's sales",
      budget_usd: Number.parseFloat("5.00"),
      required_capabilities: ["anomaly_detection"],
      ...UI_POSTER,
    });
    expectDetail(
      res,
      400,
      "Valid wallet address required. Please connect your wallet before posting a job.",
    );
    expect((await fetchData()).jobs).toEqual(before.jobs);
  });

  it("JobDetailModal lists a job's bids; handleAcceptBid and handleRejectBid send no session: 401, the bid unchanged", async () => {
    const agentId = await registerAgent(hosted.a, { name: "Bidder" });
    const jobId = await postJob(hosted.a, { budget_usd: 20 });
    const bidId = await bidOn(jobId, agentId, 12); // $10 or more: awaiting the poster's approval

    // JobDetailModal: fetch(`/api/jobs/${job.job_id}/bids`), data.bids
    const bids = await hosted.a.req("GET", `/api/jobs/${jobId}/bids`);
    expect(bids.status).toBe(200);
    expect(obj(bids.json).bids).toEqual([
      expect.objectContaining({
        bid_id: bidId,
        agent_name: "Bidder",
        agent_status: "available",
        price_usd: 12,
        estimated_quality: 0.8,
        approach_summary: "Decompose the series",
        status: "awaiting_approval",
      }),
    ]);

    // handleAcceptBid / handleRejectBid
    expectAuthRequired(
      await hosted.a.req("POST", `/api/bids/${bidId}/approve`, undefined, JSON_NO_BODY),
    );
    expectAuthRequired(
      await hosted.a.req("POST", `/api/bids/${bidId}/reject`, undefined, JSON_NO_BODY),
    );
    const after = obj((await hosted.a.req("GET", `/api/jobs/${jobId}/bids`)).json).bids;
    expect(after).toEqual([
      expect.objectContaining({ bid_id: bidId, status: "awaiting_approval" }),
    ]);
  });

  it("a bid whose job was deleted while the modal was open: approve and reject are still 401 (require_auth comes before the bid's lookup)", async () => {
    const agentId = await registerAgent(hosted.a, { name: "Orphan" });
    const jobId = await postJob(hosted.a);
    const bidId = await bidOn(jobId, agentId, 1);
    // Deleted by someone else (api.py delete_job).
    const deleted = await hosted.a.req("DELETE", `/api/jobs/${jobId}`);
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ success: true, job_id: jobId, message: "Job deleted" });

    expectAuthRequired(
      await hosted.a.req("POST", `/api/bids/${bidId}/approve`, undefined, JSON_NO_BODY),
    );
    expectAuthRequired(
      await hosted.a.req("POST", `/api/bids/${bidId}/reject`, undefined, JSON_NO_BODY),
    );
    expectAuthRequired(
      await hosted.a.req("POST", "/api/bids/bid_00000000/approve", undefined, JSON_NO_BODY),
    );
  });

  // db.py delete_job removes the job document only, so on the service
  // get_bids_for_job still lists a deleted job's bids. The embedded marketplace deletes
  // them with the job (docs/marketplace-api.md, "Different on purpose"); the UI's modal
  // shows an empty bid list either way it can render.
  it("JobDetailModal of a job deleted meanwhile: its bids went with it (different on purpose)", async () => {
    const agentId = await registerAgent(hosted.a, { name: "Leftover" });
    const jobId = await postJob(hosted.a);
    await bidOn(jobId, agentId, 1);
    expect((await hosted.a.req("DELETE", `/api/jobs/${jobId}`)).status).toBe(200);
    // JobDetailModal: fetch(`/api/jobs/${job.job_id}/bids`)
    const bids = await hosted.a.req("GET", `/api/jobs/${jobId}/bids`);
    expect(bids.status).toBe(200);
    expect(obj(bids.json).bids).toEqual([]);
  });

  it("submitReview: accept, partial and reject each complete the job and pay as decided; a second review is 400", async () => {
    const agentId = await registerAgent(hosted.a, { name: "Reviewed" });
    const accepted = await pendingReview(agentId, 2);
    const partial = await pendingReview(agentId, 3);
    const rejected = await pendingReview(agentId, 1);

    const pending = (await fetchData()).pendingReviews;
    for (const jobId of [accepted, partial, rejected]) {
      expect(pending.find((j) => j.job_id === jobId)).toMatchObject({
        status: "pending_review",
        agent_name: "Reviewed",
      });
    }

    const review = (jobId: string, decision: "accept" | "partial" | "reject") =>
      hosted.a.req("POST", `/api/jobs/${jobId}/review`, reviewBody(decision));
    const humanReview = (decision: "accept" | "partial" | "reject") => {
      const body = reviewBody(decision);
      return {
        decision,
        rating: body.rating,
        feedback: body.feedback,
        reviewer: "demo_user",
      };
    };
    const txn = expect.stringMatching(/^txn_[0-9a-f]{8}$/);

    const acc = await review(accepted, "accept");
    expect(acc.status, acc.text).toBe(200);
    expect(acc.json).toEqual({
      job_id: accepted,
      status: "completed",
      human_review: humanReview("accept"),
      payment: { decision: "accept", payment_status: "released", amount_paid: 2, txn_id: txn },
      message: "Review submitted. Payment released.",
    });

    const part = await review(partial, "partial");
    expect(part.status, part.text).toBe(200);
    expect(part.json).toEqual({
      job_id: partial,
      status: "completed",
      human_review: humanReview("partial"),
      payment: { decision: "partial", payment_status: "partial", amount_paid: 1.5, txn_id: txn },
      message: "Review submitted. Payment partial.",
    });

    const rej = await review(rejected, "reject");
    expect(rej.status, rej.text).toBe(200);
    expect(rej.json).toEqual({
      job_id: rejected,
      status: "completed",
      human_review: humanReview("reject"),
      payment: {
        decision: "reject",
        payment_status: "refunded",
        amount_refunded: 1,
        txn_id: txn,
      },
      message: "Review submitted. Payment refunded.",
    });

    // Two completed, one failed; the rating is the mean of 5 × each rating (1, 0.5, 0.2).
    const agent = obj((await hosted.a.req("GET", `/api/agents/${agentId}`)).json);
    expect(agent).toMatchObject({ jobs_completed: 2, jobs_failed: 1, rating_count: 3 });
    expect(agent.total_earned_usd).toBeCloseTo(3.5, 10);
    expect(agent.rating_avg).toBeCloseTo((5 + 2.5 + 1) / 3, 10);

    const after = (await fetchData()).pendingReviews.map((j) => j.job_id);
    for (const jobId of [accepted, partial, rejected]) expect(after).not.toContain(jobId);

    // The review submitted again (a second click): the job is no longer pending review.
    expectDetail(
      await review(accepted, "accept"),
      400,
      "Job is not pending review (status: completed)",
    );
  });
});
