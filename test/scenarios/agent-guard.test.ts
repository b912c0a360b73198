import { afterEach, describe, expect, it } from "vitest";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import { type MarketplaceAgent, MarketplaceAgentSchema } from "../../src/contract/responses.ts";
import { silentLogger } from "../../src/logger.ts";
import type { Sessions } from "../../src/marketplace/auth.ts";
import { WEBHOOK_PATH } from "../../src/runner/feed/webhook-hints.ts";
import { AgentGuard, type GuardedAgent } from "../../src/runner/presence/agent-guard.ts";
import { counterSum, runningAgents } from "../support/market-helpers.ts";
import { obj } from "../support/marketplace-requests.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Anybody may re-register with one of our agents' wallets, or PUT or DELETE it unsigned:
 * the runner notices (it reads each agent's document in turn; short intervals here) and
 * puts it back, saying so once.
 */
describe("an agent changed behind the runner's back", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const PUBLIC_URL = "http://127.0.0.1:9";
  const OURS = `${PUBLIC_URL}${WEBHOOK_PATH}`;
  const EVIL = "http://evil.example/hook";
  const told = (harness: Harness) =>
    harness.logs
      .entries()
      .filter((e) => String(e.msg).includes("changed behind the runner's back"));

  it("a stranger re-registers with our agent's wallet and another webhook and capabilities: restored", async () => {
    h = await startHarness();
    const runner = await h.startRunner({ publicUrl: PUBLIC_URL });
    const ids = await runningAgents(runner, 3);
    const agentId = ids.SchemaArchitect!;
    const worker = runner.workers.find((w) => w.agentId === agentId)!;
    const own = builtinAgentConfigs().find((c) => c.name === "SchemaArchitect")!.capabilities;
    const market = rawApi(h.marketplace.url);
    const doc = async () => obj((await market.req("GET", `/api/agents/${agentId}`)).json);
    expect(await doc()).toMatchObject({ webhook_url: OURS, capabilities: own });

    const attack = await market.req("POST", "/api/agents/register", {
      name: "Hijacker",
      description: "not yours",
      owner_id: "stranger",
      wallet_address: worker.wallet!.address,
      execution_mode: "webhook",
      webhook_url: EVIL,
      capabilities: { schema_design: 0.1 },
    });
    expect(obj(attack.json).agent_id).toBe(agentId);
    expect(await doc()).toMatchObject({ webhook_url: EVIL, capabilities: { schema_design: 0.1 } });

    await waitFor("the agent put back", async () => {
      const now = await doc();
      return now.webhook_url === OURS && JSON.stringify(now.capabilities) === JSON.stringify(own)
        ? true
        : undefined;
    });
    expect(await doc()).toMatchObject({
      execution_mode: "webhook",
      wallet_address: worker.wallet!.address,
    });
    const tampered = (field: string) => counterSum(runner.metrics.agentTampered, { field });
    expect(await tampered("webhook_url")).toBe(1);
    expect(await tampered("capabilities")).toBe(1);
    await waitFor("the restore said", () =>
      h!.logs.entries().some((e) => e.msg === "agent document put back") ? true : undefined,
    );
    expect(told(h)).toHaveLength(1);

    // An unsigned PUT of the webhook: put back with a signed one, said once more.
    const put = await market.req("PUT", `/api/agents/${agentId}`, { webhook_url: EVIL });
    expect(put.status).toBe(200);
    await waitFor("the webhook put back", async () =>
      (await doc()).webhook_url === OURS ? true : undefined,
    );
    expect(await tampered("webhook_url")).toBe(2);
    expect(told(h)).toHaveLength(2);
    // Unchanged since: nothing more is said.
    const checks = await counterSum(runner.metrics.marketplaceRequests, {
      route: "GET /api/agents/:id",
    });
    await waitFor("a few more looks", async () =>
      (await counterSum(runner.metrics.marketplaceRequests, { route: "GET /api/agents/:id" })) >=
      checks + 6
        ? true
        : undefined,
    );
    expect(told(h)).toHaveLength(2);
  });

  it("a stranger deletes our agent: registered again under its wallet", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    const worker = runner.workers.find((w) => w.agentId === ids.CodeReviewer)!;
    const market = rawApi(h.marketplace.url);
    const gone = await market.req("DELETE", `/api/agents/${ids.CodeReviewer}`);
    expect(gone.status).toBe(200);
    const again = await waitFor("the agent registered again", () =>
      worker.agentId !== ids.CodeReviewer ? worker.agentId : undefined,
    );
    const doc = obj((await market.req("GET", `/api/agents/${again}`)).json);
    expect(doc.wallet_address).toBe(worker.wallet!.address);
    expect(
      await counterSum(runner.metrics.agentTampered, { field: "deleted" }),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe("AgentGuard.stop", () => {
  it("waits for the look in progress, and a look that ends after it puts nothing back", async () => {
    // The runner stops the guard, then its agents heartbeat offline: a look that read the
    // document meanwhile must not take that offline for a stranger's PUT and heartbeat
    // the agent back online (seen as a flaky restart test).
    let answer: (doc: MarketplaceAgent) => void = () => undefined;
    const read = new Promise<MarketplaceAgent>((resolve) => {
      answer = resolve;
    });
    let heartbeats = 0;
    const [config] = builtinAgentConfigs();
    const agent: GuardedAgent = {
      agentId: "agent_00000001",
      wallet: undefined,
      spec: { config: config! },
      state: "running",
      selfRegistered: false,
      telemetry: {
        agentTampered: () => undefined,
        agentDeleted: () => undefined,
        agentRestored: () => undefined,
        warn: () => undefined,
      },
      stats: { view: { lastHeartbeatAt: new Date().toISOString() } },
      heartbeat: async () => {
        heartbeats++;
      },
    };
    const guard = new AgentGuard({
      client: {
        getAgent: () => read,
        updateAgent: () => Promise.reject(new Error("not expected")),
      },
      sessions: {} as Sessions,
      wallets: { ownerAccount: undefined },
      registrar: { register: () => Promise.reject(new Error("not expected")) },
      webhookUrl: undefined,
      agents: () => [agent],
      logger: silentLogger(),
    });
    const first = guard.tick();
    let stopped = false;
    const stopping = guard.stop().then(() => {
      stopped = true;
    });
    await Promise.resolve();
    expect(stopped).toBe(false); // the look is still reading
    answer(
      MarketplaceAgentSchema.parse({
        agent_id: "agent_00000001",
        name: config!.name,
        status: "offline",
        last_active: new Date().toISOString().slice(0, -1),
        capabilities: {},
      }),
    );
    await Promise.all([first, stopping]);
    expect(stopped).toBe(true);
    expect(heartbeats).toBe(0);
    await guard.tick(); // stopped: no more looks
    expect(heartbeats).toBe(0);
  });
});
