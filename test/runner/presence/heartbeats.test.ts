import { describe, expect, it, onTestFinished } from "vitest";
import { MarketplaceError } from "../../../src/marketplace/errors.ts";
import { SpendCaps } from "../../../src/runner/bidding/spend-caps.ts";
import { MarketplaceHealth } from "../../../src/runner/feed/marketplace-health.ts";
import type { WorkerAgent } from "../../../src/runner/fleet/worker-deps.ts";
import { HeartbeatClock } from "../../../src/runner/presence/heartbeat-clock.ts";
import { Heartbeats } from "../../../src/runner/presence/heartbeats.ts";
import { counterSum } from "../../support/market-helpers.ts";
import { newWallet, obj, registerAgent } from "../../support/marketplace-requests.ts";
import {
  agentConfig,
  spec,
  startWorkerMarket,
  telemetryFixture,
  type WorkerMarket,
} from "../../support/runner-units.ts";
import { waitFor } from "../../support/wait.ts";

const outage = () =>
  new MarketplaceError("connect ECONNREFUSED", {
    kind: "network",
    route: "GET /api/jobs",
    attempts: 1,
  });

/** An agent registered under its own derived wallet, and its heartbeats. */
async function heartbeating(
  market: WorkerMarket,
  options: {
    name?: string;
    /** Registered under a wallet the runner does not hold. */
    foreignWallet?: boolean;
    health?: MarketplaceHealth;
    intervalMs?: number;
    load?: { inFlight: number; maxConcurrent: number };
  } = {},
) {
  const config = agentConfig({ name: options.name ?? "CodeReviewer" });
  const wallet = await market.wallets.resolve(`file:${config.name}`, config);
  const agentId = await registerAgent(market.api, {
    name: config.name,
    wallet_address: options.foreignWallet ? newWallet() : wallet.address,
  });
  const agent: WorkerAgent = { spec: spec(config), agentId, wallet, selfRegistered: true };
  const fixture = telemetryFixture(config);
  const lost: string[] = [];
  const load = options.load ?? { inFlight: 0, maxConcurrent: 2 };
  const clock = new HeartbeatClock({ tickMs: 20 });
  onTestFinished(() => clock.close());
  const heartbeats = new Heartbeats(agent, {
    deps: {
      heartbeatClock: clock,
      client: market.client,
      sessions: market.sessions,
      wallets: market.wallets,
      health: options.health,
      spendCaps: new SpendCaps(market.ledger, { agentCapUsd: 0.5, runnerCapUsd: undefined }),
      heartbeatIntervalMs: options.intervalMs ?? 3_600_000,
    },
    telemetry: fixture.telemetry,
    load: () => load,
    unknownAgent: async (id) => {
      lost.push(id);
    },
    random: () => 0,
  });
  const marketView = async () =>
    obj((await market.api.req("GET", `/api/agents/${agent.agentId}`)).json);
  const sent = () => counterSum(fixture.metrics.heartbeats, { outcome: "ok" });
  return {
    agent,
    heartbeats,
    lost,
    load,
    marketView,
    sent,
    stats: fixture.telemetry.stats,
    ...fixture,
  };
}

