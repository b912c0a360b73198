import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createMarketplaceApp,
  type RunningMarketplace,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import {
  type Api,
  api,
  obj,
  placeBidOk,
  postJob,
  registerAgent,
} from "../support/marketplace-requests.ts";

let m: RunningMarketplace;
let a: Api;
beforeEach(async () => {
  m = await startMarketplace({ dbPath: ":memory:", port: 0 });
  a = api(m.url);
});
afterEach(async () => {
  await m.close();
});

async function jobCount(): Promise<number> {
  return obj((await a.req("GET", "/api/jobs")).json).count as number;
}

async function assigned(): Promise<{ jobId: string; agentId: string }> {
  const agentId = await registerAgent(a);
  const jobId = await postJob(a);
  const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
  expect((await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status).toBe(200);
  return { jobId, agentId };
}

describe("fault injection", () => {
  it("error500: plain-text 500 for the next N matching requests, then normal", async () => {
    m.setFaults({ rules: [{ route: "GET /api/jobs", fault: "error500", times: 2 }] });
    for (let i = 0; i < 2; i++) {
      const res = await a.req("GET", "/api/jobs");
      expect(res.status).toBe(500);
      expect(res.text).toBe("Internal Server Error");
      expect(res.headers.get("content-type")).toContain("text/plain");
    }
    expect((await a.req("GET", "/api/jobs")).status).toBe(200);
    // Other routes were never touched.
    expect((await a.req("GET", "/api/agents")).status).toBe(200);
  });

  it("rateLimit: 429 with Retry-After", async () => {
    m.setFaults({
      rules: [{ route: "POST /api/jobs/:id/bids", fault: "rateLimit", retryAfterSeconds: 7 }],
    });
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const res = await a.req(
      "POST",
      `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=1&estimated_quality=0.5&estimated_time_seconds=1&approach_summary=x`,
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(typeof obj(res.json).detail).toBe("string");
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).bid_count).toBe(0);
  });

  it("html503: an HTML error page, not JSON", async () => {
    m.setFaults({ rules: [{ route: "* /api/agents", fault: "html503", times: 1 }] });
    const res = await a.req("GET", "/api/agents");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.text).toContain("<html>");
    expect(res.json).toBeNull();
  });

  it("truncatedJson: the request takes effect, its answer is cut short", async () => {
    m.setFaults({ rules: [{ route: "POST /api/jobs", fault: "truncatedJson", times: 1 }] });
    const res = await a.req("POST", "/api/jobs", {
      title: "t",
      description: "d",
      required_capabilities: [],
      budget_usd: 1,
      poster_id: "p",
      poster_wallet: `0x${"ab".repeat(20)}`,
    });
    expect(res.status).toBe(200);
    expect(res.text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(res.text)).toThrow();
    expect(await jobCount()).toBe(1);
  });

  it("malformedJobs: every other job of a listing is broken, the rest intact", async () => {
    const ids = [await postJob(a), await postJob(a), await postJob(a)];
    m.setFaults({ rules: [{ route: "GET /api/jobs", fault: "malformedJobs", times: 1 }] });
    const res = await a.req("GET", "/api/jobs");
    expect(res.status).toBe(200);
    const jobs = obj(res.json).jobs as Record<string, unknown>[];
    expect(jobs.map((j) => j.job_id).sort()).toEqual([...ids].sort());
    expect(jobs.map((j) => typeof j.title)).toEqual(["undefined", "string", "undefined"]);
    expect(jobs[0]).toMatchObject({ budget_usd: "a lot", required_capabilities: null });
    expect(jobs[1]).toMatchObject({ budget_usd: 5, required_capabilities: ["analysis"] });
    // The stored jobs are untouched.
    const again = obj((await a.req("GET", "/api/jobs")).json).jobs as Record<string, unknown>[];
    expect(again.every((j) => typeof j.title === "string")).toBe(true);
  });

  it("delay: answers normally, later", async () => {
    m.setFaults({ rules: [{ route: "GET /api/agents", fault: "delay", delayMs: 300, times: 1 }] });
    const started = performance.now();
    const res = await a.req("GET", "/api/agents");
    expect(res.status).toBe(200);
    // A lower bound only: the delay is a floor, whatever the machine's speed.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("drop: the connection closes without an answer and the request has no effect", async () => {
    m.setFaults({ rules: [{ route: "POST /api/jobs", fault: "drop", times: 1 }] });
    await expect(postJob(a)).rejects.toThrow();
    expect(await jobCount()).toBe(0);
    await postJob(a);
    expect(await jobCount()).toBe(1);
  });

  it("drop after: the submission lands, the answer is lost, a retry gets 400", async () => {
    const { jobId, agentId } = await assigned();
    m.setFaults({
      rules: [{ route: "POST /api/jobs/:id/submit-result", fault: "drop", after: true, times: 1 }],
    });
    const body = { success: true, output: "done", executed_by: agentId };
    await expect(a.req("POST", `/api/jobs/${jobId}/submit-result`, body)).rejects.toThrow();
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("completed");
    expect((await a.req("POST", `/api/jobs/${jobId}/submit-result`, body)).status).toBe(400);
  });

  it("error500 after: the award is made but answered 500", async () => {
    const agentId = await registerAgent(a);
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    m.setFaults({
      rules: [{ route: "POST /api/jobs/*/select-bid/*", fault: "error500", after: true }],
    });
    const res = await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    expect(res.status).toBe(500);
    expect(res.text).toBe("Internal Server Error");
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("assigned");
  });

  it("matches method and path segment by segment; the query string is ignored", async () => {
    const jobId = await postJob(a);
    m.setFaults({ rules: [{ route: "GET /api/jobs/:job_id", fault: "error500" }] });
    expect((await a.req("GET", `/api/jobs/${jobId}?x=1`)).status).toBe(500);
    expect((await a.req("GET", "/api/jobs")).status).toBe(200);
    expect((await a.req("GET", `/api/jobs/${jobId}/bids`)).status).toBe(200);
    expect((await a.req("DELETE", `/api/jobs/${jobId}`)).status).toBe(200);
  });

  it("probability: 0 never fires; otherwise the random source decides", async () => {
    m.setFaults({ rules: [{ route: "* /api/agents", fault: "error500", probability: 0 }] });
    for (let i = 0; i < 5; i++) expect((await a.req("GET", "/api/agents")).status).toBe(200);

    const rolls = [0.1, 0.9, 0.49, 0.5];
    m.setFaults({
      rules: [{ route: "GET /api/agents", fault: "error500", probability: 0.5 }],
      random: () => rolls.shift() ?? 1,
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await a.req("GET", "/api/agents")).status);
    expect(statuses).toEqual([500, 200, 500, 200]);
  });

  it("the first matching live rule wins; setFaults(null) clears every rule", async () => {
    m.setFaults({
      rules: [
        { route: "GET /api/agents", fault: "rateLimit", times: 1 },
        { route: "GET /api/agents", fault: "html503" },
      ],
    });
    expect((await a.req("GET", "/api/agents")).status).toBe(429);
    expect((await a.req("GET", "/api/agents")).status).toBe(503);
    m.setFaults(null);
    expect((await a.req("GET", "/api/agents")).status).toBe(200);
  });

  it("takes rules at creation and rejects a malformed route", async () => {
    const local = await createMarketplaceApp({
      dbPath: ":memory:",
      faults: { rules: [{ route: "GET /api/agents", fault: "html503", times: 1 }] },
    });
    try {
      expect((await local.app.inject({ method: "GET", url: "/api/agents" })).statusCode).toBe(503);
      expect((await local.app.inject({ method: "GET", url: "/api/agents" })).statusCode).toBe(200);
      expect(() => local.setFaults({ rules: [{ route: "/api/agents", fault: "drop" }] })).toThrow(
        /METHOD \/path/,
      );
    } finally {
      await local.close();
    }
  });
});
