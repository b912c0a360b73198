import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { mongoTestUri, uniqueDbName } from "../support/mongo-wire/index.ts";
import { api, postJob } from "../support/runner-harness.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { PROCESS_WAIT_MS, waitFor } from "../support/wait.ts";

/**
 * kill -9 at each point of a job's lifecycle, then a restart: nothing is bid twice,
 * nothing executed more than it must be, no result lost or sent twice. For both
 * ledger backends.
 */

interface ApiJob {
  status: string;
  bids: Array<{ bid_id: string; agent_id: string }>;
  result: { success: boolean; executed_by: string } | null;
}

const JOB = {
  title: "Review this code for security issues",
  description: "Please do a code review of our login handler: SQL injection, XSS, performance.",
  budget_usd: 1,
  required_capabilities: ["code_review"],
};

const isMsg = (msg: string, jobId?: string) => (line: Record<string, unknown>) =>
  line.msg === msg && (jobId === undefined || line.jobId === jobId);

describe.each(["sqlite", "mongo"] as const)("restart safety with the %s ledger", (backend) => {
  let marketplace: Awaited<ReturnType<typeof startMarketplace>>;
  let llm: TestLlmServer;
  let stateDir: string;
  let mongo: Awaited<ReturnType<typeof mongoTestUri>> | undefined;
  let dbName: string;
  const processes: RunnerProcess[] = [];

  beforeAll(async () => {
    if (backend === "mongo") mongo = await mongoTestUri();
  });
  afterAll(async () => {
    await mongo?.close();
  });

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "restart-"));
    marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(stateDir, "market.sqlite"),
    });
    llm = await startTestLlmServer();
    dbName = uniqueDbName("restart");
    if (mongo) {
      const client = await MongoClient.connect(mongo.uri);
      const agents = client.db(dbName).collection("agents");
      await agents.deleteMany({});
      await client.db(dbName).collection("runner_ledger").deleteMany({});
      await agents.insertMany(builtinAgentConfigs().map((c) => ({ ...c })));
      await client.close();
    }
  });

  afterEach(async () => {
    for (const p of processes.splice(0)) if (p.child.exitCode === null) await p.kill9();
    await marketplace.close();
    await llm.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  function launch(): RunnerProcess {
    const p = new RunnerProcess({
      BAZAAR_API_URL: marketplace.url,
      LLM_BASE_URL: llm.url,
      FIREWORKS_API_KEY: llm.apiKey,
      AGENT_POLL_INTERVAL: "0.2",
      AGENT_HEARTBEAT_INTERVAL: "1",
      AGENT_RELOAD_INTERVAL: "5",
      RUNNER_STATE_DIR: join(stateDir, "runner"),
      PORT: "0",
      HOST: "127.0.0.1",
      // Counts one LLM call per execution: the quality gate's repair call would be a second.
      QUALITY_GATE: "off",
      // A restarted replica with the same id re-claims its own leases at once, rather
      // than after they expire.
      ...(mongo ? { MONGODB_URI: mongo.uri, MONGODB_DB: dbName, RUNNER_REPLICA_ID: "one" } : {}),
    });
    processes.push(p);
    return p;
  }

  const job = async (jobId: string) =>
    (await api<ApiJob>(marketplace.url, "GET", `/api/jobs/${jobId}`)).body;
  const llmCalls = (_jobId: string) =>
    llm.requests.filter((r) => JSON.stringify(r.body).includes("login handler")).length;
  const running = (p: RunnerProcess) =>
    waitFor("three agents running", () => p.count(isMsg("agent running")) >= 3, {
      timeoutMs: PROCESS_WAIT_MS,
    });

  async function postAndAwaitBid(p: RunnerProcess): Promise<{ jobId: string; bidId: string }> {
    const jobId = await postJob(marketplace.url, JOB);
    await p.waitForLog("the bid", isMsg("bid placed", jobId));
    const bid = await waitFor("the bid listed", async () => (await job(jobId)).bids[0]);
    return { jobId, bidId: bid.bid_id };
  }

  async function award(jobId: string, bidId: string) {
    expect(
      (await api(marketplace.url, "POST", `/api/jobs/${jobId}/select-bid/${bidId}`)).status,
    ).toBe(200);
  }

  it("after bidding: the restarted runner does not bid again", async () => {
    const first = launch();
    await running(first);
    const { jobId } = await postAndAwaitBid(first);
    const bidders = first.lines.filter(isMsg("bid placed", jobId)).map((l) => String(l.agentId));
    await first.kill9();

    const second = launch();
    await running(second);
    // The restarted agents decide on the still-open job: each that bid before finds its
    // bid (in the ledger, or the marketplace's list) and counts it as already placed.
    const http = await second.waitForLog(
      "the HTTP surface",
      isMsg("health, metrics and dashboard listening"),
    );
    await waitFor(
      "the restarted agents' decisions on the job",
      async () => {
        const text = await (await fetch(String(http.metrics))).text();
        const skipped = text
          .split("\n")
          .filter((l) => l.startsWith("bazaar_runner_bids_total{"))
          .filter((l) => l.includes('outcome="skipped_already_bid"') && !l.endsWith(" 0"));
        return bidders.every((agentId) => skipped.some((l) => l.includes(`agent="${agentId}"`)));
      },
      { timeoutMs: PROCESS_WAIT_MS },
    );
    const bids = (await job(jobId)).bids.map((b) => b.agent_id);
    // No agent bid twice; the agents that bid before the kill did not bid again.
    expect(new Set(bids).size).toBe(bids.length);
    const again = second.lines.filter(isMsg("bid placed", jobId)).map((l) => String(l.agentId));
    for (const agentId of bidders) expect(again).not.toContain(agentId);
  });

  it("after winning, before execution: the restarted runner executes the job once", async () => {
    const first = launch();
    await running(first);
    const { jobId, bidId } = await postAndAwaitBid(first);
    await first.kill9();
    await award(jobId, bidId);

    const second = launch();
    await waitFor("the result", async () => (await job(jobId)).status === "completed", {
      timeoutMs: PROCESS_WAIT_MS,
    });
    expect(llmCalls(jobId)).toBe(1);
    await second.waitForLog("acceptance logged", isMsg("result accepted", jobId));
    expect(second.count(isMsg("result accepted", jobId))).toBe(1);
  });

  it("during the LLM call: the restarted runner executes it again, once, and submits once", async () => {
    const first = launch();
    await running(first);
    const { jobId, bidId } = await postAndAwaitBid(first);
    llm.enqueue({ kind: "hang" });
    await award(jobId, bidId);
    await waitFor("the LLM call", () => llmCalls(jobId) === 1, { timeoutMs: PROCESS_WAIT_MS });
    await first.kill9();

    const second = launch();
    await waitFor("the result", async () => (await job(jobId)).status === "completed", {
      timeoutMs: PROCESS_WAIT_MS,
    });
    expect(llmCalls(jobId)).toBe(2);
    await second.waitForLog("acceptance logged", isMsg("result accepted", jobId));
    expect(second.count(isMsg("result accepted", jobId))).toBe(1);
    expect((await job(jobId)).result?.success).toBe(true);
  });

  it("after the result is written, before the marketplace took it: it is submitted, not re-executed", async () => {
    const first = launch();
    await running(first);
    const { jobId, bidId } = await postAndAwaitBid(first);
    marketplace.setFaults({
      rules: [{ route: "POST /api/jobs/:id/submit-result", fault: "html503" }],
    });
    await award(jobId, bidId);
    await first
      .waitForLog("a failed submission", isMsg("result submission failed; will retry", jobId))
      .catch((e) => {
        console.error(first.raw.slice(-40).join("\n"));
        throw e;
      });
    await first.kill9();
    marketplace.setFaults(null);
    expect(llmCalls(jobId)).toBe(1);

    const second = launch();
    await waitFor("the result", async () => (await job(jobId)).status === "completed", {
      timeoutMs: PROCESS_WAIT_MS,
    });
    expect(llmCalls(jobId)).toBe(1);
    expect(second.count(isMsg("execution started", jobId))).toBe(0);
    await second.waitForLog("acceptance logged", isMsg("result accepted", jobId));
    expect(second.count(isMsg("result accepted", jobId))).toBe(1);
  });

  it("SIGTERM lets the in-flight job finish, heartbeats offline and exits 0", async () => {
    const first = launch();
    await running(first);
    const { jobId, bidId } = await postAndAwaitBid(first);
    llm.enqueue({ kind: "slow", delayMs: 1500 });
    await award(jobId, bidId);
    await first.waitForLog("execution", isMsg("execution started", jobId));
    const exit = await first.terminate();
    if (exit.code !== 0) console.error(first.raw.slice(-30).join("\n"));
    expect(exit.code).toBe(0);
    expect((await job(jobId)).status).toBe("completed");
    expect(first.count(isMsg("result accepted", jobId))).toBe(1);
    const agents = await api<{ agents: Array<{ status: string; owner_id: string }> }>(
      marketplace.url,
      "GET",
      "/api/agents",
    );
    expect(agents.body.agents.every((a) => a.status === "offline")).toBe(true);
  });
});
