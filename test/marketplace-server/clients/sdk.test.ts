import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningMarketplace,
  startMarketplace,
} from "../../../src/marketplace-server/index.ts";
import {
  expectDetail,
  expectMethodNotAllowed,
  expectMissing,
  httpxParams,
  missing,
} from "../../support/client-replay.ts";
import {
  type Api,
  api,
  ID,
  ISO_NO_ZONE,
  newWallet,
  obj,
  postJob,
  registerAgent,
  str,
} from "../../support/marketplace-requests.ts";

/**
 * The real service's standalone runner and its SDK (OpenAgoraRunner openagora.py,
 * `OpenAgoraAgent`, and runner.py, `OpenAgoraClient`), replayed request by request
 * against the embedded marketplace, each answer the one the service's api.py gives.
 * Neither gets far: a heartbeat without a body, bids as JSON and a failure without
 * `output` are all 422s, and `status=open` lists nothing.
 */

/** api.py REGISTRATION_COOLDOWN_SECONDS, so that the SDK's shared owner meets it. */
const COOLDOWN_SECONDS = 10;

let clock = Date.now();
let market: RunningMarketplace;
let a: Api;

beforeAll(async () => {
  market = await startMarketplace({
    dbPath: ":memory:",
    port: 0,
    registrationCooldownSeconds: COOLDOWN_SECONDS,
    now: () => new Date(clock),
    staleSweepSeconds: 0,
  });
  a = api(market.url);
});
afterAll(async () => {
  await market?.close();
});

/** openagora.py `OpenAgoraAgent.__init__`: the agent_id used until registration answers. */
function sdkAgentId(name: string): string {
  const hash = createHash("md5").update(name.toLowerCase().replaceAll(" ", "_")).digest("hex");
  return `agent_${hash.slice(0, 8)}`;
}

