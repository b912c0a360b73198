import { describe, expect, it, onTestFinished } from "vitest";
import { createLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import { createSharedPool } from "../../../src/pool.ts";
import { startAgent } from "../../../src/runner/fleet/agent-startup.ts";
import { Tenure } from "../../../src/runner/fleet/tenure.ts";
import type { WorkerAgent } from "../../../src/runner/fleet/worker-deps.ts";
import { foreignSinceRegistration } from "../../../src/runner/presence/foreign-heartbeat.ts";
import { AgentRegistration } from "../../../src/runner/presence/registration.ts";
import { Registrar, type Registration } from "../../../src/runner/presence/registration-queue.ts";
import { KeylessAgents } from "../../../src/runner/presence/wallet-migration.ts";
import { obj, registerAgent } from "../../support/marketplace-requests.ts";
import { LogCapture } from "../../support/runner-harness.ts";
import {
  agentConfig,
  spec,
  startWorkerMarket,
  telemetryFixture,
  type WorkerMarket,
} from "../../support/runner-units.ts";
import { waitFor } from "../../support/wait.ts";

const WEBHOOK = "http://127.0.0.1:9/webhooks/agentbazaar";

/** One agent's start-up against the market (or `client`), with what it told the operator. */
function starting(
  market: WorkerMarket,
  options: {
    agentId?: string;
    name?: string;
    webhookUrl?: string;
    tenure?: Tenure;
    checkForeignHeartbeats?: boolean;
    client?: MarketplaceClient;
  } = {},
) {
  const config = agentConfig({ name: options.name ?? "CodeReviewer", agent_id: options.agentId });
  const agent: WorkerAgent = {
    spec: spec(config),
    agentId: config.agent_id,
    wallet: undefined,
    selfRegistered: false,
  };
  const logs = new LogCapture();
  const fixture = telemetryFixture(
    config,
    createLogger({ level: "debug", destination: logs, pretty: false }),
  );
  const client = options.client ?? market.client;
  const lifetime = new AbortController();
  const written: Registration[] = [];
  const abandoned: string[] = [];
  const deps = {
    client,
    ledger: market.ledger,
    wallets: market.wallets,
    sessions: market.sessions,
    registrar: new Registrar(client, "unit_owner", "test-model", options.webhookUrl),
    onRegistered: async (_spec: unknown, registration: Registration) => {
      written.push(registration);
    },
    webhookUrl: options.webhookUrl,
    checkForeignHeartbeats: options.checkForeignHeartbeats,
    heartbeatIntervalMs: 60_000,
    keyless: new KeylessAgents(client),
  };
  const registration = new AgentRegistration(agent, {
    deps,
    telemetry: fixture.telemetry,
    lifetime: lifetime.signal,
  });
  const started = startAgent(agent, {
    deps,
    telemetry: fixture.telemetry,
    registration,
    tenure: options.tenure,
    lifetime: lifetime.signal,
    abandon: (reason) => {
      abandoned.push(reason);
      lifetime.abort(new Error("lease lost")); // as the worker does
    },
  });
  return { agent, started, lifetime, written, abandoned, logs, ...fixture };
}

/** An agent registered earlier under the wallet the runner derives for `name`. */
async function registeredBefore(market: WorkerMarket, name: string): Promise<string> {
  const config = agentConfig({ name });
  const wallet = await market.wallets.resolve(`file:${config.name}`, config);
  return registerAgent(market.api, { name, wallet_address: wallet.address });
}

const agentView = async (market: WorkerMarket, agentId: string) =>
  obj((await market.api.req("GET", `/api/agents/${agentId}`)).json);

describe("startAgent", () => {
  it("registers an agent without agent_id under its own key and writes the id back", async () => {
    const m = await startWorkerMarket("startup-register-");
    const s = starting(m);
    const agentId = await s.started;
    expect(agentId).toBeDefined();
    expect(s.agent).toMatchObject({ agentId, selfRegistered: true, wallet: { holdsKey: true } });
    expect(s.written).toEqual([{ agentId, walletAddress: s.agent.wallet?.address }]);
    expect(await agentView(m, agentId!)).toMatchObject({
      wallet_address: s.agent.wallet?.address,
      owner_id: "unit_owner",
      execution_mode: "self_hosted",
    });
  });

  it("points an agent registered before at the webhook, signed in, and restores its totals", async () => {
    const m = await startWorkerMarket("startup-webhook-");
    const before = await registeredBefore(m, "CodeReviewer");
    await m.ledger.recordWon(before, "job_earlier01");
    const s = starting(m, { agentId: before, webhookUrl: WEBHOOK });
    expect(await s.started).toBe(before);
    expect(s.agent.selfRegistered).toBe(false);
    expect(s.written).toEqual([]);
    expect((await agentView(m, before)).webhook_url).toBe(WEBHOOK);
    expect(m.sessions.signIns).toBe(1);
    expect(s.telemetry.stats.view.bidsWon).toBe(1);
  });

  it("without leases: warns when someone else heartbeated the agent within the interval", async () => {
    const m = await startWorkerMarket("startup-foreign-");
    const busy = await registeredBefore(m, "Busy");
    const idle = await registeredBefore(m, "Idle");
    const beat = await m.api.req("POST", `/api/agents/${busy}/heartbeat`, {
      status: "available",
      current_capacity: 1,
    });
    expect(beat.status).toBe(200);
    const warned = (s: ReturnType<typeof starting>) =>
      s.logs.text().includes("another runner may be running it");
    const elsewhere = starting(m, { agentId: busy, name: "Busy", checkForeignHeartbeats: true });
    const fresh = starting(m, { agentId: idle, name: "Idle", checkForeignHeartbeats: true });
    expect(await elsewhere.started).toBe(busy);
    expect(await fresh.started).toBe(idle);
    expect(warned(elsewhere)).toBe(true);
    expect(warned(fresh)).toBe(false);
  });

  it("without leases, a start that registered the agent does not take the last_active it finds for another runner's", async () => {
    const m = await startWorkerMarket("startup-own-stamp-");
    // An earlier run of this runner registered the agent and heartbeated it just before it
    // stopped; the config has no agent_id, so this start registers under the same wallet.
    const earlier = await registeredBefore(m, "Restarted");
    const beat = await m.api.req("POST", `/api/agents/${earlier}/heartbeat`, {
      status: "offline",
      current_capacity: 1,
    });
    expect(beat.status).toBe(200);
    const s = starting(m, { name: "Restarted", checkForeignHeartbeats: true });
    expect(await s.started).toBe(earlier);
    const warned = () => s.logs.text().includes("another runner may be running it");
    expect(warned()).toBe(false);

    // Somebody else heartbeats it after the registration: told before the first heartbeat.
    const stamp = s.agent.registrationStamp;
    expect(stamp).toBeDefined();
    await waitFor("a later last_active", async () => {
      await m.api.req("POST", `/api/agents/${earlier}/heartbeat`, {
        status: "available",
        current_capacity: 1,
      });
      return (await agentView(m, earlier)).last_active !== stamp ? true : undefined;
    });
    await foreignSinceRegistration(s.agent, earlier, m.client, s.telemetry);
    expect(warned()).toBe(true);
    expect(s.agent.registrationStamp).toBeUndefined();
  });

  it("with a lease whose epoch is no longer the newest: abandons and returns nothing", async () => {
    const m = await startWorkerMarket("startup-fence-");
    const agentId = await registeredBefore(m, "CodeReviewer");
    await m.ledger.raiseFence(agentId, 5);
    const tenure = new Tenure({ epoch: 3, expiresAt: Date.now() + 60_000, marginMs: 1000 });
    const s = starting(m, { agentId, tenure });
    expect(await s.started).toBeUndefined();
    expect(s.abandoned).toEqual(["a newer lease epoch exists"]);
    // The current epoch raises the fence and starts.
    const current = starting(m, {
      agentId,
      tenure: new Tenure({ epoch: 5, expiresAt: Date.now() + 60_000, marginMs: 1000 }),
    });
    expect(await current.started).toBe(agentId);
    expect(current.abandoned).toEqual([]);
  });

  it("stopped while the marketplace cannot be reached: returns nothing, registers nothing", async () => {
    const m = await startWorkerMarket("startup-stopped-");
    const pool = createSharedPool({ connections: 1 });
    onTestFinished(() => pool.close());
    const away = new MarketplaceClient({
      baseUrl: "http://127.0.0.1:1",
      dispatcher: pool,
      maxAttempts: 1,
    });
    const s = starting(m, { client: away });
    await waitFor("a failed registration", () =>
      s.telemetry.stats.view.lastError?.startsWith("registration failed"),
    );
    s.lifetime.abort(new Error("worker stopped"));
    expect(await s.started).toBeUndefined();
    expect(s.agent.agentId).toBeUndefined();
    expect(s.written).toEqual([]);
  });
});
