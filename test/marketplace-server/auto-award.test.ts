import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { AutoAwarder } from "../../src/marketplace-server/auto-award.ts";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { MarketplaceRules } from "../../src/marketplace-server/rules.ts";
import { MarketplaceStore } from "../../src/marketplace-server/store.ts";
import {
  type Api,
  api,
  obj,
  placeBidOk,
  postJob,
  registerAgent,
  waitFor,
} from "../support/marketplace-requests.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "marketplace-award-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function jobDoc(a: Api, jobId: string): Promise<Record<string, unknown>> {
  return obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
}

function waitAssigned(a: Api, jobId: string): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const doc = await jobDoc(a, jobId);
    return doc.status === "assigned" ? doc : undefined;
  });
}

describe("auto-award", () => {
  it("awards the bid with the best confidence-to-price ratio after N seconds", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0, autoAwardSeconds: 1 });
    try {
      const a = api(m.url);
      const idle = await postJob(a, { title: "nobody bids" });
      const jobId = await postJob(a, { budget_usd: 5 });
      const agents = [await registerAgent(a), await registerAgent(a), await registerAgent(a)];
      await placeBidOk(a, jobId, { agent_id: agents[0]!, price_usd: 1, estimated_quality: 0.5 });
      await placeBidOk(a, jobId, { agent_id: agents[1]!, price_usd: 2, estimated_quality: 0.9 });
      const best = await placeBidOk(a, jobId, {
        agent_id: agents[2]!,
        price_usd: 0.5,
        estimated_quality: 0.4,
      });

      const doc = await waitAssigned(a, jobId);
      expect(doc).toMatchObject({ winning_bid_id: best, assigned_agent_id: agents[2] });
      const statuses = (doc.bids as Record<string, unknown>[]).map((b) => b.status);
      expect(statuses).toEqual(["rejected", "rejected", "accepted"]);
      expect(obj((await a.req("GET", `/api/agents/${agents[2]}`)).json).status).toBe("busy");
      expect((await jobDoc(a, idle)).status).toBe("posted");
    } finally {
      await m.close();
    }
  });

  it("leaves a job alone that the poster awarded first", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0, autoAwardSeconds: 1 });
    try {
      const a = api(m.url);
      const jobId = await postJob(a);
      const rival = await registerAgent(a);
      const chosenAgent = await registerAgent(a);
      await placeBidOk(a, jobId, { agent_id: rival, price_usd: 0.1 });
      const chosen = await placeBidOk(a, jobId, { agent_id: chosenAgent, price_usd: 4 });
      // The poster picks the worse-ratio bid right away, well before the timer is due.
      expect((await a.req("POST", `/api/jobs/${jobId}/select-bid/${chosen}`)).status).toBe(200);
      const second = await postJob(a);
      await placeBidOk(a, second, { agent_id: await registerAgent(a) });
      // Once the later job is auto-awarded, the earlier job's timer has fired too.
      await waitAssigned(a, second);
      expect((await jobDoc(a, jobId)).winning_bid_id).toBe(chosen);
    } finally {
      await m.close();
    }
  });

  it("re-arms after a restart for jobs with bids and no winner", async () => {
    const dbPath = join(dir, "market.db");
    const first = await startMarketplace({ dbPath, port: 0 });
    const a = api(first.url);
    const jobId = await postJob(a);
    const agentId = await registerAgent(a);
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId });
    await first.close();

    const second = await startMarketplace({ dbPath, port: 0, autoAwardSeconds: 1 });
    try {
      const b = api(second.url);
      const doc = await waitAssigned(b, jobId);
      expect(doc.winning_bid_id).toBe(bidId);
    } finally {
      await second.close();
    }
  });

  it("clears its timers on close", () => {
    const store = new MarketplaceStore(":memory:");
    const rules = new MarketplaceRules(store, {
      registrationCooldownSeconds: 0,
      now: () => new Date(),
    });
    const awarder = new AutoAwarder(rules, 3600, silentLogger(), () => new Date());
    awarder.schedule("job_00000001", new Date());
    awarder.schedule("job_00000002", new Date());
    expect(awarder.pending.sort()).toEqual(["job_00000001", "job_00000002"]);
    awarder.close();
    expect(awarder.pending).toEqual([]);
    awarder.schedule("job_00000003", new Date());
    expect(awarder.pending).toEqual([]);
    store.close();
  });
});
