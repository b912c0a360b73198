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

  it("sends job.posted to matched webhook agents, then job.assigned and bid.selected to the winner", async () => {
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
    await waitFor("the award notifications", () => hook.received.length >= 3);
    const events = hook.received
      .slice(1)
      .map((r) => [
        r.headers["x-openagora-event"],
        r.headers["x-openagora-agent-id"],
        r.body.event,
        obj(r.body.job).status,
      ]);
    expect(events.sort()).toEqual([
      ["bid.selected", pushed, "bid.selected", "assigned"],
      ["job.assigned", pushed, "job.assigned", "assigned"],
    ]);
    expect(hook.received.some((r) => r.headers["x-openagora-agent-id"] === unmatched)).toBe(false);
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
