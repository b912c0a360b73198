import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { BID_STATUSES, JobSchema } from "../../src/marketplace/schemas.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../src/pool.ts";
import { api, placeBidOk, postJob, registerAgent } from "../support/marketplace-requests.ts";
import { waitFor } from "../support/wait.ts";

const job = (fields: Record<string, unknown>) =>
  JobSchema.safeParse({ job_id: "job_1", title: "t", status: "disputed", ...fields });

describe("a job's result", () => {
  it("keeps a job whose result is the service's {error} alone (a failed hosted execution)", () => {
    const parsed = job({ result: { error: "LLM call failed" } });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.result).toMatchObject({ success: false, error: "LLM call failed" });
  });

  it("reads a result without success or error (hosted work: the LLM's JSON) as a success", () => {
    const parsed = job({ status: "pending_review", result: { summary: "fine", findings: [] } });
    expect(parsed.data?.result).toMatchObject({ success: true, output: "", summary: "fine" });
  });

  it("keeps a submitted result's own success", () => {
    const parsed = job({ result: { success: false, output: "x", error: "boom" } });
    expect(parsed.data?.result?.success).toBe(false);
    expect(job({ result: { success: true, output: "x" } }).data?.result?.success).toBe(true);
  });
});

describe("a bid the stale-agent sweep cancelled", () => {
  let market: RunningMarketplace;
  let t = Date.parse("2030-01-01T00:00:00Z");
  const pool = createSharedPool({ connections: 2 });
  beforeAll(async () => {
    market = await startMarketplace({
      port: 0,
      dbPath: ":memory:",
      now: () => new Date(t),
      staleAgentSeconds: 300,
      staleSweepSeconds: 0.02,
    });
  });
  afterAll(async () => {
    await market?.close();
    await pool.close();
  });

  it("has a status of the bid vocabulary, and its reason", async () => {
    const a = api(market.url);
    const jobId = await postJob(a);
    const agentId = await registerAgent(a);
    await placeBidOk(a, jobId, { agent_id: agentId });
    t += 301_000;
    const client = new MarketplaceClient({ baseUrl: market.url, dispatcher: pool, maxAttempts: 1 });
    const bid = await waitFor("the bid cancelled by the sweep", async () => {
      const [only] = await client.listBids(jobId);
      return only?.status === "cancelled" ? only : undefined;
    });
    expect(BID_STATUSES).toContain(bid.status);
    expect(bid.cancelled_reason).toBe("agent_offline");
  });
});
