import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import type { StatusSnapshot } from "../../src/runner/telemetry/status-types.ts";
import { startTestLlmServer, type TestLlmServer } from "./llm-server.ts";
import { type MongoTestTarget, mongoTestUri, uniqueDbName } from "./mongo-wire/index.ts";
import { api } from "./raw-http.ts";
import { RunnerProcess } from "./runner-process.ts";
import { SECRET_TEST_MNEMONIC } from "./test-secrets.ts";
import { waitFor } from "./wait.ts";

/**
 * Several runner replicas (separate processes) sharing N agents through MongoDB, with
 * the embedded marketplace and the test LLM server, for the replica tests and benches.
 * The agents are registered up front and stored in `agents` with `_id` = name, so an
 * agent's lease key is `mongo:<name>`.
 */

export interface ClusterAgent {
  name: string;
  agentId: string;
  /** The agent's lease key (its config key). */
  key: string;
}

export interface ClusterOptions {
  agents: number;
  ttlSeconds?: number;
  pollSeconds?: number;
  heartbeatSeconds?: number;
  /** The embedded marketplace awards each job this long after its first bid. */
  autoAwardSeconds?: number;
  /**
   * LLM_TIMEOUT (default 30 s). Longer for tests that hold the LLM (`llm.hold()`) for as
   * long as a step takes: an attempt timing out would end the execution early.
   */
  llmTimeoutSeconds?: number;
  logLevel?: string;
}

interface MarketJob {
  job_id: string;
  status: string;
  assigned_agent_id: string | null;
  bids: Array<{ bid_id: string; agent_id: string }>;
  result: { success: boolean; executed_by: string } | null;
}

export interface Audit {
  jobs: number;
  bids: number;
  duplicateBids: number;
  awarded: number;
  results: number;
  /** Awarded jobs without a result. */
  lostResults: string[];
  /** Results the marketplace accepted more than once, counted across every replica's log. */
  duplicateResults: number;
}

export const REVIEW_JOB = {
  title: "Security code review",
  description: "Code review of a Python Flask login endpoint: SQL injection, XSS, performance.",
  budget_usd: 1,
  required_capabilities: ["code_review"],
};

export class ReplicaCluster {
  readonly marketplace: RunningMarketplace;
  readonly llm: TestLlmServer;
  readonly mongo: MongoTestTarget;
  readonly client: MongoClient;
  readonly dbName: string;
  readonly dir: string;
  readonly agents: ClusterAgent[];
  readonly options: ClusterOptions;
  /** Every process launched, by replica id (a relaunch replaces the entry; `all` keeps it). */
  readonly replicas = new Map<string, RunnerProcess>();
  readonly all: RunnerProcess[] = [];
  /** The replica id of each process in `all`, in the same order. */
  readonly #ids: string[] = [];
  readonly posted: string[] = [];
  /** What the test did and when (`note`), written beside the replicas' logs. */
  readonly notes: Array<{ time: number; msg: string }> = [];

  private constructor(parts: {
    marketplace: RunningMarketplace;
    llm: TestLlmServer;
    mongo: MongoTestTarget;
    client: MongoClient;
    dbName: string;
    dir: string;
    agents: ClusterAgent[];
    options: ClusterOptions;
  }) {
    this.marketplace = parts.marketplace;
    this.llm = parts.llm;
    this.mongo = parts.mongo;
    this.client = parts.client;
    this.dbName = parts.dbName;
    this.dir = parts.dir;
    this.agents = parts.agents;
    this.options = parts.options;
  }

