import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NegotiationApi } from "../../src/marketplace/negotiation-api.ts";
import { type ClientMarket, startClientMarket } from "../support/client-market.ts";
import { api, placeBidOk, postJob, registerAgent } from "../support/marketplace-requests.ts";

/** The negotiation and sign-off calls against the embedded marketplace, which answers as the service does. */

let cm: ClientMarket;
let negotiation: NegotiationApi;
beforeAll(async () => {
  cm = await startClientMarket("negotiation-api-");
  negotiation = new NegotiationApi(cm.client.transport);
});
afterAll(async () => {
  await cm?.close();
});

describe("NegotiationApi", () => {
  it("reads the sign-off's quality decision as the service's object, and what was paid", async () => {
    const a = api(cm.market.url);
    const jobId = await postJob(a, { budget_usd: 3 });
    const agentId = await registerAgent(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 2 });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "done",
      executed_by: agentId,
    });
    const done = await negotiation.complete(jobId, 0.5);
    expect(done).toMatchObject({
      job_id: jobId,
      quality_score: 0.5,
      quality_decision: {
        passed: false,
        action: "partial_payment",
        threshold: 0.7,
        payment_ratio: 0.5,
        requires_human_approval: true,
      },
      agreed_price: 2,
      payment_status: "partial",
      amount_paid: 1,
    });
    expect(done.quality_decision?.message).toMatch(/partial payment/);
    expect(done.txn_id).toMatch(/^txn_/);
  });

  it("lists the bids awaiting approval under pending_approvals", async () => {
    const a = api(cm.market.url);
    const jobId = await postJob(a, { budget_usd: 50 });
    const agentId = await registerAgent(a);
    // A bid of $10 or more awaits the poster's approval.
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 12 });
    const pending = await negotiation.pendingApprovals();
    expect(pending.pending_approvals).toContainEqual(
      expect.objectContaining({ bid_id: bidId, job_id: jobId }),
    );
    expect(pending.count).toBe(pending.pending_approvals.length);
    // The key the client used to read (`approvals`, defaulted to []) said none were pending.
    expect(pending).not.toHaveProperty("approvals");
  });
});
