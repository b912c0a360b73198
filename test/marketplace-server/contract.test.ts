import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMarketplaceApp,
  type RunningMarketplace,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import {
  type Api,
  api,
  bidQuery,
  ID,
  ISO_NO_ZONE,
  newAccount,
  newWallet,
  obj,
  POSTER,
  POSTER_WALLET,
  placeBid,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
  str,
} from "../support/marketplace-requests.ts";

/**
 * The contract of docs/marketplace-api.md, row by row, as raw HTTP against a real
 * listening embedded marketplace.
 */

let market: RunningMarketplace;
let a: Api;

beforeAll(async () => {
  market = await startMarketplace({ dbPath: ":memory:", port: 0 });
  a = api(market.url);
});
afterAll(async () => {
  await market.close();
});

async function job(jobId: string): Promise<Record<string, unknown>> {
  const res = await a.req("GET", `/api/jobs/${jobId}`);
  expect(res.status).toBe(200);
  return obj(res.json);
}

async function agent(agentId: string): Promise<Record<string, unknown>> {
  const res = await a.req("GET", `/api/agents/${agentId}`);
  expect(res.status).toBe(200);
  return obj(res.json);
}

describe("server", () => {
  it("listens on loopback with a URL without trailing slash", () => {
    expect(market.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(market.port).toBeGreaterThan(0);
  });

  it("answers unknown routes 404 {detail: Not Found}", async () => {
    const res = await a.req("GET", "/api/nothing-here");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ detail: "Not Found" });
  });
});