  static async start(options: ClusterOptions): Promise<ReplicaCluster> {
    const dir = await mkdtemp(join(tmpdir(), "replicas-"));
    const marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir, "market.sqlite"),
      autoAwardSeconds: options.autoAwardSeconds,
    });
    const llm = await startTestLlmServer();
    const mongo = await mongoTestUri();
    const client = await MongoClient.connect(mongo.uri, { serverSelectionTimeoutMS: 5000 });
    const dbName = uniqueDbName("replicas");
    const templates = builtinAgentConfigs();
    const agents: ClusterAgent[] = [];
    const docs = [];
    const http = api(marketplace.url);
    for (let i = 0; i < options.agents; i++) {
      const template = templates[i % templates.length]!;
      const name = `${template.name}-${String(i).padStart(3, "0")}`;
      const wallet = `0x${(i + 1).toString(16).padStart(40, "0")}`;
      const registered = await http.req("POST", "/api/agents/register", {
        name,
        description: template.description ?? name,
        owner_id: "replicas",
        wallet_address: wallet,
        capabilities: template.capabilities,
        base_rate_usd: template.base_rate_usd,
        skip_benchmark: true,
      });
      const agentId = (registered.json as { agent_id?: string } | undefined)?.agent_id;
      if (registered.status !== 200 || !agentId)
        throw new Error(`registering ${name} answered ${registered.status}`);
      agents.push({ name, agentId, key: `mongo:${name}` });
      docs.push({
        ...template,
        _id: name,
        name,
        agent_id: agentId,
        wallet_address: wallet,
        managed: true,
        status: "available",
      });
    }
    // biome-ignore lint/suspicious/noExplicitAny: the _id is a string by design here.
    await client.db(dbName).collection<any>("agents").insertMany(docs);
    return new ReplicaCluster({ marketplace, llm, mongo, client, dbName, dir, agents, options });
  }

  /**
   * Short, but not so short that a replica starved of CPU on a busy test machine loses
   * its leases (they are renewed every third of it). At 4 s, replicas under
   * `test:stress --hogs 2` on a shared 2-core machine went more than 4 s between two
   * renewals at start-up and lost leases they still meant to hold (2026-12-06).
   */
  get ttlSeconds(): number {
    return this.options.ttlSeconds ?? 10;
  }

  env(id: string): Record<string, string> {
    const o = this.options;
    return {
      BAZAAR_API_URL: this.marketplace.url,
      LLM_BASE_URL: this.llm.url,
      FIREWORKS_API_KEY: this.llm.apiKey,
      MONGODB_URI: this.mongo.uri,
      MONGODB_DB: this.dbName,
      // Replicas share one set of agents, so they share the keys: one mnemonic for all.
      AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC,
      RUNNER_REPLICA_ID: id,
      LEASE_TTL: String(this.ttlSeconds),
      AGENT_POLL_INTERVAL: String(o.pollSeconds ?? 0.5),
      AGENT_HEARTBEAT_INTERVAL: String(o.heartbeatSeconds ?? 1),
      AGENT_RELOAD_INTERVAL: "30",
      SHUTDOWN_GRACE_PERIOD: "10",
      LLM_TIMEOUT: String(o.llmTimeoutSeconds ?? 30),
      RUNNER_STATE_DIR: join(this.dir, id),
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: o.logLevel ?? "info",
    };
  }

  launch(id: string, extra: Record<string, string> = {}): RunnerProcess {
    const p = new RunnerProcess({ ...this.env(id), ...extra }, ["start"], { cwd: this.dir });
    this.replicas.set(id, p);
    this.all.push(p);
    this.#ids.push(id);
    return p;
  }

  /** Live lease holders by agent key, read from `runner_leases`. */
  async holders(): Promise<Map<string, string>> {
    const now = new Date();
    const docs = await this.client
      .db(this.dbName)
      .collection("runner_leases")
      .find({ kind: "agent", holder: { $ne: null }, expires_at: { $gt: now } })
      .toArray();
    return new Map(docs.map((d) => [String(d.agent), String(d.holder)]));
  }

  /** How many agents each replica holds (live leases). */
  async counts(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const holder of (await this.holders()).values())
      counts.set(holder, (counts.get(holder) ?? 0) + 1);
    return counts;
  }

  /** Waits until the given replicas hold every agent, each ⌈N/R⌉ or ⌊N/R⌋, as each one's status says. */
  async balanced(ids: string[], timeoutMs = 90_000): Promise<Map<string, string[]>> {
    const n = this.agents.length;
    const low = Math.floor(n / ids.length);
    const high = Math.ceil(n / ids.length);
    return waitFor(
      `${ids.join(", ")} holding ${n} agents, balanced`,
      async () => {
        const running = new Map<string, string[]>();
        for (const id of ids) {
          const status = await this.status(id);
          const agents = status.agents.filter((a) => a.state === "running").map((a) => a.name);
          if (agents.length < low || agents.length > high) return undefined;
          if (status.agents.length !== agents.length) return undefined; // one still draining
          running.set(id, agents);
        }
        const all = [...running.values()].flat();
        return all.length === n && new Set(all).size === n ? running : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** The HTTP address of a replica, from its start-up log line. */
  async url(id: string): Promise<string> {
    const p = this.replicas.get(id);
    if (!p) throw new Error(`no replica ${id}`);
    const line = await p.waitForLog(
      "the HTTP surface",
      (l) => l.msg === "health, metrics and dashboard listening",
      60_000,
    );
    return String(line.url);
  }

  async status(id: string): Promise<StatusSnapshot> {
    const response = await api(await this.url(id)).req("GET", "/api/status");
    if (response.status !== 200) throw new Error(`status of ${id} answered ${response.status}`);
    return response.json as StatusSnapshot;
  }

  async postJob(job: Record<string, unknown> = REVIEW_JOB): Promise<string> {
    const response = await api(this.marketplace.url).req("POST", "/api/jobs", {
      poster_id: "replica_test",
      poster_wallet: "0x1111111111111111111111111111111111111111",
      ...job,
    });
    const jobId = (response.json as { job_id?: string } | undefined)?.job_id;
    if (response.status !== 200 || !jobId) throw new Error(`posting answered ${response.status}`);
    this.posted.push(jobId);
    return jobId;
  }

  async job(jobId: string): Promise<MarketJob> {
    const response = await api(this.marketplace.url).req("GET", `/api/jobs/${jobId}`);
    return response.json as MarketJob;
  }

  /** The agent of the cluster with this marketplace id. */
  agentById(agentId: string): ClusterAgent {
    const agent = this.agents.find((a) => a.agentId === agentId);
    if (!agent) throw new Error(`unknown agent ${agentId}`);
    return agent;
  }

  /**
   * For a marketplace without auto-award: waits until each of `bidders` has bid on the
   * job (whichever replica runs it), then awards it to the first bid, as a poster
   * would. Returns the bids.
   */
  async awardOnceBid(jobId: string, bidders: ClusterAgent[]): Promise<MarketJob["bids"]> {
    const bids = await waitFor(
      `${jobId} bid on by ${bidders.map((a) => a.name).join(", ")}`,
      async () => {
        const { bids } = await this.job(jobId);
        const from = new Set(bids.map((b) => b.agent_id));
        return bidders.every((a) => from.has(a.agentId)) ? bids : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const response = await api(this.marketplace.url).req(
      "POST",
      `/api/jobs/${jobId}/select-bid/${bids[0]!.bid_id}`,
    );
    if (response.status !== 200) throw new Error(`select-bid answered ${response.status}`);
    return bids;
  }

  /** Waits for the job to be awarded; returns its agent and the replica holding it. */
  async awarded(
    jobId: string,
    timeoutMs = 30_000,
  ): Promise<{ agent: ClusterAgent; holder: string }> {
    const agentId = await waitFor(
      `${jobId} awarded`,
      async () => (await this.job(jobId)).assigned_agent_id,
      { timeoutMs, intervalMs: 100 },
    );
    const agent = this.agentById(agentId);
    const holder = await waitFor(`the holder of ${agent.name}`, async () =>
      (await this.holders()).get(agent.key),
    );
    return { agent, holder };
  }

  async done(jobId: string, timeoutMs = 120_000): Promise<MarketJob> {
    try {
      return await waitFor(
        `${jobId} done`,
        async () => {
          const job = await this.job(jobId);
          return job.result ? job : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await this.jobStory(jobId)}`);
    }
  }

  /**
   * What a wait on the job was waiting for: its state on the marketplace, the holder of
   * its agent, and the replicas' last log lines about the job or its agent, in time order.
   */
  async jobStory(jobId: string, lines = 20): Promise<string> {
    const job = await this.job(jobId).catch(() => undefined);
    if (!job) return `${jobId}: not readable from the marketplace`;
    const agent = this.agents.find((a) => a.agentId === job.assigned_agent_id);
    const holder = agent ? (await this.holders().catch(() => new Map())).get(agent.key) : undefined;
    const about = (l: Record<string, unknown>) =>
      l.jobId === jobId ||
      (agent !== undefined && (l.agent === agent.key || l.agentId === agent.agentId));
    const story = this.all
      .flatMap((p, i) => p.lines.filter(about).map((line) => ({ replica: this.#ids[i], line })))
      .sort((a, b) => Number(a.line.time) - Number(b.line.time))
      .slice(-lines)
      .map(({ replica, line }) =>
        [
          new Date(Number(line.time)).toISOString(),
          replica,
          line.msg,
          line.problem ?? line.reason ?? "",
        ].join(" "),
      );
    return [
      `${jobId}: ${job.status}, ${job.bids.length} bid(s), assigned to ${agent?.name ?? "nobody"}` +
        (agent ? `, whose lease ${holder ?? "no replica"} holds` : ""),
      ...story,
    ].join("\n");
  }

  /** Log lines of every process launched, matching `msg` (and the job, if given). */
  logged(msg: string, jobId?: string): Array<Record<string, unknown>> {
    return this.all.flatMap((p) =>
      p.lines.filter((l) => l.msg === msg && (jobId === undefined || l.jobId === jobId)),
    );
  }

  /** Bids, awards and results of every posted job, read from the marketplace's own records. */
  async audit(): Promise<Audit> {
    let bids = 0;
    let duplicateBids = 0;
    let awarded = 0;
    let results = 0;
    const lostResults: string[] = [];
    for (const jobId of this.posted) {
      const job = await this.job(jobId);
      bids += job.bids.length;
      duplicateBids += job.bids.length - new Set(job.bids.map((b) => b.agent_id)).size;
      if (job.assigned_agent_id) {
        awarded++;
        if (job.result) results++;
        else lostResults.push(jobId);
      }
    }
    const accepted = this.logged("result accepted").map((l) => String(l.jobId));
    return {
      jobs: this.posted.length,
      bids,
      duplicateBids,
      awarded,
      results,
      lostResults,
      duplicateResults: accepted.length - new Set(accepted).size,
    };
  }

  /** Marks a step of the test (a signal sent, a fault lifted) for `saveLogs`. */
  note(msg: string): void {
    this.notes.push({ time: Date.now(), msg });
  }

  /**
   * Writes every process's output to `dir/<replica id>-<launch>.log`, the test's notes to
   * `dir/test.log`, the posted jobs as the marketplace has them to `dir/jobs.json` and
   * the leases to `dir/leases.json`: which replica did what, and when, to read afterwards.
   */
  async saveLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await Promise.all(
      this.all.map((p, i) =>
        writeFile(join(dir, `${this.#ids[i]}-${i + 1}.log`), `${p.raw.join("\n")}\n`),
      ),
    );
    await writeFile(
      join(dir, "test.log"),
      this.notes.map((n) => `${JSON.stringify({ time: n.time, msg: n.msg })}\n`).join(""),
    );
    const jobs = await Promise.all(this.posted.map((jobId) => this.job(jobId)));
    await writeFile(join(dir, "jobs.json"), JSON.stringify(jobs, null, 2));
    const leases = await this.client.db(this.dbName).collection("runner_leases").find().toArray();
    await writeFile(join(dir, "leases.json"), JSON.stringify(leases, null, 2));
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      this.all.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill("SIGCONT");
        await p.kill9();
      }),
    );
    await this.client
      .db(this.dbName)
      .dropDatabase()
      .catch(() => undefined);
    await this.client.close();
    await this.mongo.close();
    await this.marketplace.close();
    await this.llm.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