/** openagora.py `OpenAgoraAgent.__init__`: the wallet made up when none is given. */
function sdkWallet(name: string): string {
  return `0x${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}

interface SdkAgent {
  name: string;
  description: string;
  capabilities?: Record<string, number>;
  ownerId?: string;
}

/** openagora.py `OpenAgoraAgent._register`: the body it posts. */
function registerBody(agent: SdkAgent) {
  const caps = agent.capabilities ?? {};
  return {
    name: agent.name,
    description: agent.description,
    owner_id: agent.ownerId ?? "self-hosted",
    wallet_address: sdkWallet(agent.name),
    execution_mode: "self_hosted",
    base_rate_usd: 0.02,
    capabilities: Object.keys(caps).length > 0 ? caps : null,
  };
}

/** A poster's job, bid on by `agentId` with query parameters and awarded to it. */
async function awardTo(agentId: string): Promise<string> {
  const jobId = await postJob(a, { required_capabilities: ["classification"], budget_usd: 0.5 });
  const bid = await a.req(
    "POST",
    `/api/jobs/${jobId}/bids?${httpxParams({
      agent_id: agentId,
      price_usd: 0.1,
      estimated_quality: 0.9,
      estimated_time_seconds: 60,
      approach_summary: "classify",
    })}`,
  );
  expect(bid.status, bid.text).toBe(200);
  const bidId = str(obj(bid.json).bid_id);
  const selected = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
  expect(selected.json).toEqual({ job_id: jobId, winning_bid_id: bidId, status: "assigned" });
  return jobId;
}

/** The five query parameters of place_bid (api.py:801-809), all absent. */
const BID_QUERY_MISSING = [
  missing(["query", "agent_id"]),
  missing(["query", "price_usd"]),
  missing(["query", "estimated_quality"]),
  missing(["query", "estimated_time_seconds"]),
  missing(["query", "approach_summary"]),
];

describe("openagora.py OpenAgoraAgent", () => {
  const agent: SdkAgent = {
    name: "Lang Classifier",
    description: "Classifies programming languages, frameworks and libraries",
    capabilities: { classification: 0.9 },
    ownerId: "owner_sdk_flow",
  };

  it("start → poll: registered; the heartbeat 422; status=open lists nothing; the JSON bid 422; the assigned job completed", async () => {
    // _register: client.post(f"{API_URL}/api/agents/register", json={...})
    const body = registerBody(agent);
    const reg = await a.req("POST", "/api/agents/register", body);
    expect(reg.status, reg.text).toBe(200);
    expect(reg.json).toEqual({
      success: true,
      agent_id: expect.stringMatching(ID.agent),
      name: agent.name,
      execution_mode: "self_hosted",
      status: "available",
      wallet_address: body.wallet_address,
      message: "Agent registered with self_hosted execution mode.",
    });
    // The SDK takes the marketplace's id in place of its own.
    const agentId = str(obj(reg.json).agent_id);

    const jobId = await postJob(a, { required_capabilities: ["classification"], budget_usd: 0.5 });

    // _poll_loop → _heartbeat: client.post(f"{API_URL}/api/agents/{agent_id}/heartbeat"),
    // no body, where AgentHeartbeatRequest is a required one.
    expectMissing(await a.req("POST", `/api/agents/${agentId}/heartbeat`), [missing(["body"])]);

    // _check_and_bid: client.get(f"{API_URL}/api/jobs", params={"status": "open"}): new
    // jobs are `posted`, so nothing is listed and the SDK never bids.
    const open = await a.req("GET", `/api/jobs?${httpxParams({ status: "open" })}`);
    expect(open.status).toBe(200);
    expect(open.json).toEqual({ jobs: [], count: 0 });

    // _check_and_bid, had a job been listed: the bid as JSON, where place_bid wants
    // query parameters (the body is not read).
    const bid = await a.req("POST", `/api/jobs/${jobId}/bids`, {
      agent_id: agentId,
      price_usd: 0.065,
      estimated_time_seconds: 60,
      confidence: 1,
      approach: `${agent.name}: ${agent.description.slice(0, 100)}`,
    });
    expectMissing(bid, BID_QUERY_MISSING);

    // A poster awards the agent a job (with query parameters).
    const assignedId = await awardTo(agentId);

    // _execute_assigned: client.get(f"{API_URL}/api/jobs",
    //   params={"assigned_agent_id": self.agent_id, "status": "assigned"})
    const assignedPath = `/api/jobs?${httpxParams({ assigned_agent_id: agentId, status: "assigned" })}`;
    const assigned = await a.req("GET", assignedPath);
    expect(assigned.status).toBe(200);
    const listed = obj(assigned.json);
    expect(listed.count).toBe(1);
    expect((listed.jobs as Record<string, unknown>[])[0]).toMatchObject({
      job_id: assignedId,
      status: "assigned",
      assigned_agent_id: agentId,
    });

    // _execute_assigned: client.post(f".../submit-result", json={"success": True, "output",
    // "executed_by"})
    const output = "Python: language\nReact: framework\nNumPy: library";
    const submitted = await a.req("POST", `/api/jobs/${assignedId}/submit-result`, {
      success: true,
      output,
      executed_by: agentId,
    });
    expect(submitted.status, submitted.text).toBe(200);
    expect(submitted.json).toEqual({ job_id: assignedId, status: "completed" });

    const job = obj((await a.req("GET", `/api/jobs/${assignedId}`)).json);
    expect(job.status).toBe("completed");
    expect(job.result).toEqual({
      success: true,
      output,
      tokens_used: 0,
      model: "",
      executed_by: agentId,
      submitted_at: expect.stringMatching(ISO_NO_ZONE),
    });
    // The next poll finds nothing more to do.
    expect((await a.req("GET", assignedPath)).json).toEqual({ jobs: [], count: 0 });
  });

  it("a handler that raises: the failure form has no `output`, a 422 at every poll, and the job stays assigned", async () => {
    const reg = await a.req(
      "POST",
      "/api/agents/register",
      registerBody({ ...agent, name: "Failing Classifier", ownerId: "owner_sdk_failing" }),
    );
    expect(reg.status, reg.text).toBe(200);
    const agentId = str(obj(reg.json).agent_id);
    const jobId = await awardTo(agentId);

    // _execute_assigned, the handler raised: json={"success": False, "error", "executed_by"}
    const failure = { success: false, error: "model unavailable", executed_by: agentId };
    for (let poll = 0; poll < 2; poll++) {
      const res = await a.req("POST", `/api/jobs/${jobId}/submit-result`, failure);
      expectMissing(res, [missing(["body", "output"], failure)]);
    }
    const job = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(job).toMatchObject({ status: "assigned", assigned_agent_id: agentId, result: null });
  });

  it("registration: capabilities null is taken; a restart finds the agent by its wallet; a second agent of the shared owner meets the cooldown", async () => {
    // _register with no capabilities given: "capabilities": None
    const first: SdkAgent = { name: "Plain Helper", description: "Helps" };
    const body = registerBody(first);
    expect(body.capabilities).toBeNull();
    const reg = await a.req("POST", "/api/agents/register", body);
    expect(reg.status, reg.text).toBe(200);
    const agentId = str(obj(reg.json).agent_id);
    expect(agentId).not.toBe(sdkAgentId(first.name));

    // The same agent started again past the cooldown: register.py finds its wallet.
    clock += (COOLDOWN_SECONDS + 1) * 1000;
    const again = await a.req("POST", "/api/agents/register", body);
    expect(again.status, again.text).toBe(200);
    expect(obj(again.json).agent_id).toBe(agentId);

    // Another SDK agent 3 s later, with the default owner_id "self-hosted" as well.
    clock += 3000;
    const second: SdkAgent = { name: "Other Helper", description: "Helps too" };
    const refused = await a.req("POST", "/api/agents/register", registerBody(second));
    expectDetail(
      refused,
      429,
      "Rate limited. Please wait 7 seconds before registering another agent.",
    );
    // The SDK carries on with its own made-up id, which the marketplace does not know;
    // its heartbeat is a 422 all the same (the body is checked before the agent).
    const own = sdkAgentId(second.name);
    expect((await a.req("GET", `/api/agents/${own}`)).status).toBe(404);
    expectMissing(await a.req("POST", `/api/agents/${own}/heartbeat`), [missing(["body"])]);
  });
});

describe("runner.py OpenAgoraClient", () => {
  it("register_agent posts to /api/agents, a GET-only path: 405", async () => {
    // register_agent: client.post(f"{base_url}/api/agents", json={...})
    const res = await a.req("POST", "/api/agents", {
      agent_id: sdkAgentId("SchemaArchitect"),
      name: "SchemaArchitect",
      description: "Expert in database schema design, API architecture, and data modeling",
      capabilities: { classification: 0.8 },
      base_rate_usd: 0.02,
      wallet_address: "0xeD95281eae7cAc0E2DD3dF6497b4e3d923c4Ba8E",
      owner_id: "bledden",
      status: "available",
    });
    expectMethodNotAllowed(res);
    expect((await a.req("GET", `/api/agents/${sdkAgentId("SchemaArchitect")}`)).status).toBe(404);
  });

  it("_poll_cycle: heartbeat 422, no open jobs, the JSON bid 422, then the assigned job's result in both forms", async () => {
    // An agent configured in agents.json with the id of one registered by other means.
    const agentId = await registerAgent(a, {
      name: "SchemaArchitect",
      wallet_address: newWallet(),
      capabilities: { classification: 0.8 },
    });

    // send_heartbeat: client.post(f"{base_url}/api/agents/{agent_id}/heartbeat")
    expectMissing(await a.req("POST", `/api/agents/${agentId}/heartbeat`), [missing(["body"])]);

    // get_open_jobs: client.get(f"{base_url}/api/jobs", params={"status": "open"})
    const openJob = await postJob(a, { required_capabilities: ["classification"] });
    expect((await a.req("GET", "/api/jobs?status=open")).json).toEqual({ jobs: [], count: 0 });

    // submit_bid: client.post(f"{base_url}/api/jobs/{job_id}/bids", json={...})
    const bid = await a.req("POST", `/api/jobs/${openJob}/bids`, {
      agent_id: agentId,
      price_usd: 0.07,
      estimated_time_seconds: 60,
      confidence: 1,
      approach: "SchemaArchitect will handle this using expertise in Expert in database...",
    });
    expectMissing(bid, BID_QUERY_MISSING);

    // get_assigned_jobs: client.get(f"{base_url}/api/jobs",
    //   params={"assigned_agent_id": agent_id, "status": "assigned"})
    const jobId = await awardTo(agentId);
    const assigned = obj(
      (
        await a.req(
          "GET",
          `/api/jobs?${httpxParams({ assigned_agent_id: agentId, status: "assigned" })}`,
        )
      ).json,
    );
    expect((assigned.jobs as Record<string, unknown>[]).map((j) => j.job_id)).toEqual([jobId]);

    // submit_result with LLMExecutor.execute's failure form: no `output`, 422.
    const failure = { success: false, error: "HTTP 503", executed_by: agentId };
    expectMissing(await a.req("POST", `/api/jobs/${jobId}/submit-result`, failure), [
      missing(["body", "output"], failure),
    ]);

    // submit_result with LLMExecutor.execute's success form.
    const success = {
      success: true,
      output: "users(id, email), orders(id, user_id)",
      tokens_used: 321,
      model: "accounts/fireworks/models/llama-v3p3-70b-instruct",
      executed_by: agentId,
    };
    const done = await a.req("POST", `/api/jobs/${jobId}/submit-result`, success);
    expect(done.status, done.text).toBe(200);
    expect(done.json).toEqual({ job_id: jobId, status: "completed" });
    const job = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(job.result).toEqual({ ...success, submitted_at: expect.stringMatching(ISO_NO_ZONE) });

    // A second submission of the same result: the job is no longer assigned.
    expectDetail(
      await a.req("POST", `/api/jobs/${jobId}/submit-result`, success),
      400,
      "Job is not in assigned state (status: completed)",
    );
  });
});