describe("agents", () => {
  it("POST /api/agents/register returns the documented shape with defaults", async () => {
    const wallet = newWallet();
    const res = await a.req("POST", "/api/agents/register", {
      name: "SchemaArchitect",
      description: "designs schemas",
      owner_id: "owner_reg",
      wallet_address: wallet,
      capabilities: { analysis: 0.9 },
    });
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({
      success: true,
      name: "SchemaArchitect",
      execution_mode: "self_hosted",
      status: "available",
      wallet_address: wallet,
    });
    expect(str(body.agent_id)).toMatch(ID.agent);
    expect(typeof body.message).toBe("string");
    const doc = await agent(str(body.agent_id));
    expect(doc).toMatchObject({
      agent_id: body.agent_id,
      owner_id: "owner_reg",
      provider: "fireworks",
      base_rate_usd: 0.01,
      rate_per_1k_tokens: 0.001,
      capabilities: { analysis: 0.9 },
      status: "available",
    });
    expect(str(doc.created_at)).toMatch(ISO_NO_ZONE);
  });

  it("is idempotent by wallet, case-insensitively", async () => {
    const wallet = newWallet();
    const first = await registerAgent(a, { wallet_address: wallet.toLowerCase() });
    const again = await a.req("POST", "/api/agents/register", {
      name: "Other name",
      description: "x",
      owner_id: "someone else",
      wallet_address: `0x${wallet.slice(2).toUpperCase()}`,
    });
    expect(again.status).toBe(200);
    expect(obj(again.json).agent_id).toBe(first);
    const all = obj((await a.req("GET", "/api/agents")).json);
    const matching = (all.agents as Record<string, unknown>[]).filter(
      (x) => str(x.wallet_address).toLowerCase() === wallet.toLowerCase(),
    );
    expect(matching).toHaveLength(1);
  });

  it("rejects an unknown execution_mode with 400 and missing fields with 422", async () => {
    const bad = await a.req("POST", "/api/agents/register", {
      name: "n",
      description: "d",
      owner_id: "o",
      wallet_address: newWallet(),
      execution_mode: "telepathy",
    });
    expect(bad.status).toBe(400);
    expect(str(obj(bad.json).detail)).toContain("Invalid execution_mode");

    const missing = await a.req("POST", "/api/agents/register", { name: "n" });
    expect(missing.status).toBe(422);
    const locs = (obj(missing.json).detail as { loc: unknown[] }[]).map((d) => d.loc);
    expect(locs).toEqual([
      ["body", "description"],
      ["body", "owner_id"],
      ["body", "wallet_address"],
    ]);
  });

  it("GET /api/agents lists agents with a count", async () => {
    const id = await registerAgent(a);
    const res = await a.req("GET", "/api/agents");
    expect(res.status).toBe(200);
    const body = obj(res.json);
    const agents = body.agents as Record<string, unknown>[];
    expect(body.count).toBe(agents.length);
    expect(agents.map((x) => x.agent_id)).toContain(id);
  });

  it("GET /api/agents/{id} is 404 for an unknown agent", async () => {
    const res = await a.req("GET", "/api/agents/agent_00000000");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ detail: "Agent not found" });
  });

  it("PUT /api/agents/{id} updates fields; 400 without fields or with a bad status; 404 unknown", async () => {
    const owner = newAccount();
    const id = await registerAgent(a, { wallet_address: owner.address });
    const auth = await signIn(a, owner);
    const res = await a.req(
      "PUT",
      `/api/agents/${id}`,
      { base_rate_usd: 0.05, status: "busy" },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      success: true,
      agent_id: id,
      updated_fields: ["base_rate_usd", "status", "last_active"],
    });
    expect(await agent(id)).toMatchObject({ base_rate_usd: 0.05, status: "busy" });

    const none = await a.req("PUT", `/api/agents/${id}`, {}, auth);
    expect(none.status).toBe(400);
    expect(none.json).toEqual({ detail: "No fields to update" });
    const badStatus = await a.req("PUT", `/api/agents/${id}`, { status: "suspended" }, auth);
    expect(badStatus.status).toBe(400);
    const unknown = await a.req("PUT", "/api/agents/agent_00000000", { name: "x" }, auth);
    expect(unknown.status).toBe(404);
  });

  it("DELETE /api/agents/{id} deletes; 404 afterwards", async () => {
    const owner = newAccount();
    const id = await registerAgent(a, { name: "Doomed", owner_id: owner.address });
    const auth = await signIn(a, owner);
    const res = await a.req("DELETE", `/api/agents/${id}`, undefined, auth);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      success: true,
      agent_id: id,
      message: "Agent 'Doomed' has been deleted",
    });
    expect((await a.req("GET", `/api/agents/${id}`)).status).toBe(404);
    expect((await a.req("DELETE", `/api/agents/${id}`, undefined, auth)).status).toBe(404);
  });

  it("heartbeat: status and last_active; pending_jobs at most 5 with the full count", async () => {
    const id = await registerAgent(a);
    for (let i = 0; i < 7; i++) await postJob(a, { title: `hb job ${i}` });
    const res = await a.req("POST", `/api/agents/${id}/heartbeat`, {
      status: "available",
      current_capacity: 3,
      metadata: { runner: "test" },
    });
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({ success: true, agent_id: id, status: "available" });
    expect(str(body.last_active)).toMatch(ISO_NO_ZONE);
    const pending = body.pending_jobs as Record<string, unknown>[];
    expect(pending).toHaveLength(5);
    expect(body.pending_jobs_count).toBeGreaterThanOrEqual(7);
    for (const p of pending) {
      expect(Object.keys(p).sort()).toEqual(["budget_usd", "job_id", "title"]);
      expect(str(p.job_id)).toMatch(ID.job);
    }
    expect(await agent(id)).toMatchObject({
      current_capacity: 3,
      heartbeat_metadata: { runner: "test" },
    });
  });

  it("heartbeat: an empty body takes the defaults; offline lists no jobs", async () => {
    const id = await registerAgent(a);
    await postJob(a);
    const off = await a.req("POST", `/api/agents/${id}/heartbeat`, { status: "offline" });
    expect(obj(off.json)).toMatchObject({
      status: "offline",
      pending_jobs_count: 0,
      pending_jobs: [],
    });
    expect((await agent(id)).status).toBe("offline");
    const def = await a.req("POST", `/api/agents/${id}/heartbeat`, {});
    expect(def.status).toBe(200);
    expect(obj(def.json).status).toBe("available");
  });

  it("heartbeat: 404 for an unknown agent, 400 for a bad status", async () => {
    const unknown = await a.req("POST", "/api/agents/agent_00000000/heartbeat", {});
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ detail: "Agent not found" });
    const id = await registerAgent(a);
    const bad = await a.req("POST", `/api/agents/${id}/heartbeat`, { status: "sleeping" });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ detail: "Invalid status. Must be: available, busy, or offline" });
  });

  it("GET /api/agents/{id}/jobs lists the jobs assigned to the agent, filtered by status", async () => {
    const id = await registerAgent(a);
    const jobId = await postJob(a);
    const other = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: id });
    await placeBidOk(a, other, { agent_id: id });
    expect((await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status).toBe(200);

    const all = obj((await a.req("GET", `/api/agents/${id}/jobs`)).json);
    expect(all.count).toBe(1);
    expect((all.jobs as Record<string, unknown>[])[0]?.job_id).toBe(jobId);
    const assigned = obj((await a.req("GET", `/api/agents/${id}/jobs?status=assigned`)).json);
    expect(assigned.count).toBe(1);
    const done = obj((await a.req("GET", `/api/agents/${id}/jobs?status=completed`)).json);
    expect(done).toEqual({ jobs: [], count: 0 });
    expect((await a.req("GET", "/api/agents/agent_00000000/jobs")).status).toBe(404);
  });
});

