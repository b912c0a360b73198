import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type RunningMarketplace,
  startMarketplace,
} from "../../../src/marketplace-server/index.ts";
import { expectDetail, expectMissing, httpxParams, missing } from "../../support/client-replay.ts";
import { startTestLlmServer, type TestLlmServer } from "../../support/llm-server.ts";
import {
  type Api,
  api,
  ID,
  newWallet,
  obj,
  registerAgent,
  str,
} from "../../support/marketplace-requests.ts";

/**
 * The real service's demo CLI (OpenAgora demo_cli.py, `main`), replayed request by
 * request against the embedded marketplace, each answer the one the service's api.py
 * gives. As written the demo stops at step 1 (its job has no poster_wallet), and so it
 * does with the wallet the service's UI posts (40 characters, where api.py wants 42); the
 * rest is replayed with a well-formed wallet, and with an agent registered here in place
 * of the demo's hard-coded one.
 */

/** demo_cli.py `main`, step 1: `job_data`, posted with `json=`. */
const JOB_DATA = {
  title: "Classify programming languages",
  description:
    "Given the following list of items, classify each as either a programming language, a framework, or a library: Python, React, NumPy, JavaScript, Django, TensorFlow, Ruby, Rails, Pandas",
  task_type: "analysis",
  required_capabilities: ["classification"],
  budget_usd: 0.08,
  poster_id: "demo_user",
  deadline_minutes: 10,
};

/** demo_cli.py `main`, step 2: `bid_data`, sent as query parameters (`params=`). */
const BID_DATA = {
  agent_id: "agent_24a17a8f",
  price_usd: 0.06,
  estimated_quality: 0.85,
  estimated_time_seconds: 120,
  approach_summary:
    "I will analyze each item and classify based on its primary use case and characteristics.",
};

/** ui/src/App.tsx `handlePostJob`: the poster_wallet the service's own UI sends. */
const UI_WALLET = "0xDemoWallet0000000000000000000000000001";
/** A wallet the service takes ("0x" and 42 characters, api.py:702), the poster's. */
const WALLET = newWallet();

/** demo_cli.py `main`, step 5: `review_data` for each menu choice (no reviewer_id). */
const REVIEWS = [
  { decision: "accept", rating: 5, feedback: "Demo review - accept" },
  { decision: "partial", rating: 3, feedback: "Demo review - partial" },
  { decision: "reject", rating: 1, feedback: "Demo review - reject" },
];

const LLM_ANSWER = {
  summary: "Four languages, three frameworks, two libraries.",
  key_findings: ["Python, JavaScript, Ruby are languages", "React, Django, Rails are frameworks"],
  details: { libraries: ["NumPy", "Pandas"], frameworks: ["React", "Django", "Rails"] },
  confidence: 0.9,
  methodology: "Classified each item by its primary use.",
};

let llm: TestLlmServer;
let bare: RunningMarketplace;
let hosted: RunningMarketplace;

beforeAll(async () => {
  llm = await startTestLlmServer();
  bare = await startMarketplace({ dbPath: ":memory:", port: 0 });
  hosted = await startMarketplace({
    dbPath: ":memory:",
    port: 0,
    hostedLlm: { apiKey: llm.apiKey, baseUrl: llm.url, model: "accounts/test/models/demo" },
  });
});
afterAll(async () => {
  await bare?.close();
  await hosted?.close();
  await llm?.close();
});
beforeEach(() => {
  llm.reset();
  llm.setResponder(() => JSON.stringify(LLM_ANSWER));
});

/** SchemaArchitect as the demo describes it ("classification capability: 0.80"). */
function registerSchemaArchitect(a: Api): Promise<string> {
  return registerAgent(a, {
    name: "SchemaArchitect",
    description: "Expert in database schema design, API architecture, and data modeling",
    wallet_address: newWallet(),
    capabilities: { classification: 0.8 },
  });
}

