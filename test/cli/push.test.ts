import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import type { AgentConfig } from "../../src/agents/types.ts";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { WEBHOOK_PATH } from "../../src/runner/feed/webhook-hints.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { LogCapture } from "../support/log-capture.ts";
import {
  award,
  counterSum,
  pollsPass,
  runningAgents,
  waitForBid,
  waitForResult,
} from "../support/market-helpers.ts";
import { api, newAccount, registerAgent } from "../support/marketplace-requests.ts";
import { postJob } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";
import { closedPort, tempDir } from "./cli.ts";

/**
 * Push: with PUBLIC_URL set, agents take webhook notifications from the marketplace and
 * act on them (after fetching the job from the API) without waiting for a poll.
 */
describe("start with PUBLIC_URL: webhook notifications", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let market: RunningMarketplace;
  let app: App | undefined;
  let metrics: Metrics;
  let logs: LogCapture;
  let logger: Logger;

  beforeEach(async () => {
    dir = await tempDir("bazaar-push-");
    market = await startMarketplace({ port: 0, dbPath: ":memory:" });
    logs = new LogCapture();
    logger = createLogger({ level: "info", destination: logs, pretty: false });
  });
  afterEach(async () => {
    await stop();
    await market.close();
    await dir.cleanup();
  });

  /** A runner on the test's state directory, with fresh metrics (a restart counts anew). */
  async function start(env: Record<string, string> = {}): Promise<App> {
    const port = await closedPort();
    metrics = createMetrics({ processMetrics: false });
    app = await startApp({
      config: loadConfig({
        BAZAAR_API_URL: market.url,
        RUNNER_STATE_DIR: join(dir.path, "state"),
        HOST: "127.0.0.1",
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // Long enough that only a notification can explain a quick bid.
        AGENT_POLL_INTERVAL: "600",
        AGENT_HEARTBEAT_INTERVAL: "600",
        FIREWORKS_API_KEY: "",
        ...env,
      }),
      logger,
      metrics,
    });
    return app;
  }

  async function stop(): Promise<void> {
    await app?.stop();
    app = undefined;
  }

  const listings = () => counterSum(metrics.marketplaceRequests, { route: "GET /api/jobs" });
  const requests = (route: string) => counterSum(metrics.marketplaceRequests, { route });
  const agentDoc = async (agentId: string) =>
    (await api(market.url).req("GET", `/api/agents/${agentId}`)).json as Record<string, unknown>;
  /** Where the marketplace is to notify the running app's agents. */
  const endpoint = (running: App) =>
    `${running.httpUrl.replace("localhost", "127.0.0.1")}${WEBHOOK_PATH}`;
  const SWITCH_FAILED = "could not point the agent's webhook_url at this runner";
  const switchWarnings = () => logs.entries().filter((e) => e.msg === SWITCH_FAILED);

  /**
   * Posts a job, awards the agent's bid and waits for its result, counting listings: the
   * poll interval is long, so none may explain the bid or the work, only notifications.
   */
  async function bidAndDeliverWithoutPolling(agentId: string): Promise<void> {
    await waitFor("the first poll", async () => ((await listings()) >= 1 ? true : undefined));
    // The service notifies only agents that are available (its matcher skips the offline
    // ones a previous run's stop left): the first heartbeat comes within 10 s of start.
    await waitFor("the agent available", async () =>
      (await agentDoc(agentId)).status === "available" ? true : undefined,
    );
    const before = await listings();
    const jobId = await postJob(market.url, SCHEMA_JOB);
    const bid = await waitForBid(market.url, jobId, agentId);
    await award(market.url, jobId, bid.bid_id);
    const done = await waitForResult(market.url, jobId);
    expect(done.result?.executed_by).toBe(agentId);
    expect(await listings()).toBe(before);
    expect(await counterSum(metrics.webhooks, { outcome: "accepted" })).toBeGreaterThanOrEqual(2);
  }

  async function writeAgents(file: string, configs: AgentConfig[]): Promise<void> {
    await writeFile(file, JSON.stringify(configs));
  }

  /**
   * An agent registered by another owner (a wallet the runner holds no key of), pinned in
   * AGENTS_FILE by its agent_id; with `pinWallet`, that wallet as its payout address.
   */
  async function ownedElsewhere(
    name: string,
    pinWallet: boolean,
  ): Promise<{ agentId: string; agentsFile: string }> {
    const owner = newAccount();
    const agentId = await registerAgent(api(market.url), {
      name,
      owner_id: owner.address,
      wallet_address: owner.address,
      capabilities: { schema_design: 0.96 },
    });
    const agentsFile = join(dir.path, "agents.json");
    const [schema] = builtinAgentConfigs();
    await writeAgents(agentsFile, [
      {
        ...schema!,
        name,
        agent_id: agentId,
        ...(pinWallet ? { wallet_address: owner.address } : {}),
      },
    ]);
    return { agentId, agentsFile };
  }

  /** A first run without PUBLIC_URL: the agents register for polling. Their ids by name. */
  async function registerForPolling(
    env: Record<string, string>,
    count: number,
  ): Promise<Record<string, string>> {
    const polling = await start({ ...env, PUBLIC_URL: "" });
    const ids = await runningAgents(polling.runner, count);
    for (const id of Object.values(ids))
      expect(await agentDoc(id)).toMatchObject({
        execution_mode: "self_hosted",
        webhook_url: null,
      });
    await stop();
    return ids;
  }

  it("registers agents for webhooks, bids on a posted job and does an awarded one without polling", async () => {
    const running = await start();
    const agentId = await waitFor("SchemaArchitect running", () => {
      const w = running.runner.workers.find(
        (x) => x.spec.config.name === "SchemaArchitect" && x.state === "running",
      );
      return w?.agentId;
    });
    expect(await agentDoc(agentId)).toMatchObject({
      execution_mode: "webhook",
      webhook_url: endpoint(running),
    });
    await bidAndDeliverWithoutPolling(agentId);
  });

  it("a restart with PUBLIC_URL gets the built-in agents back by wallet, registered for notifications", async () => {
    const ids = await registerForPolling({}, 3);
    // No agent_id is kept for them: registering again is idempotent by wallet (its
    // index is in the state directory's ledger) and re-applies mode and webhook_url.
    const pushed = await start();
    expect(await runningAgents(pushed.runner, 3)).toEqual(ids);
    expect((await api(market.url).req("GET", "/api/agents")).json).toMatchObject({ count: 3 });
    for (const id of Object.values(ids))
      expect(await agentDoc(id)).toMatchObject({
        execution_mode: "webhook",
        webhook_url: endpoint(pushed),
      });
    expect(switchWarnings()).toEqual([]);
    await bidAndDeliverWithoutPolling(ids.SchemaArchitect!);
  });

  it("switches agents registered earlier for polling (agent_id in AGENTS_FILE) over with PUT, as their owner", async () => {
    const agentsFile = join(dir.path, "agents.json");
    const configs = builtinAgentConfigs();
    await writeAgents(agentsFile, configs);
    const ids = await registerForPolling({ AGENTS_FILE: agentsFile }, configs.length);

    // The operator pins the agent_ids (as MongoDB's write-back would), then sets PUBLIC_URL.
    await writeAgents(
      agentsFile,
      configs.map((c) => ({ ...c, agent_id: ids[c.name] })),
    );
    const pushed = await start({ AGENTS_FILE: agentsFile });
    expect(await runningAgents(pushed.runner, configs.length)).toEqual(ids);
    expect(await requests("POST /api/agents/register")).toBe(0);
    expect(await requests("PUT /api/agents/:id")).toBe(configs.length);
    for (const id of Object.values(ids))
      expect(await agentDoc(id)).toMatchObject({ webhook_url: endpoint(pushed) });
    expect(switchWarnings()).toEqual([]);
    // The service's PUT cannot change execution_mode, and it sends job_assigned only to
    // agents in "webhook" mode: such agents hear of new jobs at once, of awards at a poll.
    expect(await agentDoc(ids.SchemaArchitect!)).toMatchObject({ execution_mode: "self_hosted" });
    await waitFor("the first poll", async () => ((await listings()) >= 1 ? true : undefined));
    await waitFor("the agent available", async () =>
      (await agentDoc(ids.SchemaArchitect!)).status === "available" ? true : undefined,
    );
    const before = await listings();
    const jobId = await postJob(market.url, SCHEMA_JOB);
    await waitForBid(market.url, jobId, ids.SchemaArchitect!);
    expect(await listings()).toBe(before);
  });

  it.each([
    {
      refusal: "403: the runner's own wallet does not own the agent",
      pinWallet: false,
      problem: /You don't own this agent/,
    },
  ])(
    "keeps polling for an agent it may not switch ($refusal), warning once",
    async ({ pinWallet, problem }) => {
      const { agentId, agentsFile } = await ownedElsewhere("ForeignArchitect", pinWallet);

      const running = await start({ AGENTS_FILE: agentsFile, AGENT_POLL_INTERVAL: "0.5" });
      await runningAgents(running.runner, 1);
      expect(switchWarnings()).toEqual([
        expect.objectContaining({ problem: expect.stringMatching(problem) }),
      ]);
      expect(await agentDoc(agentId)).toMatchObject({ webhook_url: null });

      // Found at a poll instead of by a notification.
      const jobId = await postJob(market.url, SCHEMA_JOB);
      await waitForBid(market.url, jobId, agentId);
      await pollsPass(running.runner, 2);
      expect(switchWarnings()).toHaveLength(1);
      expect(await requests("PUT /api/agents/:id")).toBe(1);
      expect(await counterSum(metrics.webhooks)).toBe(0);
    },
  );

  it("switches an agent with a payout-only wallet without a session, as the service allows", async () => {
    // The service lets anybody change an agent without signing in: with nothing to sign
    // with, the runner's unsigned PUT goes through (it was a 401 before issue 23).
    const { agentId, agentsFile } = await ownedElsewhere("PayoutArchitect", true);
    const running = await start({ AGENTS_FILE: agentsFile });
    await runningAgents(running.runner, 1);
    expect(switchWarnings()).toEqual([]);
    expect(await agentDoc(agentId)).toMatchObject({ webhook_url: endpoint(running) });
    expect(await requests("PUT /api/agents/:id")).toBe(1);
  });
});
