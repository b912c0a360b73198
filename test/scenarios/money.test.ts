import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/env.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { legacyDerivedWallet } from "../../src/wallet/legacy.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { award, counterSum, waitForBid } from "../support/market-helpers.ts";
import { newAccount, POSTER, registerAgent } from "../support/marketplace-requests.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, startHarness } from "../support/runner-harness.ts";
import { SECRET_TEST_MNEMONIC } from "../support/test-secrets.ts";
import { waitFor } from "../support/wait.ts";
import { signIn } from "../support/wallet-auth.ts";

/**
 * The money side of the runner against the embedded marketplace: wallets, sign-in,
 * negotiation, floors, spend caps, earnings, and the migration of keyless agents.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Offer {
  price_usd: number;
  by: string;
  message: string;
}
interface RawBid {
  bid_id: string;
  agent_id: string;
  status: string;
  price_usd: number;
  final_price_usd: number | null;
  counter_offers: Offer[];
}

async function money(env: Record<string, string> = {}): Promise<Harness> {
  h = await startHarness({ env: { AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC, ...env } });
  return h;
}

/** Posts a job as POSTER (a key the test holds, so it can counter). */
async function postJob(harness: Harness, fields: Record<string, unknown> = {}): Promise<string> {
  const res = await rawApi(harness.marketplace.url).req("POST", "/api/jobs", {
    ...SCHEMA_JOB,
    poster_id: "money_poster",
    poster_wallet: POSTER.address,
    ...fields,
  });
  if (res.status !== 200) throw new Error(`post: ${res.status} ${res.text}`);
  return (res.json as { job_id: string }).job_id;
}

async function bidOf(harness: Harness, jobId: string, bidId: string): Promise<RawBid> {
  const res = await rawApi(harness.marketplace.url).req("GET", `/api/jobs/${jobId}/bids`);
  const bid = (res.json as { bids: RawBid[] }).bids.find((b) => b.bid_id === bidId);
  if (!bid) throw new Error(`no bid ${bidId}`);
  return bid;
}

async function counter(harness: Harness, bidId: string, price: number): Promise<void> {
  const a = rawApi(harness.marketplace.url);
  const res = await a.req(
    "POST",
    `/api/bids/${bidId}/counter`,
    { new_price: price, message: "How about this?", by: "poster" },
    await signIn(a, POSTER),
  );
  if (res.status !== 200) throw new Error(`counter: ${res.status} ${res.text}`);
}

const schemaWorker = (runner: Runner) =>
  runner.workers.find((w) => w.spec.config.agent_type === "schema_architect")!;

async function running(runner: Runner): Promise<void> {
  await waitFor("all agents running", () =>
    runner.workers.length === 3 && runner.workers.every((w) => w.state === "running")
      ? true
      : undefined,
  );
}