describe("Heartbeats.send", () => {
  it("reports status and free capacity signed in as the agent's wallet, busy at the limit", async () => {
    const m = await startWorkerMarket("heartbeats-send-");
    const a = await heartbeating(m, { load: { inFlight: 1, maxConcurrent: 2 } });
    await a.heartbeats.send();
    expect(await a.marketView()).toMatchObject({
      status: "available",
      current_capacity: 1,
      heartbeat_metadata: {
        runner: "bazaar-runner",
        agent_type: "code_reviewer",
        jobs_in_flight: 1,
      },
    });
    expect(m.sessions.signIns).toBe(1);
    a.load.inFlight = 2;
    await a.heartbeats.send();
    expect(await a.marketView()).toMatchObject({ status: "busy", current_capacity: 0 });
    expect(a.stats.view.lastHeartbeatOutcome).toBe("busy");
    expect(m.sessions.signIns).toBe(1);
  });

  it("shows a reached spend cap after a heartbeat, even with nothing to bid on", async () => {
    const m = await startWorkerMarket("heartbeats-cap-");
    const a = await heartbeating(m);
    await m.ledger.addSpend(new Date().toISOString().slice(0, 10), a.agent.spec.key, 0.6);
    await a.heartbeats.send();
    await waitFor("the reached cap shown", () => a.stats.view.spendCapReached);
  });

  it("a wallet that does not own the agent: a configuration error said once, then heartbeats go unsigned", async () => {
    const m = await startWorkerMarket("heartbeats-owner-");
    const a = await heartbeating(m, { foreignWallet: true });
    await a.heartbeats.send();
    expect(a.heartbeats.ownershipRefused).toBe(true);
    expect(a.stats.view.lastError).toMatch(/^configuration error: .* does not own agent/);
    expect(a.stats.view.lastHeartbeatOutcome).toBeNull();
    await a.heartbeats.send();
    await a.heartbeats.send();
    expect(a.stats.view.lastHeartbeatOutcome).toBe("available");
    expect(a.stats.view.errors).toBe(1);
    expect(await a.sent()).toBe(2);
  });

  it("going offline waits for a heartbeat on its way, so offline is the last word", async () => {
    const m = await startWorkerMarket("heartbeats-last-");
    const a = await heartbeating(m);
    await a.heartbeats.send(); // signed in: the next heartbeat goes out at once
    m.market.setFaults({
      rules: [{ route: "POST /api/agents/:id/heartbeat", fault: "delay", delayMs: 400, times: 1 }],
    });
    const regular = a.heartbeats.send(); // held 400 ms by the marketplace
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.heartbeats.send("offline");
    await regular;
    expect((await a.marketView()).status).toBe("offline");
  });

  it("an agent the marketplace does not know asks for re-registration, unless going offline", async () => {
    const m = await startWorkerMarket("heartbeats-404-");
    const a = await heartbeating(m);
    a.agent.agentId = "agent_gone0000";
    await a.heartbeats.send("offline");
    expect(a.lost).toEqual([]);
    await a.heartbeats.send();
    expect(a.lost).toEqual(["agent_gone0000"]);
    expect(a.stats.view.lastHeartbeatOutcome).toMatch(/^error: /);
    // Deleted behind the runner's back (or a database reset): said once, however many 404s.
    await a.heartbeats.send();
    expect(await counterSum(a.metrics.agentTampered, { field: "deleted" })).toBe(1);
  });

  it("before the first heartbeat of an agent this start registered, looks once for somebody else's", async () => {
    const m = await startWorkerMarket("heartbeats-stamp-");
    const a = await heartbeating(m);
    const stamp = String((await a.marketView()).last_active);
    a.agent.registrationStamp = stamp;
    await a.heartbeats.send();
    // Looked at once: the next heartbeats go without it.
    expect(a.agent.registrationStamp).toBeUndefined();
    expect(await a.sent()).toBe(1);
  });

  it("sends nothing while the marketplace is down, except going offline", async () => {
    const m = await startWorkerMarket("heartbeats-down-");
    const health = new MarketplaceHealth({ maxProbeDelayMs: 1000, random: () => 0 });
    const a = await heartbeating(m, { health });
    health.failed(outage());
    await a.heartbeats.send();
    expect(await a.sent()).toBe(0);
    await a.heartbeats.send("offline");
    expect((await a.marketView()).status).toBe("offline");
    expect(health.up).toBe(true); // the answer was a sign of life
  });
});

describe("Heartbeats timer", () => {
  it("heartbeats once started, again as soon as an outage ends, and not after close()", async () => {
    const m = await startWorkerMarket("heartbeats-timer-");
    const health = new MarketplaceHealth({ maxProbeDelayMs: 1000, random: () => 0 });
    // An hour's interval: every heartbeat after the first comes from a recovery.
    const a = await heartbeating(m, { health });
    const b = await heartbeating(m, { health, name: "Other" });
    a.heartbeats.start();
    b.heartbeats.start();
    await waitFor(
      "the first heartbeats",
      async () => (await a.sent()) === 1 && (await b.sent()) === 1,
    );
    health.failed(outage());
    health.ok();
    await waitFor(
      "heartbeats after the outage",
      async () => (await a.sent()) === 2 && (await b.sent()) === 2,
    );

    a.heartbeats.close();
    health.failed(outage());
    health.ok();
    await waitFor("the open agent's heartbeat", async () => (await b.sent()) === 3);
    await b.heartbeats.send(); // one more round trip for a stray heartbeat to land
    expect(await a.sent()).toBe(2);
    b.heartbeats.close();
  });
});
