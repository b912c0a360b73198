import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { assignedJob, getDoc } from "../support/assigned-job.ts";
import {
  type Api,
  api,
  newAccount,
  newWallet,
  obj,
  POSTER,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
  str,
} from "../support/marketplace-requests.ts";

/**
 * The service's routes beyond the lifecycle: matches, refund, deleting all jobs, deleting
 * a file, result export, auto-negotiation and the demo status, as raw HTTP.
 */

let market: RunningMarketplace;
let a: Api;

beforeAll(async () => {
  market = await startMarketplace({ dbPath: ":memory:", port: 0 });
  a = api(market.url);
});
afterAll(async () => {
  await market?.close();
});

describe("GET /api/jobs/{id}/matches", () => {
  it("ranks the available agents that meet every required capability, best first", async () => {
    const capability = `cap_${Math.random().toString(16).slice(2, 8)}`;
    const strong = await registerAgent(a, { capabilities: { [capability]: 0.95 } });
    const weak = await registerAgent(a, { capabilities: { [capability]: 0.75 } });
    const below = await registerAgent(a, { capabilities: { [capability]: 0.5 } });
    const busy = await registerAgent(a, { capabilities: { [capability]: 0.99 } });
    await a.req("POST", `/api/agents/${busy}/heartbeat`, { status: "busy" });
    const jobId = await postJob(a, { required_capabilities: [capability], budget_usd: 1 });

    const res = await a.req("GET", `/api/jobs/${jobId}/matches`);
    expect(res.status).toBe(200);
    const body = obj(res.json);
    const matches = body.matches as Record<string, unknown>[];
    expect(matches.map((m) => m.agent_id)).toEqual([strong, weak]);
    expect(body).toMatchObject({ job_id: jobId, count: 2 });
    // Capability 0.95 × 0.5 + a new agent's reputation 0.5 × 0.3 + price fit (0.01 of 1) × 0.2.
    expect(matches[0]?.match_score).toBe(0.824);
    expect(matches.some((m) => m.agent_id === below || m.agent_id === busy)).toBe(false);

    const one = obj((await a.req("GET", `/api/jobs/${jobId}/matches?limit=1`)).json);
    expect((one.matches as unknown[]).length).toBe(1);
    expect((await a.req("GET", `/api/jobs/${jobId}/matches?limit=x`)).status).toBe(422);
    expect((await a.req("GET", "/api/jobs/job_00000000/matches")).json).toEqual({
      detail: "Job not found",
    });
  });
});

describe("POST /api/jobs/{id}/refund", () => {
  it("refunds the escrow to the poster and cancels the job; a second refund fails", async () => {
    const jobId = await postJob(a, { budget_usd: 4 });
    const res = await a.req("POST", `/api/jobs/${jobId}/refund`);
    expect(res.status).toBe(200);
    const body = obj(res.json);
    expect(body).toMatchObject({ job_id: jobId, status: "refunded", amount: 4 });
    const job = await getDoc(a, `/api/jobs/${jobId}`);
    expect(job.status).toBe("cancelled");
    expect((await getDoc(a, `/api/transactions/${str(job.escrow_txn_id)}`)).status).toBe(
      "refunded",
    );
    expect(await getDoc(a, `/api/transactions/${str(body.refund_txn_id)}`)).toMatchObject({
      txn_type: "refund",
      amount_usd: 4,
      payee_wallet: job.poster_wallet,
    });
    const again = await a.req("POST", `/api/jobs/${jobId}/refund`);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ detail: "Refund failed" });
    expect((await a.req("POST", "/api/jobs/job_00000000/refund")).status).toBe(404);
  });
});

