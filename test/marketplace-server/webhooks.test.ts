import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import {
  type Api,
  api,
  newAccount,
  obj,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
} from "../support/marketplace-requests.ts";
import { waitFor } from "../support/wait.ts";

interface Received {
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  closedEarly: boolean;
}

/** A loopback HTTP server standing in for an agent's webhook endpoint. */
async function startReceiver(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end("ok"),
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      const entry: Received = { headers: req.headers, body: JSON.parse(text), closedEarly: false };
      received.push(entry);
      res.on("close", () => {
        if (!res.writableFinished) entry.closedEarly = true;
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, server };
}

describe("embedded marketplace webhooks (as the real service sends them)", () => {
  let market: Awaited<ReturnType<typeof startMarketplace>>;
  let a: Api;
  const servers: Server[] = [];

  beforeEach(async () => {
    market = await startMarketplace({ port: 0, dbPath: ":memory:", webhookTimeoutMs: 300 });
    a = api(market.url);
  });
  afterEach(async () => {
    await market.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it("sends job.posted to matched webhook agents, then the flat job_assigned call to a webhook winner", async () => {
    const hook = await startReceiver();
    servers.push(hook.server);
    const pushed = await registerAgent(a, { execution_mode: "webhook", webhook_url: hook.url });
    const polling = await registerAgent(a); // self-hosted without a webhook_url: never notified
    const unmatched = await registerAgent(a, {
      execution_mode: "webhook",
      webhook_url: hook.url,
      capabilities: { translation: 0.9 },
    });
    const jobId = await postJob(a, { title: "Sales anomalies" });

    const posted = await waitFor("job.posted", () => hook.received[0]);
    expect(posted.headers["content-type"]).toBe("application/json");
    expect(posted.headers["x-openagora-event"]).toBe("job.posted");
    expect(posted.headers["x-openagora-agent-id"]).toBe(pushed);
    expect(posted.body).toMatchObject({
      event: "job.posted",
      job: {
        job_id: jobId,
        title: "Sales anomalies",
        budget_usd: 5,
        required_capabilities: ["analysis"],
        poster_id: "poster_1",
        status: "posted",
      },
    });
    expect(typeof obj(posted.body.job).created_at).toBe("string");

    const bidId = await placeBidOk(a, jobId, { agent_id: pushed });
    await placeBidOk(a, jobId, { agent_id: polling });
    expect((await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status).toBe(200);
    const assigned = await waitFor("the assignment call", () => hook.received[1]);
    // submit.py `_call_agent_webhook`: flat, and without the X-OpenAgora headers.
    expect(assigned.body).toEqual({
      event: "job_assigned",
      job_id: jobId,
      title: "Sales anomalies",
      description: "Find anomalies in last month's sales",
      budget_usd: 5,
      final_price_usd: 1,
      agent_id: pushed,
    });
    expect(assigned.headers["x-openagora-event"]).toBeUndefined();
    expect(assigned.headers["x-openagora-agent-id"]).toBeUndefined();
    expect(hook.received.some((r) => r.headers["x-openagora-agent-id"] === unmatched)).toBe(false);
    // Nothing else: the service never sends job.assigned or bid.selected.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hook.received).toHaveLength(2);
    // The plain "ok" answer carries no result: the job stays assigned.
    expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("assigned");
  });

  it("a webhook agent's 200 answer with an output is its result: the job is completed", async () => {
    const hook = await startReceiver((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ output: "three anomalies", tokens_used: 12 }));
    });
    servers.push(hook.server);
    const agentId = await registerAgent(a, { execution_mode: "webhook", webhook_url: hook.url });
    const jobId = await postJob(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    const job = await waitFor("the job completed by the answer", async () => {
      const doc = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
      return doc.status === "completed" ? doc : undefined;
    });
    expect(job.result).toEqual({ success: true, output: "three anomalies", executed_by: agentId });
    expect(typeof job.completed_at).toBe("string");
    expect(obj((await a.req("GET", `/api/agents/${agentId}`)).json).status).toBe("available");
  });

  it("an answer that is not a 200 with a non-empty output leaves the job assigned; success: false is kept", async () => {
    const answers = [
      { status: 202, body: { output: "later" } },
      { status: 200, body: { output: "" } },
      { status: 200, body: { success: true } },
      { status: 200, body: { success: false, output: "could not do it" } },
    ];
    const endpoints = await Promise.all(
      answers.map((answer) =>
        startReceiver((_req, res) => {
          res.statusCode = answer.status;
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(answer.body));
        }),
      ),
    );
    servers.push(...endpoints.map((e) => e.server));
    const jobs: string[] = [];
    for (const endpoint of endpoints) {
      const agentId = await registerAgent(a, {
        execution_mode: "webhook",
        webhook_url: endpoint.url,
      });
      const jobId = await postJob(a);
      const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
      await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
      await waitFor("the assignment call", () =>
        endpoint.received.find((r) => r.body.event === "job_assigned"),
      );
      jobs.push(jobId);
    }
    const last = jobs.at(-1) ?? "";
    const failed = await waitFor("the answer with success false", async () => {
      const doc = obj((await a.req("GET", `/api/jobs/${last}`)).json);
      return doc.status === "completed" ? doc : undefined;
    });
    expect(obj(failed.result)).toMatchObject({ success: false, output: "could not do it" });
    for (const jobId of jobs.slice(0, -1)) {
      expect(obj((await a.req("GET", `/api/jobs/${jobId}`)).json).status).toBe("assigned");
    }
  });

  it("a self-hosted winner is not called even with a webhook_url; an offline agent is not matched", async () => {
    const hook = await startReceiver();
    servers.push(hook.server);
    const selfHosted = await registerAgent(a, { webhook_url: hook.url });
    const offline = await registerAgent(a, { execution_mode: "webhook", webhook_url: hook.url });
    await a.req("PUT", `/api/agents/${offline}`, { status: "offline" });
    const jobId = await postJob(a);
    const posted = await waitFor("job.posted", () => hook.received[0]);
    expect(posted.headers["x-openagora-agent-id"]).toBe(selfHosted);
    const bidId = await placeBidOk(a, jobId, { agent_id: selfHosted });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hook.received.map((r) => r.headers["x-openagora-agent-id"])).toEqual([selfHosted]);
  });

  it("notifies a self-hosted agent once its owner gave it a webhook_url by PUT", async () => {
    const hook = await startReceiver();
    servers.push(hook.server);
    const owner = newAccount();
    const agentId = await registerAgent(a, {
      owner_id: owner.address,
      wallet_address: owner.address,
    });
    const put = await a.req(
      "PUT",
      `/api/agents/${agentId}`,
      { webhook_url: hook.url },
      await signIn(a, owner),
    );
    expect(put.status).toBe(200);
    expect(obj((await a.req("GET", `/api/agents/${agentId}`)).json)).toMatchObject({
      execution_mode: "self_hosted",
      webhook_url: hook.url,
    });
    const jobId = await postJob(a, { title: "After the switch" });
    const posted = await waitFor("job.posted", () => hook.received[0]);
    expect(posted.headers["x-openagora-agent-id"]).toBe(agentId);
    expect(obj(posted.body.job).job_id).toBe(jobId);
  });

  it("delivers in the background: the API answers while the endpoint hangs; cut at the timeout, not retried", async () => {
    const hung = await startReceiver(() => undefined); // never answers
    servers.push(hung.server);
    await registerAgent(a, { execution_mode: "webhook", webhook_url: hung.url });
    const jobId = await postJob(a);
    expect(jobId).toMatch(/^job_/);
    const delivery = await waitFor("the delivery", () => hung.received[0]);
    await waitFor("the delivery cut short by the timeout", () => delivery.closedEarly);
    // Another notification would have to be another job: the one attempt is all.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(hung.received).toHaveLength(1);
  });

  it("a webhook agent without a webhook_url is refused at registration", async () => {
    const res = await a.req("POST", "/api/agents/register", {
      name: "NoUrl",
      description: "d",
      owner_id: "o",
      wallet_address: `0x${"12".repeat(20)}`,
      execution_mode: "webhook",
    });
    expect(res.status).toBe(400);
    expect(obj(res.json).detail).toBe("webhook_url is required when execution_mode is 'webhook'");
  });
});
