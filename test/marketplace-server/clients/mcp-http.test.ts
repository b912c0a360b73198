import { describe, expect, it } from "vitest";
import {
  expectAuthRequired,
  expectBare500,
  expectDetail,
  expectMissing,
  httpxParams,
  missing,
} from "../../support/client-replay.ts";
import { useHostedMarket } from "../../support/hosted-market.ts";
import {
  ID,
  newWallet,
  obj,
  POSTER,
  POSTER_WALLET,
  type RawResponse,
  registerAgent,
  signIn,
  str,
} from "../../support/marketplace-requests.ts";

/**
 * The real service's MCP server talking to a deployed marketplace (OpenAgora
 * src/bazaar/mcp/backends/http.py, `HTTPBazaarBackend`), replayed call by call against
 * the embedded marketplace, each answer the one the service's api.py gives. Its bids go
 * as JSON (422: the service wants query parameters) and its counter-offers lack `by`.
 */

const LLM_ANSWER = {
  summary: "The schema is normalised to 3NF.",
  key_findings: ["users and orders split", "no repeating groups"],
  details: { tables: 2 },
  confidence: 0.85,
  methodology: "Checked each table's dependencies.",
};

const hosted = useHostedMarket("accounts/test/models/mcp", () => JSON.stringify(LLM_ANSWER));

/**
 * The requests of http.py `HTTPBazaarBackend`, one method each, as raw HTTP: the
 * `Authorization: Bearer <api_key>` header on every one when a key is configured.
 */
function httpBackend(apiKey?: string) {
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const get = (path: string) => hosted.a.req("GET", path, undefined, headers);
  const post = (path: string, json?: unknown) => hosted.a.req("POST", path, json, headers);
  return {
    // list_agents: params {"limit": limit} and "status" when given
    listAgents: (status: string | null = null, limit = 50) =>
      get(`/api/agents?${httpxParams(status ? { limit, status } : { limit })}`),
    // get_agent
    getAgent: (agentId: string) => get(`/api/agents/${agentId}`),
    // search_agents (and get_job_matches): list_agents(status="available", limit=100)
    searchAgents: () => get(`/api/agents?${httpxParams({ limit: 100, status: "available" })}`),
    // list_jobs: params {"limit": limit} and "status" when given
    listJobs: (status: string | null = null, limit = 50) =>
      get(`/api/jobs?${httpxParams(status ? { limit, status } : { limit })}`),
    // get_job
    getJob: (jobId: string) => get(`/api/jobs/${jobId}`),
    // create_job: its payload, in its order
    createJob: (p: {
      title: string;
      description: string;
      budget_usd: number;
      required_capabilities: string[];
      poster_id: string;
      poster_wallet: string;
    }) =>
      post("/api/jobs", {
        title: p.title,
        description: p.description,
        budget_usd: p.budget_usd,
        required_capabilities: p.required_capabilities,
        poster_id: p.poster_id,
        poster_wallet: p.poster_wallet,
      }),
    // execute_job
    executeJob: (jobId: string) => post(`/api/jobs/${jobId}/execute`),
    // submit_bid: JSON {agent_id, price_usd, approach_summary}
    submitBid: (jobId: string, agentId: string, price: number, approach: string) =>
      post(`/api/jobs/${jobId}/bids`, {
        agent_id: agentId,
        price_usd: price,
        approach_summary: approach,
      }),
    // select_bid
    selectBid: (jobId: string, bidId: string) => post(`/api/jobs/${jobId}/select-bid/${bidId}`),
    // counter_offer: JSON {new_price, message}, no `by`
    counterOffer: (bidId: string, newPrice: number, message: string) =>
      post(`/api/bids/${bidId}/counter`, { new_price: newPrice, message }),
    // list_pending_reviews
    listPendingReviews: () => get("/api/reviews/pending"),
    // get_job_for_review
    getJobForReview: (jobId: string) => get(`/api/jobs/${jobId}/review`),
    // submit_review: the rating defaults by decision when none is given
    submitReview: (
      jobId: string,
      decision: string,
      rating: number | null,
      feedback: string,
      reviewerId: string,
    ) =>
      post(`/api/jobs/${jobId}/review`, {
        decision,
        feedback,
        reviewer_id: reviewerId,
        rating:
          rating ??
          ({ accept: 1.0, partial: 0.5, reject: 0.2 } as Record<string, number>)[decision],
      }),
    // get_status
    getStatus: () => get("/api/demo/status"),
  };
}

const JOB = {
  title: "Review the order schema",
  description: "Check that the users/orders schema is normalised",
  budget_usd: 2,
  required_capabilities: ["code_review"],
  poster_id: "mcp_user",
  poster_wallet: POSTER_WALLET,
};

