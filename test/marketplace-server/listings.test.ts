import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMarketplaceApp, type MarketplaceApp } from "../../src/marketplace-server/index.ts";
import { newWallet, POSTER_WALLET } from "../support/marketplace-requests.ts";

/**
 * What the service's listings hold (db.py `get_all_jobs(limit=100)` sorted by created_at,
 * `get_all_agents(limit=100)` by rating_avg then jobs_completed): the newest 100 jobs of
 * the whole marketplace, filtered afterwards, and the 100 best-rated agents.
 */

let market: MarketplaceApp;
/** The marketplace's clock: each job gets its own created_at. */
let t = Date.parse("2030-01-01T00:00:00Z");

beforeEach(async () => {
  market = await createMarketplaceApp({ dbPath: ":memory:", now: () => new Date(t) });
});
afterEach(() => market.close());

async function call(method: "GET" | "POST", url: string, body?: unknown) {
  const res = await market.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: res.statusCode, json: res.json() as Record<string, unknown> };
}

async function register(name: string): Promise<string> {
  const res = await call("POST", "/api/agents/register", {
    name,
    description: "d",
    owner_id: `owner_${name}`,
    wallet_address: newWallet(),
    capabilities: { analysis: 0.9 },
  });
  return res.json.agent_id as string;
}

async function post(title: string): Promise<string> {
  t += 1000;
  const res = await call("POST", "/api/jobs", {
    title,
    description: "d",
    required_capabilities: ["analysis"],
    budget_usd: 5,
    poster_id: "poster_1",
    poster_wallet: POSTER_WALLET,
  });
  return res.json.job_id as string;
}

const jobIds = (page: Record<string, unknown>) =>
  (page.jobs as { job_id: string }[]).map((j) => j.job_id);

describe("job listings hold the newest 100 jobs, then filter", () => {
  it("an assigned job behind 100 newer jobs is no longer listed anywhere, but still found by id", async () => {
    const agentId = await register("worker");
    const old = await post("the old one");
    const bid = await call(
      "POST",
      `/api/jobs/${old}/bids?agent_id=${agentId}&price_usd=1&estimated_quality=0.9&estimated_time_seconds=60&approach_summary=x`,
    );
    await call("POST", `/api/jobs/${old}/select-bid/${bid.json.bid_id as string}`);
    const before = await call("GET", `/api/jobs?status=assigned&assigned_agent_id=${agentId}`);
    expect(jobIds(before.json)).toEqual([old]);

    for (let i = 0; i < 100; i++) await post(`newer ${i}`);

    const all = await call("GET", "/api/jobs");
    expect(all.json.count).toBe(100);
    expect(jobIds(all.json)).not.toContain(old);
    expect((await call("GET", "/api/jobs?status=assigned")).json).toEqual({ jobs: [], count: 0 });
    expect((await call("GET", `/api/agents/${agentId}/jobs`)).json).toEqual({ jobs: [], count: 0 });
    expect((await call("GET", `/api/jobs/${old}`)).json.status).toBe("assigned");
  });

  it("newest is by created_at, not by insertion", async () => {
    await post("first");
    const late = await post("posted last, dated first");
    market.store.db
      .prepare("UPDATE jobs SET created_at = '2020-01-01T00:00:00.000000' WHERE job_id = ?")
      .run(late);
    for (let i = 0; i < 99; i++) await post(`filler ${i}`);
    const listed = jobIds((await call("GET", "/api/jobs")).json);
    expect(listed).toHaveLength(100);
    expect(listed).not.toContain(late);
  });

  it("the heartbeat's pending_jobs are the posted jobs among the newest 100, at most 5", async () => {
    const agentId = await register("beater");
    const old = await post("posted, but old");
    for (let i = 0; i < 100; i++) await post(`newer ${i}`);
    // The 100 newer jobs are no longer posted; the old one still is.
    market.store.db.prepare("UPDATE jobs SET status = 'cancelled' WHERE job_id != ?").run(old);
    const beat = await call("POST", `/api/agents/${agentId}/heartbeat`, { status: "available" });
    expect(beat.json).toMatchObject({ pending_jobs_count: 0, pending_jobs: [] });

    market.store.db.prepare("UPDATE jobs SET status = 'posted'").run();
    const busy = await call("POST", `/api/agents/${agentId}/heartbeat`, { status: "available" });
    expect(busy.json.pending_jobs_count).toBe(100);
    expect(busy.json.pending_jobs as unknown[]).toHaveLength(5);
  });
});

describe("GET /api/agents", () => {
  it("lists the first 100 agents by rating_avg, then jobs_completed, highest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) ids.push(await register(`agent${i}`));
    const [rated, busy, last] = [ids[50] ?? "", ids[70] ?? "", ids[100] ?? ""];
    const set = market.store.db.prepare(
      "UPDATE agents SET rating_avg = ?, jobs_completed = ? WHERE agent_id = ?",
    );
    set.run(4.5, 0, rated);
    set.run(0, 7, busy);
    set.run(3, 2, last);
    const page = (await call("GET", "/api/agents")).json;
    const listed = (page.agents as { agent_id: string }[]).map((a) => a.agent_id);
    expect(page.count).toBe(100);
    expect(listed.slice(0, 3)).toEqual([rated, last, busy]);
    // Ties keep registration order; the 101st (unrated, nothing completed) is left out.
    expect(listed.slice(3, 5)).toEqual([ids[0], ids[1]]);
    expect(listed).not.toContain(ids[99]);
  });
});