describe("jobs", () => {
  it("POST /api/jobs creates a posted job with the documented defaults", async () => {
    const capable = await registerAgent(a, { capabilities: { forecasting: 0.95 } });
    const res = await a.req("POST", "/api/jobs", {
      title: "Forecast",
      description: "Forecast next quarter",
      required_capabilities: ["forecasting"],
      budget_usd: 3.5,
      poster_id: "poster_x",
      poster_wallet: POSTER_WALLET,
    });
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body.status).toBe("posted");
    expect(str(body.job_id)).toMatch(ID.job);
    expect(typeof body.escrow_txn_id).toBe("string");
    expect(body.matched_agents).toContain(capable);

    const doc = await job(str(body.job_id));
    expect(doc).toMatchObject({
      job_id: body.job_id,
      poster_id: "poster_x",
      poster_wallet: POSTER_WALLET,
      title: "Forecast",
      task_type: "analysis",
      required_capabilities: ["forecasting"],
      min_capability_score: 0.7,
      data_context: null,
      attachments: [],
      budget_usd: 3.5,
      deadline_minutes: 10,
      escrow_txn_id: body.escrow_txn_id,
      status: "posted",
      bid_count: 0,
      bid_deadline: null,
      winning_bid_id: null,
      assigned_agent_id: null,
      result: null,
      quality_score: null,
      assigned_at: null,
      completed_at: null,
      bids: [],
    });
    expect(str(doc.created_at)).toMatch(ISO_NO_ZONE);
  });

  it("POST /api/jobs rejects a poster_wallet that is not 0x + 40 characters with 400", async () => {
    for (const wallet of ["", "0x123", `0x${"g".repeat(41)}`, "ab".repeat(21)]) {
      const res = await a.req("POST", "/api/jobs", {
        title: "t",
        description: "d",
        required_capabilities: [],
        budget_usd: 1,
        poster_id: "p",
        poster_wallet: wallet,
      });
      expect(res.status, wallet).toBe(400);
      expect(str(obj(res.json).detail)).toContain("Valid wallet address required");
    }
  });

  it("POST /api/jobs with missing or mistyped fields is a 422 detail list", async () => {
    const res = await a.req("POST", "/api/jobs", {
      title: "t",
      budget_usd: "lots",
      required_capabilities: "analysis",
    });
    expect(res.status).toBe(422);
    const detail = obj(res.json).detail as Record<string, unknown>[];
    expect(detail.map((d) => [d.loc, d.type])).toEqual([
      [["body", "description"], "missing"],
      [["body", "required_capabilities"], "list_type"],
      [["body", "budget_usd"], "float_parsing"],
      [["body", "poster_id"], "missing"],
      [["body", "poster_wallet"], "missing"],
    ]);
    for (const d of detail) expect(typeof d.msg).toBe("string");
  });

  it("GET /api/jobs returns every match, filtered by status and assigned agent", async () => {
    const local = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const b = api(local.url);
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) ids.push(await postJob(b, { title: `j${i}` }));
      const agentId = await registerAgent(b);
      const bidId = await placeBidOk(b, ids[0]!, { agent_id: agentId });
      await b.req("POST", `/api/jobs/${ids[0]}/select-bid/${bidId}`);

      const all = obj((await b.req("GET", "/api/jobs")).json);
      expect(all.count).toBe(60);
      expect((all.jobs as unknown[]).length).toBe(60);
      const posted = obj((await b.req("GET", "/api/jobs?status=posted")).json);
      expect(posted.count).toBe(59);
      const mine = obj(
        (await b.req("GET", `/api/jobs?status=assigned&assigned_agent_id=${agentId}`)).json,
      );
      expect((mine.jobs as Record<string, unknown>[]).map((j) => j.job_id)).toEqual([ids[0]]);
      const nobody = obj((await b.req("GET", "/api/jobs?assigned_agent_id=agent_00000000")).json);
      expect(nobody).toEqual({ jobs: [], count: 0 });
    } finally {
      await local.close();
    }
  });

  it("GET /api/jobs/{id} is 404 for an unknown job", async () => {
    const res = await a.req("GET", "/api/jobs/job_00000000");
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ detail: "Job not found" });
  });

  it("GET /api/jobs/{id} includes its bids", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    const doc = await job(jobId);
    const bids = doc.bids as Record<string, unknown>[];
    expect(bids.map((b) => b.bid_id)).toEqual([bidId]);
  });

  it("DELETE /api/jobs/{id} deletes the job and its bids; 404 afterwards", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    await placeBidOk(a, jobId, { agent_id: agentId });
    const res = await a.req("DELETE", `/api/jobs/${jobId}`);
    expect(res.status).toBe(200);
    expect(obj(res.json)).toMatchObject({ success: true, job_id: jobId });
    expect(typeof obj(res.json).message).toBe("string");
    expect((await a.req("GET", `/api/jobs/${jobId}`)).status).toBe(404);
    expect((await a.req("DELETE", `/api/jobs/${jobId}`)).status).toBe(404);
    expect(obj((await a.req("GET", `/api/jobs/${jobId}/bids`)).json)).toEqual({ bids: [] });
  });
});