/** Steps 1 to 3 of the demo with a well-formed wallet and `agentId` bidding: the assigned job. */
async function demoUpToSelection(a: Api, agentId: string): Promise<string> {
  // Step 1: client.post(f"{API_URL}/api/jobs", json=job_data)
  const posted = await a.req("POST", "/api/jobs", { ...JOB_DATA, poster_wallet: WALLET });
  expect(posted.status, posted.text).toBe(200);
  const job = obj(posted.json);
  expect(Object.keys(job).sort()).toEqual(["escrow_txn_id", "job_id", "matched_agents", "status"]);
  expect(job).toMatchObject({ status: "posted", job_id: expect.stringMatching(ID.job) });
  expect(str(job.escrow_txn_id)).toMatch(/^txn_[0-9a-f]{8}$/);
  expect(Array.isArray(job.matched_agents)).toBe(true);
  const jobId = str(job.job_id);

  // Step 2: client.post(f"{API_URL}/api/jobs/{job_id}/bids", params=bid_data)
  const bid = await a.req(
    "POST",
    `/api/jobs/${jobId}/bids?${httpxParams({ ...BID_DATA, agent_id: agentId })}`,
  );
  expect(bid.status, bid.text).toBe(200);
  expect(bid.json).toEqual({ bid_id: expect.stringMatching(ID.bid), status: "submitted" });
  const bidId = str(obj(bid.json).bid_id);

  // Step 2: client.get(f"{API_URL}/api/jobs/{job_id}/bids"), each bid's agent_name, price, status
  const bids = await a.req("GET", `/api/jobs/${jobId}/bids`);
  expect(bids.status).toBe(200);
  expect(bids.json).toEqual({
    bids: [
      expect.objectContaining({
        bid_id: bidId,
        job_id: jobId,
        agent_id: agentId,
        price_usd: 0.06,
        estimated_time_seconds: 120,
        confidence: 0.85,
        approach: BID_DATA.approach_summary,
        status: "pending",
        agent_name: "SchemaArchitect",
        agent_status: "available",
        estimated_quality: 0.85,
        approach_summary: BID_DATA.approach_summary,
      }),
    ],
  });

  // Step 3: client.post(f"{API_URL}/api/jobs/{job_id}/select-bid/{bid_id}")
  const selected = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
  expect(selected.status, selected.text).toBe(200);
  expect(selected.json).toEqual({ job_id: jobId, winning_bid_id: bidId, status: "assigned" });
  return jobId;
}

describe("demo_cli.py as written", () => {
  it("stops at step 1: its job has no poster_wallet, which JobCreateRequest requires (422)", async () => {
    const a = api(bare.url);
    // Step 1: client.post(f"{API_URL}/api/jobs", json=job_data)
    const res = await a.req("POST", "/api/jobs", JOB_DATA);
    expectMissing(res, [missing(["body", "poster_wallet"], JOB_DATA)]);
    expect(obj((await a.req("GET", "/api/jobs")).json).count).toBe(0);
  });

  it("with the UI's poster_wallet added it stops at step 1 too: 40 characters are not a wallet (400)", async () => {
    const a = api(bare.url);
    expect(UI_WALLET).toHaveLength(40);
    const res = await a.req("POST", "/api/jobs", { ...JOB_DATA, poster_wallet: UI_WALLET });
    expectDetail(
      res,
      400,
      "Valid wallet address required. Please connect your wallet before posting a job.",
    );
  });
});