describe("DELETE /api/jobs", () => {
  it("deletes every job and says how many", async () => {
    const own = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const b = api(own.url);
      const agentId = await registerAgent(b);
      const jobId = await postJob(b);
      await postJob(b);
      await placeBidOk(b, jobId, { agent_id: agentId });
      const res = await b.req("DELETE", "/api/jobs");
      expect(res.json).toEqual({ success: true, deleted_count: 2, message: "Deleted 2 jobs" });
      expect(obj((await b.req("GET", "/api/jobs")).json).count).toBe(0);
      expect((await b.req("GET", `/api/jobs/${jobId}`)).status).toBe(404);
      expect((await b.req("GET", `/api/jobs/${jobId}/bids`)).json).toEqual({ bids: [] });
      expect((await b.req("DELETE", "/api/jobs")).json).toMatchObject({ deleted_count: 0 });
    } finally {
      await own.close();
    }
  });
});

describe("DELETE /api/jobs/{id}/files/{file_id}", () => {
  it("removes the file and its entry in the job's attachments", async () => {
    const jobId = await postJob(a);
    const form = new FormData();
    form.append("file", new Blob(["day,sales\n1,10\n"]), "sales.csv");
    form.append("uploaded_by", "poster_1");
    const up = await fetch(`${market.url}/api/jobs/${jobId}/files`, { method: "POST", body: form });
    const fileId = str(obj(await up.json()).file_id);

    const res = await a.req("DELETE", `/api/jobs/${jobId}/files/${fileId}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: "deleted", file_id: fileId });
    expect(obj((await a.req("GET", `/api/jobs/${jobId}/files`)).json).count).toBe(0);
    expect((await getDoc(a, `/api/jobs/${jobId}`)).attachments).toEqual([]);
    expect((await a.req("GET", `/api/jobs/${jobId}/files/${fileId}`)).status).toBe(404);
    const again = await a.req("DELETE", `/api/jobs/${jobId}/files/${fileId}`);
    expect(again.json).toEqual({ detail: "File not found" });
    expect(again.status).toBe(404);
    expect((await a.req("DELETE", `/api/jobs/job_00000000/files/${fileId}`)).json).toEqual({
      detail: "Job not found",
    });
  });
});

describe("GET /api/jobs/{id}/result/export", () => {
  it("exports a submitted result as json, text, markdown and csv, as a download", async () => {
    const { jobId, agentId } = await assignedJob(a, { title: "Sales: dips & peaks!" });
    expect((await a.req("GET", `/api/jobs/${jobId}/result/export`)).json).toEqual({
      detail: "Job has no result yet",
    });
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "Three dips, all on holidays — see below.",
      tokens_used: 12,
      model: "m",
      executed_by: agentId,
    });
    const result = obj((await getDoc(a, `/api/jobs/${jobId}`)).result);
    const suffix = jobId.slice(-8);

    const json = await fetch(`${market.url}/api/jobs/${jobId}/result/export`);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(json.headers.get("content-disposition")).toBe(
      `attachment; filename="Sales__dips___peaks__${suffix}.json"`,
    );
    const jsonText = await json.text();
    expect(JSON.parse(jsonText)).toEqual(result);
    // Python's json.dumps(indent=2): non-ASCII escaped.
    expect(jsonText).toContain('"output": "Three dips, all on holidays \\u2014 see below."');

    const text = await fetch(`${market.url}/api/jobs/${jobId}/result/export?format=text`);
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await text.text()).toBe("Three dips, all on holidays — see below.");

    const md = await (
      await fetch(`${market.url}/api/jobs/${jobId}/result/export?format=markdown`)
    ).text();
    expect(md.startsWith("# Sales: dips & peaks!\n\n**Exported:** ")).toBe(true);
    expect(md).toContain("## Result\n\n**success:** True\n\n**output:** Three dips");
    expect(md).toContain("**tokens_used:** 12");

    const csv = await fetch(`${market.url}/api/jobs/${jobId}/result/export?format=csv`);
    expect(csv.headers.get("content-disposition")).toContain(`_${suffix}.csv"`);
    const lines = (await csv.text()).split("\r\n");
    expect(lines[0]).toBe("success,output,tokens_used,model,executed_by,submitted_at");
    expect(lines[1]).toBe(
      `True,"Three dips, all on holidays — see below.",12,m,${agentId},${str(result.submitted_at)}`,
    );

    const bad = await a.req("GET", `/api/jobs/${jobId}/result/export?format=xml`);
    expect(bad.status).toBe(422);
    expect(obj(bad.json).detail).toMatchObject([{ type: "enum", loc: ["query", "format"] }]);
    expect((await a.req("GET", "/api/jobs/job_00000000/result/export")).status).toBe(404);
  });
});

describe("POST /api/bids/{id}/auto-negotiate", () => {
  it("is the poster's: 401 without sign-in, 403 for another wallet, 404 for an unknown bid", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 4 });
    const path = `/api/bids/${bidId}/auto-negotiate`;
    const anon = await a.req("POST", path, { max_budget: 3 });
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toBe("Bearer");
    const stranger = await signIn(a, newAccount());
    const other = await a.req("POST", path, { max_budget: 3 }, stranger);
    expect(other.status).toBe(403);
    expect(other.json).toEqual({ detail: "Only the job poster can perform this action" });
    const poster = await signIn(a, POSTER);
    expect(
      (await a.req("POST", "/api/bids/bid_00000000/auto-negotiate", { max_budget: 3 }, poster))
        .status,
    ).toBe(404);
    expect((await a.req("POST", path, {}, poster)).status).toBe(422);
  });

  it("counters above the budget, accepts the agent's answer within it, and rejects once the rounds are spent", async () => {
    const agent = newAccount();
    const agentId = await registerAgent(a, { wallet_address: agent.address });
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 4 });
    const poster = await signIn(a, POSTER);
    const path = `/api/bids/${bidId}/auto-negotiate`;

    const countered = obj((await a.req("POST", path, { max_budget: 3 }, poster)).json);
    expect(countered).toMatchObject({
      bid_id: bidId,
      status: "counter_offered",
      final_price: null,
    });
    expect(countered.counter_offers).toMatchObject([{ price_usd: 3, by: "poster" }]);
    // Its own offer stands: nothing more to do until the agent answers.
    expect((await a.req("POST", path, { max_budget: 3 }, poster)).json).toEqual({
      bid_id: bidId,
      status: "no_action",
    });

    const asAgent = await signIn(a, agent);
    await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 3.5, message: "meet me", by: "agent" },
      asAgent,
    );
    const accepted = obj((await a.req("POST", path, { max_budget: 4 }, poster)).json);
    expect(accepted).toMatchObject({ status: "counter_accepted", final_price: 3.5 });

    // For the agent, at the poster's request: its minimum is above the price, so it counters.
    const forAgent = obj(
      (await a.req("POST", path, { max_budget: 3.8, negotiator_role: "agent" }, poster)).json,
    );
    expect(forAgent.status).toBe("counter_offered");
    expect((forAgent.counter_offers as unknown[]).at(-1)).toMatchObject({
      price_usd: 3.8,
      by: "agent",
    });

    // Round four is the poster's counter at 1, round five the agent's: the rounds are spent.
    await a.req("POST", path, { max_budget: 1 }, poster);
    await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 3.9, message: "no", by: "agent" },
      asAgent,
    );
    const listed = obj((await a.req("GET", `/api/jobs/${jobId}/bids`)).json).bids;
    expect((listed as { counter_offers: unknown[] }[])[0]?.counter_offers).toHaveLength(5);
    const rejected = obj((await a.req("POST", path, { max_budget: 1 }, poster)).json);
    expect(rejected).toMatchObject({ bid_id: bidId, status: "rejected" });
  });
});

describe("GET /api/demo/status", () => {
  it("counts agents and jobs (at most 100 each) and says no money moves here", async () => {
    const own = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const b = api(own.url);
      await registerAgent(b, { wallet_address: newWallet() });
      await postJob(b);
      expect((await b.req("GET", "/api/demo/status")).json).toEqual({
        status: "operational",
        agents_count: 1,
        jobs_count: 1,
        x402_mode: "false",
        thesys_configured: false,
      });
    } finally {
      await own.close();
    }
  });
});