describe("wallets and sign-in", () => {
  it("gives each agent its own key, signs in once per wallet, and heartbeats with the token", async () => {
    const harness = await money();
    const runner = await harness.startRunner();
    await running(runner);
    const wallets = runner.workers.map((w) => w.wallet!);
    expect(new Set(wallets.map((w) => w.address)).size).toBe(3);
    expect(wallets.every((w) => w.holdsKey)).toBe(true);
    expect(new Set(wallets.map((w) => w.index))).toEqual(new Set([0, 1, 2]));
    for (const worker of runner.workers) {
      const agent = await rawApi(harness.marketplace.url).req(
        "GET",
        `/api/agents/${worker.agentId}`,
      );
      expect((agent.json as { wallet_address: string }).wallet_address).toBe(
        worker.wallet!.address,
      );
    }
    await waitFor("three sessions", () =>
      wallets.every((w) => runner.sessions.session(w.address)) ? true : undefined,
    );
    await waitFor("authenticated heartbeats", () =>
      runner.workers.every((w) => w.stats.view.lastHeartbeatOutcome === "available")
        ? true
        : undefined,
    );
    expect(runner.sessions.signIns).toBe(3);
    const status = await runner.snapshot();
    expect(status.agents.map((a) => a.wallet?.holdsKey)).toEqual([true, true, true]);

    // A restart gets the same indexes (and so the same agents) back from the ledger.
    const before = runner.workers.map((w) => [w.key, w.agentId]);
    await runner.stop();
    const again = await harness.startRunner();
    await running(again);
    expect(again.workers.map((w) => [w.key, w.agentId])).toEqual(before);
    expect(harness.logs.text()).not.toContain(SECRET_TEST_MNEMONIC);
  });

  it("a 403 'You don't own this agent' is a configuration error, said once, not retried", async () => {
    const harness = await money();
    const foreign = await registerAgent(rawApi(harness.marketplace.url), {
      name: "Stranger",
      wallet_address: newAccount().address,
      capabilities: { schema_design: 0.9 },
    });
    const file = `${harness.stateDir}/agents.json`;
    await (await import("node:fs/promises")).writeFile(
      file,
      JSON.stringify([
        {
          name: "Stranger",
          agent_type: "schema_architect",
          base_rate_usd: 0.04,
          agent_id: foreign,
        },
      ]),
    );
    const runner = await harness.startRunner({ agentsFile: file });
    const worker = await waitFor("the worker", () => runner.workers[0]);
    await waitFor("the configuration error", () =>
      worker.stats.view.lastError?.includes("configuration error") ? true : undefined,
    );
    // Heartbeats go on without the token.
    await waitFor("an unauthenticated heartbeat", () =>
      worker.stats.view.lastHeartbeatOutcome === "available" ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1200)); // a couple more heartbeats
    const said = harness.logs
      .entries()
      .filter((e) => String(e.msg).startsWith("configuration error"));
    expect(said).toHaveLength(1);
  });

  it("refuses to start against a marketplace elsewhere with no wallet, before any request", async () => {
    let requests = 0;
    const server: Server = createServer((_req, res) => {
      requests++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      h = await startHarness();
      // 0.0.0.0 reaches this machine, but is no loopback address: it counts as elsewhere.
      const error = await h
        .startRunner({ bazaarApiUrl: `http://0.0.0.0:${port}`, walletMnemonic: undefined })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(String((error as Error).message)).toMatch(
        /unrecoverable.*AGENT_WALLET_MNEMONIC.*AGENT_WALLET \(/,
      );
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it("re-registers an agent registered with the keyless derived address, once", async () => {
    const harness = await money();
    const legacyWallet = legacyDerivedWallet("multi_runner", "SchemaArchitect");
    const oldId = await registerAgent(rawApi(harness.marketplace.url), {
      name: "SchemaArchitect",
      owner_id: "multi_runner",
      wallet_address: legacyWallet,
      capabilities: { schema_design: 0.96 },
    });
    const runner = await harness.startRunner();
    await running(runner);
    const worker = schemaWorker(runner);
    expect(worker.agentId).not.toBe(oldId);
    expect(worker.wallet?.holdsKey).toBe(true);
    const old = await rawApi(harness.marketplace.url).req("GET", `/api/agents/${oldId}`);
    await waitFor("the old agent offline", async () =>
      (
        (await rawApi(harness.marketplace.url).req("GET", `/api/agents/${oldId}`)).json as {
          status: string;
        }
      ).status === "offline"
        ? true
        : undefined,
    );
    expect(old.status).toBe(200);
    const told = () =>
      harness.logs.entries().filter((e) => String(e.msg).includes(`${oldId} → ${worker.agentId}`));
    await waitFor("the operator told", () => (told().length === 1 ? true : undefined));
    expect(runner.recentEvents().some((e) => e.kind === "wallet")).toBe(true);
    // Three agents registered anew; the marketplace's agents were listed once for all.
    expect(await counterSum(runner.metrics.marketplaceRequests, { route: "GET /api/agents" })).toBe(
      1,
    );

    await runner.stop();
    const again = await harness.startRunner();
    await running(again);
    expect(schemaWorker(again).agentId).toBe(worker.agentId);
    expect(told()).toHaveLength(1);
  });
});

describe("negotiation", () => {
  it("accepts an offer at or above the floor within a poll, and the timeline shows it", async () => {
    const harness = await money();
    const runner = await harness.startRunner();
    await running(runner);
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, schemaWorker(runner).agentId);
    await counter(harness, bid.bid_id, 0.03);
    const answered = await waitFor("the counter accepted", async () => {
      const b = await bidOf(harness, jobId, bid.bid_id);
      return b.status === "counter_accepted" ? b : undefined;
    });
    expect(answered.final_price_usd).toBe(0.03);
    expect(runner.recentEvents().find((e) => e.kind === "negotiation")?.message).toBe(
      "accepted the counter-offer of $0.03",
    );

    // Won, executed, paid after complete: earnings bid / won / paid.
    await award(harness.marketplace.url, jobId, bid.bid_id);
    await waitFor("the result", async () =>
      (
        (await rawApi(harness.marketplace.url).req("GET", `/api/jobs/${jobId}`)).json as {
          status: string;
        }
      ).status === "completed"
        ? true
        : undefined,
    );
    await waitFor("the result accepted", () =>
      schemaWorker(runner).stats.view.resultsAccepted === 1 ? true : undefined,
    );
    await rawApi(harness.marketplace.url).req(
      "POST",
      `/api/jobs/${jobId}/complete?quality_score=0.6`,
    );
    const earnings = await waitFor("the payment read back", () => {
      const e = schemaWorker(runner).stats.view.earnings;
      return e.paidUsd > 0 ? e : undefined;
    });
    // Won and paid on the bid's original price, as the service pays (not the accepted
    // counter-offer's): quality 0.6 pays half, read back from total_earned_usd.
    expect(earnings).toEqual({
      bidUsd: bid.price_usd,
      wonUsd: bid.price_usd,
      paidUsd: bid.price_usd / 2,
    });
    const metrics = await runner.metrics.registry.getSingleMetricAsString(
      "bazaar_runner_earnings_usd_total",
    );
    expect(metrics).toContain(`stage="paid"} ${bid.price_usd / 2}`);
  });

  it("counters once at the floor, then lets further offers below it lapse, within 5 rounds", async () => {
    const harness = await money();
    const runner = await harness.startRunner();
    await running(runner);
    const worker = schemaWorker(runner);
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, worker.agentId);
    const detail = await rawApi(harness.marketplace.url).req("GET", `/api/jobs/${jobId}`);
    const floor = worker.floorFor(detail.json as Parameters<typeof worker.floorFor>[0]).floorUsd;
    expect(floor).toBeGreaterThan(0.001);

    await counter(harness, bid.bid_id, 0.001);
    const countered = await waitFor("the agent's counter", async () => {
      const b = await bidOf(harness, jobId, bid.bid_id);
      return b.counter_offers.length === 2 ? b : undefined;
    });
    expect(countered.counter_offers[1]).toMatchObject({ by: "agent", price_usd: floor });
    expect(countered.counter_offers[1]?.message).toMatch(/^\$[\d.]+ is the lowest I can do: .*\.$/);

    await counter(harness, bid.bid_id, 0.002);
    await waitFor("the lapse recorded", async () =>
      (await runner.ledger.offerAnswer(bid.bid_id, 2))?.action === "lapse" ? true : undefined,
    );
    await counter(harness, bid.bid_id, 0.0015);
    await counter(harness, bid.bid_id, 0.001); // the fifth counter-offer
    await waitFor("the last offer answered", async () =>
      (await runner.ledger.offerAnswer(bid.bid_id, 4))?.action === "lapse" ? true : undefined,
    );
    const final = await bidOf(harness, jobId, bid.bid_id);
    expect(final.counter_offers.filter((o) => o.by === "agent")).toHaveLength(1);
    expect(final.counter_offers).toHaveLength(5);
    expect(final.status).toBe("counter_offered");
    const actions = runner
      .recentEvents()
      .filter((e) => e.kind === "negotiation")
      .map((e) => e.message.split(/[ :]/)[0]);
    // One counter, then lapses: offer 3 may have been answered on its own before offer 4 came.
    expect(actions[0]).toBe("countered");
    expect(actions.slice(1).length).toBeGreaterThanOrEqual(2);
    expect(actions.slice(1).every((a) => a === "let")).toBe(true);
  });

  it("answers a counter-offer of $10 or more that awaits the poster's approval", async () => {
    const harness = await money();
    const runner = await harness.startRunner();
    await running(runner);
    const jobId = await postJob(harness, { budget_usd: 50 });
    const bid = await waitForBid(harness.marketplace.url, jobId, schemaWorker(runner).agentId);
    await counter(harness, bid.bid_id, 12);
    const accepted = await waitFor("the offer accepted", async () => {
      const b = await bidOf(harness, jobId, bid.bid_id);
      return b.final_price_usd === 12 ? b : undefined;
    });
    expect(accepted.status).toBe("awaiting_approval");
    const a = rawApi(harness.marketplace.url);
    const approved = await a.req(
      "POST",
      `/api/bids/${bid.bid_id}/approve`,
      undefined,
      await signIn(a, POSTER),
    );
    expect((approved.json as { status: string }).status).toBe("counter_accepted");
  });

  it("answers an offer made while it was down, after a restart, and never answers it twice", async () => {
    const harness = await money();
    const first = await harness.startRunner();
    await running(first);
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, schemaWorker(first).agentId);
    await first.stop();

    await counter(harness, bid.bid_id, 0.001);
    const second = await harness.startRunner();
    await running(second);
    await waitFor("the counter after the restart", async () =>
      (await bidOf(harness, jobId, bid.bid_id)).counter_offers.length === 2 ? true : undefined,
    );
    await second.stop();

    const third = await harness.startRunner();
    await running(third);
    // A few polls: the answered offer stays answered.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await bidOf(harness, jobId, bid.bid_id)).counter_offers).toHaveLength(2);
    expect((await third.ledger.offerAnswer(bid.bid_id, 0))?.action).toBe("counter");
    expect(harness.logs.entries().filter((e) => e.msg === "counter-offer answered")).toHaveLength(
      1,
    );
  });
});

describe("floors and spend caps", () => {
  it("does not bid when 85 % of a tiny budget is below the floor, and says why", async () => {
    const harness = await money();
    const runner = await harness.startRunner();
    await running(runner);
    const jobId = await postJob(harness, { budget_usd: 0.002 });
    const decision = await waitFor("the decision", () =>
      runner.decisions(jobId).find((d) => d.agent === "SchemaArchitect"),
    );
    expect(decision).toMatchObject({ outcome: "skip", reason: "below_floor" });
    expect(decision.detail).toMatch(/below the price floor of \$0\.\d+/);
    const bids = await rawApi(harness.marketplace.url).req("GET", `/api/jobs/${jobId}/bids`);
    expect((bids.json as { bids: unknown[] }).bids).toHaveLength(0);
  });

  it("stops bidding at the daily cap, and a restart does not reset it", async () => {
    const harness = await money({ AGENT_DAILY_SPEND_USD: "0.000000001" });
    const first = await harness.startRunner();
    await running(first);
    const jobId = await postJob(harness);
    const bid = await waitForBid(harness.marketplace.url, jobId, schemaWorker(first).agentId);
    await award(harness.marketplace.url, jobId, bid.bid_id);
    await waitFor("the execution's cost counted", async () =>
      (await first.ledger.spendOn(new Date().toISOString().slice(0, 10), schemaWorker(first).key)) >
      0
        ? true
        : undefined,
    );
    await first.stop();

    const second = await harness.startRunner();
    await running(second);
    const next = await postJob(harness);
    const decision = await waitFor("the decision", () =>
      second.decisions(next).find((d) => d.agent === "SchemaArchitect"),
    );
    expect(decision).toMatchObject({ outcome: "skip", reason: "spend_cap" });
    expect(decision.detail).toMatch(/AGENT_DAILY_SPEND_USD/);
    const status = await second.snapshot();
    expect(status.agents.find((a) => a.name === "SchemaArchitect")?.spendCapReached).toBe(true);
    // It still heartbeats.
    const beat = schemaWorker(second).stats.view.lastHeartbeatAt;
    await waitFor("another heartbeat", () =>
      schemaWorker(second).stats.view.lastHeartbeatAt !== beat ? true : undefined,
    );
  });
});
