import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMarketplaceApp, type MarketplaceApp } from "../../src/marketplace-server/index.ts";
import { newWallet, POSTER_WALLET } from "../support/marketplace-requests.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The stale-agent sweep (api.py `cleanup_stale_agents_loop`): agents `available` or
 * `busy` silent for longer than the threshold go offline and their `pending` bids are
 * cancelled. The marketplace's clock is a test's; the sweep runs every 20 ms.
 */

let market: MarketplaceApp;
let t = Date.parse("2030-01-01T00:00:00Z");

beforeEach(async () => {
  market = await createMarketplaceApp({
    dbPath: ":memory:",
    now: () => new Date(t),
    staleAgentSeconds: 300,
    staleSweepSeconds: 0.02,
  });
});
afterEach(() => market.close());

async function call(method: "GET" | "POST" | "PUT", url: string, body?: unknown) {
  const res = await market.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return res.json() as Record<string, unknown>;
}

async function register(): Promise<string> {
  const res = await call("POST", "/api/agents/register", {
    name: "A",
    description: "d",
    owner_id: `owner_${newWallet()}`,
    wallet_address: newWallet(),
    capabilities: { analysis: 0.9 },
  });
  return res.agent_id as string;
}

async function bid(jobId: string, agentId: string, price: number): Promise<string> {
  const res = await call(
    "POST",
    `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=${price}&estimated_quality=0.9&estimated_time_seconds=60&approach_summary=x`,
  );
  return res.bid_id as string;
}

const agentStatus = async (id: string) => (await call("GET", `/api/agents/${id}`)).status;

describe("the stale-agent sweep", () => {
  it("takes silent agents offline and cancels their pending bids; fresh agents and other bids stay", async () => {
    const silent = await register();
    const fresh = await register();
    const job = await call("POST", "/api/jobs", {
      title: "T",
      description: "D",
      required_capabilities: ["analysis"],
      budget_usd: 50,
      poster_id: "p",
      poster_wallet: POSTER_WALLET,
    });
    const jobId = job.job_id as string;
    const pending = await bid(jobId, silent, 1);
    const freshBid = await bid(jobId, fresh, 2);
    const approval = await bid(jobId, silent, 12); // awaiting_approval: not pending

    t += 200_000;
    await call("POST", `/api/agents/${fresh}/heartbeat`, { status: "available" });
    t += 101_000; // the silent agent: 301 s; the fresh one: 101 s
    await waitFor(
      "the silent agent offline",
      async () => (await agentStatus(silent)) === "offline",
    );

    const bids = (await call("GET", `/api/jobs/${jobId}/bids`)).bids as Record<string, unknown>[];
    const byId = new Map(bids.map((b) => [b.bid_id, b]));
    expect(byId.get(pending)).toMatchObject({
      status: "cancelled",
      cancelled_reason: "agent_offline",
    });
    expect(byId.get(approval)).toMatchObject({ status: "awaiting_approval" });
    expect(byId.get(freshBid)).toMatchObject({ status: "pending" });
    expect(await agentStatus(fresh)).toBe("available");

    // A heartbeat brings the agent back; its cancelled bid stays cancelled.
    await call("POST", `/api/agents/${silent}/heartbeat`, { status: "available" });
    expect(await agentStatus(silent)).toBe("available");
    const after = (await call("GET", `/api/jobs/${jobId}/bids`)).bids as Record<string, unknown>[];
    expect(after.find((b) => b.bid_id === pending)?.status).toBe("cancelled");
  });

  it("a busy agent goes offline too; one already offline is left alone", async () => {
    const busy = await register();
    const offline = await register();
    await call("PUT", `/api/agents/${busy}`, { status: "busy" });
    await call("PUT", `/api/agents/${offline}`, { status: "offline" });
    const lastActive = (await call("GET", `/api/agents/${offline}`)).last_active;
    t += 600_000;
    await waitFor("the busy agent offline", async () => (await agentStatus(busy)) === "offline");
    expect(await call("GET", `/api/agents/${offline}`)).toMatchObject({
      status: "offline",
      last_active: lastActive,
    });
  });

  it("is off with staleSweepSeconds 0", async () => {
    const quiet = await createMarketplaceApp({
      dbPath: ":memory:",
      now: () => new Date(t),
      staleSweepSeconds: 0,
    });
    try {
      await quiet.app.inject({
        method: "POST",
        url: "/api/agents/register",
        payload: { name: "A", description: "d", owner_id: "o", wallet_address: newWallet() },
      });
      t += 3_600_000;
      // Five periods of the other tests' sweep pass; nothing sweeps here.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const agents = (await quiet.app.inject({ method: "GET", url: "/api/agents" })).json() as {
        agents: { status: string }[];
      };
      expect(agents.agents.map((a) => a.status)).toEqual(["available"]);
    } finally {
      await quiet.close();
    }
  });
});
