import { type Collection, MongoClient } from "mongodb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { builtinAgentConfigs } from "../../src/agents/builtin.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { award, waitForBid } from "../support/market-helpers.ts";
import { mongoTestUri, uniqueDbName } from "../support/mongo-wire/index.ts";
import { api, type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { WAIT_MS, waitFor } from "../support/wait.ts";

/**
 * The runner with MONGODB_URI: agents from `bazaar.agents`, registration write-back,
 * changes applied through the change stream (not the periodic reload), and MongoDB going away and
 * coming back while the agents keep running.
 */

const [SCHEMA, ANOMALY, REVIEWER] = builtinAgentConfigs() as [
  ReturnType<typeof builtinAgentConfigs>[number],
  ReturnType<typeof builtinAgentConfigs>[number],
  ReturnType<typeof builtinAgentConfigs>[number],
];
const SCHEMA_JOB = {
  title: "Design a GraphQL schema",
  description: "GraphQL schema and database tables for an orders API.",
  budget_usd: 1,
  required_capabilities: ["schema_design"],
};
const inProcess = !process.env.MONGODB_TEST_URI;
/**
 * The change stream applies a change within about 2 s; the periodic reload is set to
 * 60 s below, so a change seen within this deadline (generous, for a busy machine)
 * came through the stream.
 */
const CHANGE_STREAM_DEADLINE_MS = WAIT_MS;

describe("runner with agent configs from MongoDB", () => {
  let h: Harness;
  let mongo: Awaited<ReturnType<typeof mongoTestUri>>;
  let client: MongoClient;
  let agents: Collection;
  let runner: Runner;
  let dbName: string;

  beforeEach(async () => {
    mongo = await mongoTestUri();
    dbName = uniqueDbName("runner");
    client = await MongoClient.connect(mongo.uri, { serverSelectionTimeoutMS: 2000 });
    agents = client.db(dbName).collection("agents");
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
    await client
      .db(dbName)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
    await mongo.close();
  });

  const running = (name: string) =>
    runner.workers.find((w) => w.spec.config.name === name && w.state === "running");
  const start = async (overrides: Partial<Harness["config"]> = {}) => {
    runner = await h.startRunner({
      mongodbUri: mongo.uri,
      mongodbDb: dbName,
      reloadIntervalMs: 60_000,
      ...overrides,
    });
    return runner;
  };

  it("runs only managed, valid, available or busy agents, and writes registered ids back once", async () => {
    await agents.insertMany([
      { ...SCHEMA },
      { ...REVIEWER, status: "busy" },
      { ...ANOMALY, name: "Unmanaged", managed: false },
      { ...ANOMALY, name: "Offline", status: "offline" },
      { ...ANOMALY, name: "Broken", base_rate_usd: "cheap" },
    ]);
    await start();
    await waitFor(
      "both agents running",
      () => running("SchemaArchitect") && running("CodeReviewer"),
    );
    expect(runner.workers.map((w) => w.spec.config.name).sort()).toEqual([
      "CodeReviewer",
      "SchemaArchitect",
    ]);
    const snapshot = await runner.snapshot();
    expect(snapshot.config.source).toBe("mongo");
    expect(snapshot.config.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^base_rate_usd: /),
    ]);

    const doc = await waitFor("the agent_id written back", () =>
      agents.findOne({ name: "SchemaArchitect", agent_id: { $exists: true } }),
    );
    expect(doc.agent_id).toBe(running("SchemaArchitect")!.agentId);
    // The wallet written back is the agent's own key's address, checksummed.
    expect(doc.wallet_address).toBe(running("SchemaArchitect")!.wallet?.address);
    expect(running("SchemaArchitect")!.wallet?.holdsKey).toBe(true);
    // The write-back is a change event, but not a restart: once the snapshot carrying
    // it is applied, the same worker keeps running.
    const worker = running("SchemaArchitect");
    await waitFor(
      "the write-back applied",
      () => worker?.spec.config.wallet_address === doc.wallet_address,
    );
    expect(running("SchemaArchitect")).toBe(worker);
  });

  it("applies inserts, updates, managed:false and deletes through the change stream, not the periodic reload", async () => {
    await agents.insertOne({ ...SCHEMA });
    await start();
    await waitFor("SchemaArchitect running", () => running("SchemaArchitect"));

    // Insert: a new agent starts.
    await agents.insertOne({ ...ANOMALY });
    await waitFor("AnomalyHunter started", () => running("AnomalyHunter"), {
      timeoutMs: CHANGE_STREAM_DEADLINE_MS,
    });

    // Update: a new base rate and keyword table take effect at the next evaluation.
    await agents.updateOne(
      { name: "SchemaArchitect" },
      { $set: { base_rate_usd: 0.2, keywords: { graphql: 1 }, model: "my-model" } },
    );
    await waitFor(
      "the new rate",
      () => running("SchemaArchitect")?.spec.config.base_rate_usd === 0.2,
      { timeoutMs: CHANGE_STREAM_DEADLINE_MS },
    );
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitForBid(h.marketplace.url, jobId);
    // graphql at weight 1, one match: confidence 0.83, bid 0.2 × (1 + 0.5 × 0.83) = 0.283
    expect(bid.price_usd).toBe(0.283);

    // managed: false: it stops, with an offline heartbeat.
    const anomalyId = running("AnomalyHunter")!.agentId!;
    await agents.updateOne({ name: "AnomalyHunter" }, { $set: { managed: false } });
    await waitFor(
      "AnomalyHunter stopped",
      () => !runner.workers.some((w) => w.spec.config.name === "AnomalyHunter"),
      { timeoutMs: CHANGE_STREAM_DEADLINE_MS },
    );
    await waitFor(
      "AnomalyHunter offline",
      async () =>
        (await api<{ status: string }>(h.marketplace.url, "GET", `/api/agents/${anomalyId}`)).body
          .status === "offline",
    );

    // Delete: the same.
    await agents.deleteOne({ name: "SchemaArchitect" });
    await waitFor("SchemaArchitect stopped", () => runner.workers.length === 0, {
      timeoutMs: CHANGE_STREAM_DEADLINE_MS,
    });
  });

  it("refuses to start when MongoDB is unreachable, naming it without the password", async () => {
    const { createServer } = await import("node:net");
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const uri = `mongodb://runner:s3cret-pw@127.0.0.1:${port}/?serverSelectionTimeoutMS=300`;
    const error = await h.startRunner({ mongodbUri: uri }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /MongoDB at mongodb:\/\/runner:\[REDACTED\]@127\.0\.0\.1:\d+\/.* is unreachable/,
    );
    expect((error as Error).message).not.toContain("s3cret-pw");
    expect(h.logs.text()).not.toContain("s3cret-pw");
  });

  it("restarts an agent whose agent_type changed, keeping its marketplace id", async () => {
    await agents.insertOne({ ...SCHEMA, name: "Shifter" });
    await start();
    const before = await waitFor("Shifter running", () => running("Shifter"));
    await agents.updateOne({ name: "Shifter" }, { $set: { agent_type: "code_reviewer" } });
    const after = await waitFor("Shifter restarted as a code reviewer", () => {
      const w = running("Shifter");
      return w && w !== before && w.spec.config.agent_type === "code_reviewer" ? w : undefined;
    });
    expect(after.agentId).toBe(before.agentId);
    expect(before.state).toBe("stopped");
  });

  it("starts the restarted agent only once the old worker has drained its in-flight job", async () => {
    await agents.insertOne({ ...SCHEMA, name: "Shifter" });
    await start({ shutdownGraceMs: 2000 });
    const before = await waitFor("Shifter running", () => running("Shifter"));
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitForBid(h.marketplace.url, jobId);
    // The execution's LLM call never answers: the old worker drains until its grace ends.
    h.llm.enqueue({ kind: "hang" });
    await award(h.marketplace.url, jobId, bid.bid_id);
    await waitFor("the job in flight", () => before.inFlightCount > 0);

    await agents.updateOne({ name: "Shifter" }, { $set: { agent_type: "code_reviewer" } });
    await waitFor("the old worker draining", () => before.state === "draining");
    // Two workers for one marketplace agent would heartbeat and bid twice.
    const overlaps: string[] = [];
    const after = await waitFor("Shifter restarted", () => {
      const others = runner.workers.filter((w) => w.spec.config.name === "Shifter");
      if (others.length > 0 && before.state !== "stopped") overlaps.push(before.state);
      const w = running("Shifter");
      return w && w !== before ? w : undefined;
    });
    expect(overlaps).toEqual([]);
    expect(after.spec.config.agent_type).toBe("code_reviewer");
    // The status page shows the new worker (the old one's removal did not take it along).
    expect(runner.tracker.views().filter((v) => v.name === "Shifter")).toMatchObject([
      { state: "running", agentType: "code_reviewer" },
    ]);
    expect(h.logs.text()).toContain("grace period over; cutting in-flight jobs short");
  });

  it.skipIf(!inProcess)(
    "keeps the agents running while MongoDB is away, and applies changes again when it is back",
    async () => {
      await agents.insertOne({ ...SCHEMA });
      await start();
      await waitFor("SchemaArchitect running", () => running("SchemaArchitect"));
      await mongo.server!.stop();

      // The agents keep running on the last known config: still heartbeating. (Bids wait
      // for the ledger, which lives in the same MongoDB: nothing is bid that could not be
      // written down.)
      const before = running("SchemaArchitect")!.stats.view.lastHeartbeatAt;
      await waitFor(
        "a heartbeat during the outage",
        () => running("SchemaArchitect")?.stats.view.lastHeartbeatAt !== before,
      );
      const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);

      await mongo.server!.start();
      await waitFor(
        "the bid once MongoDB is back",
        async () =>
          (await api<{ bids: unknown[] }>(h.marketplace.url, "GET", `/api/jobs/${jobId}`)).body.bids
            .length === 1,
      );
      await agents.updateOne({ name: "SchemaArchitect" }, { $set: { base_rate_usd: 0.09 } });
      await waitFor(
        "the change after the outage",
        () => running("SchemaArchitect")?.spec.config.base_rate_usd === 0.09,
      );
      const outageLines = h.logs
        .entries()
        .filter((e) => e.msg === "MongoDB unreachable, keeping the last known agent configs");
      expect(outageLines.length).toBeLessThanOrEqual(1);
    },
  );
});