/** A bid as the service takes it (query parameters): what the MCP server cannot send. */
async function bidWithQuery(jobId: string, agentId: string, price: number): Promise<string> {
  const res = await hosted.a.req(
    "POST",
    `/api/jobs/${jobId}/bids?${httpxParams({
      agent_id: agentId,
      price_usd: price,
      estimated_quality: 0.9,
      estimated_time_seconds: 90,
      approach_summary: "Normal forms, one table at a time",
    })}`,
  );
  expect(res.status, res.text).toBe(200);
  return str(obj(res.json).bid_id);
}

function listOf(res: RawResponse, key: string): Record<string, unknown>[] {
  expect(res.status, res.text).toBe(200);
  return obj(res.json)[key] as Record<string, unknown>[];
}

describe("http.py HTTPBazaarBackend", () => {
  it("a session from job to review, with an api_key the service does not know", async () => {
    const mcp = httpBackend("mcp-key-not-a-session");
    const agentId = await registerAgent(hosted.a, {
      name: "SchemaReviewer",
      capabilities: { code_review: 0.9 },
    });

    // create_job
    const created = await mcp.createJob(JOB);
    expect(created.status, created.text).toBe(200);
    expect(created.json).toEqual({
      job_id: expect.stringMatching(ID.job),
      escrow_txn_id: expect.stringMatching(/^txn_[0-9a-f]{8}$/),
      matched_agents: expect.any(Array),
      status: "posted",
    });
    const jobId = str(obj(created.json).job_id);

    // list_jobs(status="posted"), get_job
    const posted = listOf(await mcp.listJobs("posted"), "jobs");
    expect(posted.map((j) => j.job_id)).toContain(jobId);
    const job = await mcp.getJob(jobId);
    expect(job.status).toBe(200);
    expect(obj(job.json)).toMatchObject({ job_id: jobId, status: "posted", bids: [] });

    // get_job_matches: get_job, then search_agents filters list_agents client-side
    const candidates = listOf(await mcp.searchAgents(), "agents");
    expect(candidates.map((c) => c.agent_id)).toContain(agentId);

    // submit_bid: JSON, where place_bid wants five query parameters
    const bid = await mcp.submitBid(jobId, agentId, 1.5, "Normal forms");
    expectMissing(bid, [
      missing(["query", "agent_id"]),
      missing(["query", "price_usd"]),
      missing(["query", "estimated_quality"]),
      missing(["query", "estimated_time_seconds"]),
      missing(["query", "approach_summary"]),
    ]);

    // select_bid on a bid placed the service's way
    const bidId = await bidWithQuery(jobId, agentId, 1.5);
    const selected = await mcp.selectBid(jobId, bidId);
    expect(selected.status, selected.text).toBe(200);
    expect(selected.json).toEqual({ job_id: jobId, winning_bid_id: bidId, status: "assigned" });

    // execute_job
    const executed = await mcp.executeJob(jobId);
    expect(executed.status, executed.text).toBe(200);
    expect(obj(executed.json)).toMatchObject({
      job_id: jobId,
      agent_id: agentId,
      status: "pending_review",
      result: LLM_ANSWER,
    });

    // list_pending_reviews: the job, with its agent's name
    const pending = listOf(await mcp.listPendingReviews(), "pending_reviews");
    expect(pending.find((j) => j.job_id === jobId)).toMatchObject({
      status: "pending_review",
      assigned_agent_id: agentId,
      agent_name: "SchemaReviewer",
    });

    // get_job_for_review
    const review = await mcp.getJobForReview(jobId);
    expect(review.status, review.text).toBe(200);
    expect(review.json).toEqual({
      job_id: jobId,
      title: JOB.title,
      description: JOB.description,
      result: expect.objectContaining(LLM_ANSWER),
      ai_quality_suggestion: expect.any(Object),
      agent_id: agentId,
      agent_name: "SchemaReviewer",
      budget_usd: 2,
      status: "pending_review",
    });

    // submit_review("accept", rating=None): the rating becomes 1.0
    const reviewed = await mcp.submitReview(jobId, "accept", null, "Clean schema", "mcp_user");
    expect(reviewed.status, reviewed.text).toBe(200);
    expect(reviewed.json).toEqual({
      job_id: jobId,
      status: "completed",
      human_review: {
        decision: "accept",
        rating: 1,
        feedback: "Clean schema",
        reviewer: "mcp_user",
      },
      payment: {
        decision: "accept",
        payment_status: "released",
        amount_paid: 1.5,
        txn_id: expect.stringMatching(/^txn_[0-9a-f]{8}$/),
      },
      message: "Review submitted. Payment released.",
    });
    expect(obj((await mcp.getAgent(agentId)).json)).toMatchObject({
      jobs_completed: 1,
      total_earned_usd: 1.5,
      rating_avg: 5,
      rating_count: 1,
    });

    // get_job_for_review once reviewed: 400, which the backend turns into None
    expectDetail(
      await mcp.getJobForReview(jobId),
      400,
      "Job is not pending review (status: completed)",
    );
  });

  it("list_agents and list_jobs: `limit` is not a parameter of the service and is ignored; list_agents ignores `status` too", async () => {
    const mcp = httpBackend();
    const offline = await registerAgent(hosted.a, { name: "Sleeper" });
    const put = await hosted.a.req("PUT", `/api/agents/${offline}`, { status: "offline" });
    expect(put.status, put.text).toBe(200);
    const listed = listOf(await mcp.listAgents("available", 1), "agents");
    expect(listed.length).toBeGreaterThan(1);
    expect(listed.find((x) => x.agent_id === offline)).toMatchObject({ status: "offline" });

    for (const title of ["first", "second"]) {
      expect((await mcp.createJob({ ...JOB, title })).status).toBe(200);
    }
    const jobs = listOf(await mcp.listJobs(null, 1), "jobs");
    expect(jobs.length).toBeGreaterThanOrEqual(2);
    // list_jobs filters on status (api.py:649-660).
    const assigned = listOf(await mcp.listJobs("assigned", 50), "jobs");
    expect(assigned.every((j) => j.status === "assigned")).toBe(true);
    const posted = obj((await mcp.listJobs("posted", 1)).json);
    expect(posted.count).toBeGreaterThanOrEqual(2);
    expect(posted.count).toBe((posted.jobs as unknown[]).length);
  });

  it("get_agent, get_job and get_job_for_review of unknown ids: 404 (None in the backend)", async () => {
    const mcp = httpBackend();
    expectDetail(await mcp.getAgent("agent_00000000"), 404, "Agent not found");
    expectDetail(await mcp.getJob("job_00000000"), 404, "Job not found");
    expectDetail(await mcp.getJobForReview("job_00000000"), 404, "Job not found");
  });

  it("execute_job on a job nobody was awarded: execute_job raises ValueError, the bare 500", async () => {
    const mcp = httpBackend();
    const jobId = str(obj((await mcp.createJob(JOB)).json).job_id);
    expectBare500(await mcp.executeJob(jobId));
    expect(obj((await mcp.getJob(jobId)).json).status).toBe("posted");
    expect(hosted.llm.completionRequests()).toHaveLength(0);
  });

  it("create_job passes the wallet it is given: 0x and 40 characters are taken without a hex check (api.py:702)", async () => {
    const mcp = httpBackend();
    const wallet = `0x${"Z".repeat(40)}`;
    const res = await mcp.createJob({ ...JOB, poster_wallet: wallet });
    expect(res.status, res.text).toBe(200);
    const jobId = str(obj(res.json).job_id);
    expect(obj((await mcp.getJob(jobId)).json).poster_wallet).toBe(wallet);
  });

  it("counter_offer: require_auth comes first (401 without a session, even for an unknown bid); with one, the missing `by` is a 422", async () => {
    const jobId = str(obj((await httpBackend().createJob(JOB)).json).job_id);
    const agentId = await registerAgent(hosted.a, { capabilities: { code_review: 0.9 } });
    const bidId = await bidWithQuery(jobId, agentId, 1.8);

    expectAuthRequired(await httpBackend().counterOffer(bidId, 1.2, "Would you take 1.20?"));
    expectAuthRequired(
      await httpBackend("mcp-key-not-a-session").counterOffer(bidId, 1.2, "Would you take 1.20?"),
    );
    expectAuthRequired(await httpBackend().counterOffer("bid_00000000", 1.2, "m"));

    // The poster's session token as the MCP server's api_key.
    const session = (await signIn(hosted.a, POSTER)).authorization?.replace(/^Bearer /, "");
    const mcp = httpBackend(session);
    const res = await mcp.counterOffer(bidId, 1.2, "Would you take 1.20?");
    expectMissing(res, [
      missing(["body", "by"], { new_price: 1.2, message: "Would you take 1.20?" }),
    ]);
    expect(obj((await mcp.getJob(jobId)).json).status).toBe("posted");
  });

  it("get_status: /api/demo/status with the counts of the listings", async () => {
    const mcp = httpBackend();
    await registerAgent(hosted.a, { wallet_address: newWallet() });
    const agents = obj((await mcp.listAgents()).json).count;
    const jobs = obj((await mcp.listJobs()).json).count;
    const res = await mcp.getStatus();
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      status: "operational",
      agents_count: agents,
      jobs_count: jobs,
      x402_mode: "false",
      thesys_configured: false,
    });
  });
});