describe("demo_cli.py with a well-formed poster_wallet", () => {
  // The service's place_bid does not catch submit_bid's ValueError (api.py:801-819): an
  // unknown agent is its bare 500. The embedded marketplace answers 400 with the reason
  // (docs/marketplace-api.md, "Different on purpose"); the demo takes both as a failure
  // (`status_code in (200, 201)` else "Failed to submit bid") and stops.
  it("step 2 with the demo's agent_24a17a8f (not registered here) is refused: 400 with the reason", async () => {
    const a = api(bare.url);
    const posted = await a.req("POST", "/api/jobs", { ...JOB_DATA, poster_wallet: WALLET });
    expect(posted.status, posted.text).toBe(200);
    const jobId = str(obj(posted.json).job_id);
    // Step 2: client.post(f"{API_URL}/api/jobs/{job_id}/bids", params=bid_data)
    const bid = await a.req("POST", `/api/jobs/${jobId}/bids?${httpxParams(BID_DATA)}`);
    expect(bid.status, bid.text).toBe(400);
    expect(obj(bid.json).detail).toMatch(/agent_24a17a8f/);
  });

  it("without an LLM: executing disputes the job, and the review without reviewer_id is 422", async () => {
    const a = api(bare.url);
    const agentId = await registerSchemaArchitect(a);
    const jobId = await demoUpToSelection(a, agentId);

    // Step 4: client.post(f"{API_URL}/api/jobs/{job_id}/execute"): execution/runner.py
    // catches the LLM's failure and answers 200 with status "failed" (no `result`).
    const executed = await a.req("POST", `/api/jobs/${jobId}/execute`);
    expect(executed.status, executed.text).toBe(200);
    const answer = obj(executed.json);
    expect(Object.keys(answer).sort()).toEqual([
      "agent_id",
      "error",
      "job_id",
      "quality_score",
      "status",
    ]);
    expect(answer).toMatchObject({
      job_id: jobId,
      agent_id: agentId,
      quality_score: 0,
      status: "failed",
    });
    expect(typeof answer.error).toBe("string");

    // Step 5: client.get(f"{API_URL}/api/jobs/{job_id}"): disputed, quality 0, result {error}
    const job = await a.req("GET", `/api/jobs/${jobId}`);
    expect(job.status).toBe(200);
    const doc = obj(job.json);
    expect(doc).toMatchObject({ job_id: jobId, status: "disputed", quality_score: 0 });
    expect(obj(doc.result).error).toBe(answer.error);

    // Step 5: client.post(f"{API_URL}/api/jobs/{job_id}/review", json=review_data), each choice
    for (const review of REVIEWS) {
      const res = await a.req("POST", `/api/jobs/${jobId}/review`, review);
      expectMissing(res, [missing(["body", "reviewer_id"], review)]);
    }
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("disputed");
  });

  it("with the marketplace's LLM: pending_review; the review is 422 without reviewer_id, and with one only the rating 1 passes", async () => {
    const a = api(hosted.url);
    const agentId = await registerSchemaArchitect(a);
    const jobId = await demoUpToSelection(a, agentId);

    // Step 4: client.post(f"{API_URL}/api/jobs/{job_id}/execute")
    const executed = await a.req("POST", `/api/jobs/${jobId}/execute`);
    expect(executed.status, executed.text).toBe(200);
    const answer = obj(executed.json);
    expect(answer).toMatchObject({
      job_id: jobId,
      agent_id: agentId,
      status: "pending_review",
      result: LLM_ANSWER,
      message: "Work completed. Awaiting human review to finalize quality rating and payment.",
    });
    for (const key of ["ai_quality_suggestion", "payment_recommendation", "execution_time_ms"]) {
      expect(answer, key).toHaveProperty(key);
    }
    expect(llm.completionRequests()).toHaveLength(1);

    // Step 5: client.get(f"{API_URL}/api/jobs/{job_id}"): quality_score is the human's, unset
    const job = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(job).toMatchObject({ status: "pending_review", quality_score: null });

    // Step 5: the review as the demo sends it, for each menu choice: 422, nothing changes.
    for (const review of REVIEWS) {
      const res = await a.req("POST", `/api/jobs/${jobId}/review`, review);
      expectMissing(res, [missing(["body", "reviewer_id"], review)]);
    }
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("pending_review");

    // The same with a reviewer_id: the ratings 5 and 3 are outside 0..1 (api.py:1195),
    // while the reject's 1 is in range and is taken.
    for (const review of REVIEWS.slice(0, 2)) {
      const res = await a.req("POST", `/api/jobs/${jobId}/review`, {
        ...review,
        reviewer_id: "demo_user",
      });
      expectDetail(res, 400, "Rating must be between 0.0 and 1.0");
    }
    const reject = REVIEWS[2] ?? REVIEWS[0];
    const res = await a.req("POST", `/api/jobs/${jobId}/review`, {
      ...reject,
      reviewer_id: "demo_user",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      job_id: jobId,
      status: "completed",
      human_review: {
        decision: "reject",
        rating: 1,
        feedback: "Demo review - reject",
        reviewer: "demo_user",
      },
      payment: {
        decision: "reject",
        payment_status: "refunded",
        amount_refunded: 0.06,
        txn_id: expect.stringMatching(/^txn_[0-9a-f]{8}$/),
      },
      message: "Review submitted. Payment refunded.",
    });
    const done = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(done).toMatchObject({
      status: "completed",
      quality_score: 1,
      human_review_decision: "reject",
      human_review_rating: 1,
      human_review_feedback: "Demo review - reject",
      reviewed_by: "demo_user",
    });
    const agent = obj((await a.req("GET", `/api/agents/${agentId}`)).json);
    expect(agent).toMatchObject({ jobs_failed: 1, rating_avg: 5, rating_count: 1 });
  });
});