describe("bids", () => {
  it("POST bids takes QUERY parameters and answers {bid_id, status: submitted}", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const res = await placeBid(a, jobId, {
      agent_id: agentId,
      price_usd: 2.5,
      estimated_quality: 0.85,
      estimated_time_seconds: 300,
      approach_summary: "Group by region, then z-scores",
    });
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body.status).toBe("submitted");
    expect(str(body.bid_id)).toMatch(ID.bid);
    // The real service never sets `bidding`: a job with bids stays `posted`.
    expect(await job(jobId)).toMatchObject({ status: "posted", bid_count: 1 });
  });

  it("a bid sent as a JSON body without query parameters is FastAPI's 422", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const res = await a.req("POST", `/api/jobs/${jobId}/bids`, {
      agent_id: agentId,
      price_usd: 1,
      estimated_quality: 0.8,
      estimated_time_seconds: 60,
      approach_summary: "x",
    });
    expect(res.status).toBe(422);
    const detail = obj(res.json).detail as Record<string, unknown>[];
    expect(detail.map((d) => ({ loc: d.loc, msg: d.msg, type: d.type }))).toEqual(
      [
        "agent_id",
        "price_usd",
        "estimated_quality",
        "estimated_time_seconds",
        "approach_summary",
      ].map((name) => ({ loc: ["query", name], msg: "Field required", type: "missing" })),
    );
    expect(await job(jobId)).toMatchObject({ status: "posted", bid_count: 0 });
  });

  it("unparsable query numbers are 422 float_parsing / int_parsing", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const res = await a.req(
      "POST",
      `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=cheap&estimated_quality=0.8&estimated_time_seconds=1.5&approach_summary=x`,
    );
    expect(res.status).toBe(422);
    const detail = obj(res.json).detail as Record<string, unknown>[];
    expect(detail.map((d) => [d.loc, d.type, d.input])).toEqual([
      [["query", "price_usd"], "float_parsing", "cheap"],
      [["query", "estimated_time_seconds"], "int_parsing", "1.5"],
    ]);
  });

  it("GET bids adds agent_name, agent_status, estimated_quality and approach_summary", async () => {
    const agentId = await registerAgent(a, { name: "Bidder" });
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, {
      agent_id: agentId,
      price_usd: 1.25,
      estimated_quality: 0.9,
      estimated_time_seconds: 90,
      approach_summary: "quick look",
    });
    const res = await a.req("GET", `/api/jobs/${jobId}/bids`);
    expect(res.status).toBe(200);
    const bids = obj(res.json).bids as Record<string, unknown>[];
    expect(bids).toHaveLength(1);
    expect(bids[0]).toMatchObject({
      bid_id: bidId,
      job_id: jobId,
      agent_id: agentId,
      price_usd: 1.25,
      estimated_time_seconds: 90,
      confidence: 0.9,
      approach: "quick look",
      status: "pending",
      counter_offers: [],
      final_price_usd: null,
      agent_name: "Bidder",
      agent_status: "available",
      estimated_quality: 0.9,
      approach_summary: "quick look",
    });
    expect(str(bids[0]?.created_at)).toMatch(ISO_NO_ZONE);
  });

  it("a bid of $10 or more awaits approval and moves the job to awaiting_approval", async () => {
    const agentId = await registerAgent(a);
    const low = await postJob(a, { budget_usd: 50 });
    const lowBid = await placeBidOk(a, low, { agent_id: agentId, price_usd: 9.99 });
    const high = await postJob(a, { budget_usd: 50 });
    const highBid = await placeBidOk(a, high, { agent_id: agentId, price_usd: 10 });
    const bidsOf = async (jobId: string) =>
      obj((await a.req("GET", `/api/jobs/${jobId}/bids`)).json).bids as Record<string, unknown>[];
    expect((await bidsOf(low)).find((b) => b.bid_id === lowBid)?.status).toBe("pending");
    expect((await job(low)).status).toBe("posted");
    expect((await bidsOf(high)).find((b) => b.bid_id === highBid)?.status).toBe(
      "awaiting_approval",
    );
    expect((await job(high)).status).toBe("awaiting_approval");
  });

  it("bid_count counts every bid; the service does not stop a second bid of one agent", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    await placeBidOk(a, jobId, { agent_id: agentId });
    await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 0.9 });
    expect(await job(jobId)).toMatchObject({ status: "posted", bid_count: 2 });
  });

  describe("bidding rules: a broken rule is a 400 with a detail", () => {
    async function expect400(res: { status: number; json: unknown }, fragment: string) {
      expect(res.status).toBe(400);
      expect(str(obj(res.json).detail)).toContain(fragment);
    }

    it("the job must exist", async () => {
      const agentId = await registerAgent(a);
      const res = await placeBid(a, "job_00000000", { agent_id: agentId });
      expect(res.status).toBe(404);
    });

    it("the job must be open, posted or bidding", async () => {
      const agentId = await registerAgent(a);
      const jobId = await postJob(a, { budget_usd: 50 });
      await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 20 }); // → awaiting_approval
      await expect400(await placeBid(a, jobId, { agent_id: agentId }), "not accepting bids");
    });

    it("the bid deadline must not have passed", async () => {
      const agentId = await registerAgent(a);
      const past = await postJob(a, { bid_deadline: "2000-01-01T00:00:00" });
      await expect400(await placeBid(a, past, { agent_id: agentId }), "deadline has passed");
      const future = await postJob(a, { bid_deadline: "2999-01-01T00:00:00" });
      expect((await placeBid(a, future, { agent_id: agentId })).status).toBe(200);
    });

    it("the agent must exist and not be suspended", async () => {
      const jobId = await postJob(a);
      await expect400(await placeBid(a, jobId, { agent_id: "agent_00000000" }), "not found");
      // Suspension is the operator's act (no API sets it), so it is set in the store here.
      const local = await createMarketplaceApp({ dbPath: ":memory:" });
      try {
        const reg = await local.app.inject({
          method: "POST",
          url: "/api/agents/register",
          payload: { name: "S", description: "d", owner_id: "o", wallet_address: newWallet() },
        });
        const id = str(obj(reg.json()).agent_id);
        const j = await local.app.inject({
          method: "POST",
          url: "/api/jobs",
          payload: {
            title: "t",
            description: "d",
            required_capabilities: [],
            budget_usd: 1,
            poster_id: "p",
            poster_wallet: POSTER_WALLET,
          },
        });
        const localJob = str(obj(j.json()).job_id);
        local.store.updateAgent(id, { status: "suspended" });
        const res = await local.app.inject({
          method: "POST",
          url: `/api/jobs/${localJob}/bids?${bidQuery({ agent_id: id })}`,
        });
        await expect400({ status: res.statusCode, json: res.json() }, "suspended");
      } finally {
        await local.close();
      }
    });

    it("an offline agent that bids becomes available", async () => {
      const agentId = await registerAgent(a);
      await a.req("POST", `/api/agents/${agentId}/heartbeat`, { status: "offline" });
      expect((await agent(agentId)).status).toBe("offline");
      const jobId = await postJob(a);
      await placeBidOk(a, jobId, { agent_id: agentId });
      expect((await agent(agentId)).status).toBe("available");
    });

    it("the price must not exceed the budget", async () => {
      const agentId = await registerAgent(a);
      const jobId = await postJob(a, { budget_usd: 2 });
      await expect400(
        await placeBid(a, jobId, { agent_id: agentId, price_usd: 2.01 }),
        "exceeds job budget",
      );
      expect((await placeBid(a, jobId, { agent_id: agentId, price_usd: 2 })).status).toBe(200);
    });

    it("every required capability must reach min_capability_score (0.7 by default)", async () => {
      const weak = await registerAgent(a, { capabilities: { analysis: 0.69, sql: 0.9 } });
      const strong = await registerAgent(a, { capabilities: { analysis: 0.7, sql: 0.9 } });
      const missing = await registerAgent(a, { capabilities: { analysis: 0.9 } });
      const jobId = await postJob(a, { required_capabilities: ["analysis", "sql"] });
      await expect400(await placeBid(a, jobId, { agent_id: weak }), "minimum analysis score");
      await expect400(await placeBid(a, jobId, { agent_id: missing }), "minimum sql score");
      expect((await placeBid(a, jobId, { agent_id: strong })).status).toBe(200);

      const strict = await postJob(a, {
        required_capabilities: ["sql"],
        min_capability_score: 0.95,
      });
      await expect400(await placeBid(a, strict, { agent_id: strong }), "need 0.95");
    });
  });

  it("select-bid assigns the job, accepts the winner, rejects the rest, makes the agent busy", async () => {
    const winner = await registerAgent(a, { name: "Winner" });
    const loser = await registerAgent(a, { name: "Loser" });
    const jobId = await postJob(a, { budget_usd: 8 });
    const winBid = await placeBidOk(a, jobId, { agent_id: winner, price_usd: 3 });
    const loseBid = await placeBidOk(a, jobId, { agent_id: loser, price_usd: 2 });

    const res = await a.req("POST", `/api/jobs/${jobId}/select-bid/${winBid}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ job_id: jobId, winning_bid_id: winBid, status: "assigned" });

    const doc = await job(jobId);
    expect(doc).toMatchObject({
      status: "assigned",
      winning_bid_id: winBid,
      assigned_agent_id: winner,
    });
    expect(str(doc.assigned_at)).toMatch(ISO_NO_ZONE);
    const bids = new Map(
      (doc.bids as Record<string, unknown>[]).map((b) => [b.bid_id, b] as const),
    );
    expect(bids.get(winBid)).toMatchObject({ status: "accepted", final_price_usd: 3 });
    expect(bids.get(loseBid)).toMatchObject({ status: "rejected" });
    expect((await agent(winner)).status).toBe("busy");
    expect((await agent(loser)).status).toBe("available");

    // The job is no longer open: no more bids, no second award.
    expect((await placeBid(a, jobId, { agent_id: loser })).status).toBe(400);
    expect((await a.req("POST", `/api/jobs/${jobId}/select-bid/${loseBid}`)).status).toBe(400);
  });

  it("select-bid: 400 for an unknown job or bid (the service's ValueError) and for a bid of another job", async () => {
    const agentId = await registerAgent(a);
    const j1 = await postJob(a);
    const j2 = await postJob(a);
    const b2 = await placeBidOk(a, j2, { agent_id: agentId });
    const noJob = await a.req("POST", `/api/jobs/job_00000000/select-bid/${b2}`);
    expect([noJob.status, noJob.json]).toEqual([400, { detail: "Job job_00000000 not found" }]);
    const noBid = await a.req("POST", `/api/jobs/${j1}/select-bid/bid_00000000`);
    expect([noBid.status, noBid.json]).toEqual([400, { detail: "Bid bid_00000000 not found" }]);
    expect((await a.req("POST", `/api/jobs/${j1}/select-bid/${b2}`)).status).toBe(400);
  });

  it("counter and accept-counter negotiate a price", async () => {
    const bidder = newAccount();
    const agentId = await registerAgent(a, { wallet_address: bidder.address });
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 4 });
    const poster = await signIn(a, POSTER);
    const agentAuth = await signIn(a, bidder);

    const counter = await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 3, message: "Can you do 3?", by: "poster" },
      poster,
    );
    expect(counter.status).toBe(200);
    const cbody = obj(counter.json);
    expect(cbody).toMatchObject({
      bid_id: bidId,
      status: "counter_offered",
      requires_approval: false,
    });
    const offers = cbody.counter_offers as Record<string, unknown>[];
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({ price_usd: 3, message: "Can you do 3?", by: "poster" });
    expect(str(offers[0]?.created_at)).toMatch(ISO_NO_ZONE);
    expect((await job(jobId)).status).toBe("negotiating");

    // The poster cannot accept its own offer.
    expect(
      (await a.req("POST", `/api/bids/${bidId}/accept-counter?by=poster`, undefined, poster))
        .status,
    ).toBe(400);
    const accept = await a.req(
      "POST",
      `/api/bids/${bidId}/accept-counter?by=agent`,
      undefined,
      agentAuth,
    );
    expect(accept.status).toBe(200);
    expect(accept.json).toEqual({ bid_id: bidId, status: "counter_accepted", final_price: 3 });

    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    const bids = (await job(jobId)).bids as Record<string, unknown>[];
    expect(bids[0]).toMatchObject({ status: "accepted", final_price_usd: 3 });
  });

  it("counter: 404 for an unknown bid, 422 for a missing field; accept-counter: 400 without an offer", async () => {
    const poster = await signIn(a, POSTER);
    expect(
      (
        await a.req(
          "POST",
          "/api/bids/bid_00000000/counter",
          { new_price: 1, message: "m", by: "poster" },
          poster,
        )
      ).status,
    ).toBe(404);
    const bidder = newAccount();
    const agentId = await registerAgent(a, { wallet_address: bidder.address });
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    const missing = await a.req("POST", `/api/bids/${bidId}/counter`, { new_price: 1 }, poster);
    expect(missing.status).toBe(422);
    const none = await a.req(
      "POST",
      `/api/bids/${bidId}/accept-counter?by=agent`,
      undefined,
      await signIn(a, bidder),
    );
    expect(none.status).toBe(400);
    expect(none.json).toEqual({ detail: "No counter-offer to accept" });
  });
});

describe("results", () => {
  async function assignedJob(): Promise<{ jobId: string; agentId: string; other: string }> {
    const agentId = await registerAgent(a);
    const other = await registerAgent(a);
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    await placeBidOk(a, jobId, { agent_id: other });
    const sel = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    expect(sel.status).toBe(200);
    return { jobId, agentId, other };
  }

  it("submit-result completes the job, stores the result, frees the agent", async () => {
    const { jobId, agentId } = await assignedJob();
    expect((await agent(agentId)).status).toBe("busy");
    const res = await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "Three anomalies found.",
      tokens_used: 1234,
      model: "test-model",
      executed_by: agentId,
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ job_id: jobId, status: "completed" });
    const doc = await job(jobId);
    expect(doc.status).toBe("completed");
    expect(str(doc.completed_at)).toMatch(ISO_NO_ZONE);
    const result = obj(doc.result);
    expect(result).toMatchObject({
      success: true,
      output: "Three anomalies found.",
      tokens_used: 1234,
      model: "test-model",
      executed_by: agentId,
    });
    expect(Object.keys(result).sort()).toEqual([
      "executed_by",
      "model",
      "output",
      "submitted_at",
      "success",
      "tokens_used",
    ]);
    expect(str(result.submitted_at)).toMatch(ISO_NO_ZONE);
    expect((await agent(agentId)).status).toBe("available");
  });

  it("a failed result is a plain 500 and the job stays assigned, again on a retry; tokens_used and model default", async () => {
    const { jobId, agentId } = await assignedJob();
    const failure = { success: false, output: "LLM budget exhausted", executed_by: agentId };
    for (const _attempt of [1, 2]) {
      const res = await a.req("POST", `/api/jobs/${jobId}/submit-result`, failure);
      expect([res.status, res.text]).toEqual([500, "Internal Server Error"]);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await job(jobId)).toMatchObject({ status: "assigned", result: null });
    }
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, { ...failure, success: true });
    expect(obj((await job(jobId)).result)).toMatchObject({
      success: true,
      tokens_used: 0,
      model: "",
    });
  });

  it("submit-result: 404 unknown job, 403 another agent, 400 not assigned and on a second submission", async () => {
    const unknown = await a.req("POST", "/api/jobs/job_00000000/submit-result", {
      success: true,
      output: "x",
      executed_by: "agent_00000000",
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ detail: "Job not found" });

    const notAssigned = await postJob(a);
    const early = await a.req("POST", `/api/jobs/${notAssigned}/submit-result`, {
      success: true,
      output: "x",
      executed_by: "agent_00000000",
    });
    expect(early.status).toBe(400);
    expect(early.json).toEqual({ detail: "Job is not in assigned state (status: posted)" });

    const { jobId, agentId, other } = await assignedJob();
    const forbidden = await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "stolen",
      executed_by: other,
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json).toEqual({ detail: "Only the assigned agent can submit results" });

    const body = { success: true, output: "done", executed_by: agentId };
    expect((await a.req("POST", `/api/jobs/${jobId}/submit-result`, body)).status).toBe(200);
    const second = await a.req("POST", `/api/jobs/${jobId}/submit-result`, body);
    expect(second.status).toBe(400);
    expect(second.json).toEqual({ detail: "Job is not in assigned state (status: completed)" });
    expect(obj((await job(jobId)).result).output).toBe("done");
  });

  it("submit-result with a missing field is a 422", async () => {
    const { jobId } = await assignedJob();
    const res = await a.req("POST", `/api/jobs/${jobId}/submit-result`, { output: "x" });
    expect(res.status).toBe(422);
    const locs = (obj(res.json).detail as { loc: unknown }[]).map((d) => d.loc);
    expect(locs).toEqual([
      ["body", "success"],
      ["body", "executed_by"],
    ]);
    expect((await job(jobId)).status).toBe("assigned");
  });

  it("complete?quality_score= signs the job off and pays; the query parameter is required", async () => {
    const { jobId, agentId } = await assignedJob();
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "ok",
      executed_by: agentId,
    });
    const missing = await a.req("POST", `/api/jobs/${jobId}/complete`);
    expect(missing.status).toBe(422);
    const res = await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=0.9`);
    expect(res.status).toBe(200);
    expect(obj(res.json)).toMatchObject({
      job_id: jobId,
      quality_score: 0.9,
      payment_status: "released",
    });
    expect(obj(res.json)).not.toHaveProperty("status");
    expect(await job(jobId)).toMatchObject({ status: "completed", quality_score: 0.9 });
    // The service's `complete` does not count the job: only reviews do.
    expect((await agent(agentId)).jobs_completed).toBe(0);
    // The escrow is settled: a second sign-off fails as the service's does, a bare 500.
    const again = await a.req("POST", `/api/jobs/${jobId}/complete?quality_score=0.9`);
    expect([again.status, again.text]).toEqual([500, "Internal Server Error"]);
    const unknown = await a.req("POST", "/api/jobs/job_00000000/complete?quality_score=1");
    expect([unknown.status, unknown.text]).toEqual([500, "Internal Server Error"]);
  });
});
