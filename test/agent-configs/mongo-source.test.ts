import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { type Collection, type Document, MongoClient } from "mongodb";
import type { Counter } from "prom-client";
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import { connectMongo, createMongoConfigSource } from "../../src/agent-configs/mongo.ts";
import type { ConfigSnapshot, ConfigSource } from "../../src/agent-configs/types.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { mongoTestUri, startMongoWireServer } from "../support/mongo-wire/index.ts";
import { WAIT_MS, waitFor } from "../support/wait.ts";

const REAL_SERVER = Boolean(process.env.MONGODB_TEST_URI);
const IN_PROCESS_ONLY =
  "needs the in-process wire server (stop/start, changeStreams:false); MONGODB_TEST_URI is set";
const KNOWN_TYPES = new Set(["schema_architect", "anomaly_hunter", "code_reviewer"]);
const WALLET = `0x${"ab".repeat(20)}`;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0)
    await cleanups
      .pop()?.()
      .catch(() => {});
});

function agentDoc(name: string, overrides: Document = {}): Document {
  return {
    name,
    agent_type: "code_reviewer",
    managed: true,
    status: "available",
    capabilities: { code_review: 0.9 },
    base_rate_usd: 0.03,
    model: "accounts/fireworks/models/llama-v3p1-8b-instruct",
    ...overrides,
  };
}

/** A capturing logger, a metrics registry, a client and a per-test database. */
async function harness(uri: string, options: { serverSelectionTimeoutMS?: number } = {}) {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (text.trim()) lines.push(JSON.parse(text) as LogLine);
      }
      callback();
    },
  });
  const logger = createLogger({ destination, level: "debug", pretty: false });
  const metrics = createMetrics({ processMetrics: false });
  const client = await connectMongo(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 2000,
  });
  const dbName = `bazaar_test_${randomBytes(4).toString("hex")}`;
  cleanups.push(async () => {
    await client
      .db(dbName)
      .dropDatabase()
      .catch(() => {});
    await client.close();
  });
  const agents: Collection<Document> = client.db(dbName).collection("agents");
  return { lines, logger, metrics, client, dbName, agents };
}

type Harness = Awaited<ReturnType<typeof harness>>;

async function source(
  h: Harness,
  options: { reloadIntervalMs?: number; backoff?: { baseMs?: number; capMs?: number } } = {},
): Promise<ConfigSource> {
  const created = await createMongoConfigSource({
    client: h.client,
    dbName: h.dbName,
    reloadIntervalMs: options.reloadIntervalMs ?? 60_000,
    isKnownType: (type) => KNOWN_TYPES.has(type),
    logger: h.logger,
    metrics: h.metrics,
    backoff: options.backoff,
  });
  cleanups.push(() => created.close());
  return created;
}

/** The in-process server, or the real one named by MONGODB_TEST_URI. */
async function anyServer(): Promise<string> {
  const target = await mongoTestUri();
  cleanups.push(() => target.close());
  return target.uri;
}

async function ownServer(options: { changeStreams?: boolean } = {}) {
  const server = await startMongoWireServer(options);
  cleanups.push(() => server.close());
  return server;
}

async function counterValue<L extends string>(
  counter: Counter<L>,
  labels: Partial<Record<L, string>>,
): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) =>
      Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

function configErrors(metrics: Metrics): Promise<number> {
  return counterValue(metrics.configErrors, { source: "mongo" });
}

function linesWith(h: Harness, msg: string): LogLine[] {
  return h.lines.filter((line) => line.msg.includes(msg));
}

/** Starts watching, and waits until the change stream is open; skips on a real standalone server. */
async function watchOpen(ctx: TestContext, src: ConfigSource): Promise<ConfigSnapshot[]> {
  const seen: ConfigSnapshot[] = [];
  src.watch((snapshot) => seen.push(snapshot));
  const state = await waitFor("the change stream to open", () => {
    const s = src.status().changeStream;
    return s === "n/a" ? undefined : s;
  });
  if (state === "unavailable" && REAL_SERVER) {
    ctx.skip("the server at MONGODB_TEST_URI has no change streams (standalone)");
  }
  expect(state).toBe("active");
  return seen;
}

function latest(seen: ConfigSnapshot[]): ConfigSnapshot | undefined {
  return seen[seen.length - 1];
}

function agentNamed(snapshot: ConfigSnapshot | undefined, name: string) {
  return snapshot?.agents.find((a) => a.config.name === name);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

describe("MongoDB config source: load", () => {
  it("yields only managed, valid documents with status available or busy", async () => {
    const h = await harness(await anyServer());
    const noManaged = agentDoc("NoManagedField");
    delete noManaged.managed;
    const inserted = await h.agents.insertMany([
      agentDoc("Available"),
      agentDoc("Busy", { status: "busy", agent_id: "agent_busy0001" }),
      agentDoc("Offline", { status: "offline" }),
      agentDoc("Suspended", { status: "suspended" }),
      agentDoc("Unmanaged", { managed: false }),
      noManaged,
    ]);
    const src = await source(h);
    const snapshot = await src.load();

    expect(snapshot.agents.map((a) => a.config.name).sort()).toEqual(["Available", "Busy"]);
    expect(snapshot.issues).toEqual([]);
    const available = agentNamed(snapshot, "Available");
    expect(available?.key).toBe(`mongo:${inserted.insertedIds[0]?.toHexString()}`);
    expect(available?.source).toBe("mongo");
    expect(available?.ref).toContain("Available");
    expect(available?.config).toMatchObject({ agent_type: "code_reviewer", base_rate_usd: 0.03 });
    expect(available?.config).not.toHaveProperty("_id");
    expect(agentNamed(snapshot, "Busy")?.config.agent_id).toBe("agent_busy0001");
    expect(src.kind).toBe("mongo");
    expect(src.status().reload?.ok).toBe(true);
    expect(src.status().reload?.at).not.toBeNull();
  });

  it("skips malformed documents with an issue naming the field, logged and counted once", async () => {
    const h = await harness(await anyServer());
    await h.agents.insertMany([
      agentDoc("Good"),
      agentDoc("StringRate", { base_rate_usd: "0.05" }),
      agentDoc("UnknownType", { agent_type: "time_traveller" }),
      agentDoc("NumericStatus", { status: 5 }),
    ]);
    const src = await source(h);
    const snapshot = await src.load();

    expect(snapshot.agents.map((a) => a.config.name)).toEqual(["Good"]);
    const byName = (name: string) => snapshot.issues.find((i) => i.ref.includes(name));
    expect(byName("StringRate")?.message).toMatch(/^base_rate_usd: /);
    expect(byName("UnknownType")?.message).toMatch(/^agent_type: .*time_traveller/);
    expect(byName("NumericStatus")?.message).toMatch(/^status: /);
    expect(snapshot.issues.every((i) => i.source === "mongo")).toBe(true);
    expect(await configErrors(h.metrics)).toBe(3);

    const skipped = linesWith(h, "agent config skipped");
    expect(skipped).toHaveLength(3);
    expect(skipped.every((line) => line.level === 40)).toBe(true);
    const rateLine = skipped.find((line) => String(line.ref).includes("StringRate"));
    expect(rateLine?.problem).toMatch(/base_rate_usd/);

    // The same problems again: still reported in the snapshot, not logged or counted again.
    const again = await src.load();
    expect(again.issues).toHaveLength(3);
    expect(linesWith(h, "agent config skipped")).toHaveLength(3);
    expect(await configErrors(h.metrics)).toBe(3);
  });

  it("throws a clear error, without the password, when MongoDB is unreachable", async () => {
    const port = await closedPort();
    const client = new MongoClient(`mongodb://user:secretpass@127.0.0.1:${port}/`, {
      serverSelectionTimeoutMS: 500,
    });
    cleanups.push(() => client.close());
    const src = await createMongoConfigSource({
      client,
      reloadIntervalMs: 60_000,
      isKnownType: () => true,
      logger: createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    });
    cleanups.push(() => src.close());
    const failure = await src.load().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/cannot read agent configs from MongoDB/);
    expect((failure as Error).message).not.toContain("secretpass");
    expect(src.status().reload?.ok).toBe(false);
    expect(src.status().reload?.error).toEqual(expect.any(String));
    expect(src.status().reload?.error).not.toContain("secretpass");
  });
});

describe("connectMongo", () => {
  it("fails on a closed port with a clear message that hides the password", async () => {
    const port = await closedPort();
    const failure = await connectMongo(`mongodb://user:secretpass@127.0.0.1:${port}/`, {
      serverSelectionTimeoutMS: 500,
    }).then(
      (client) => client.close(),
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain(`MongoDB at mongodb://user:[REDACTED]@127.0.0.1:${port}/`);
    expect(message).toMatch(/is unreachable: /);
    expect(message).not.toContain("secretpass");
  });

  it("connects and pings a live server", async () => {
    const uri = await anyServer();
    const client = await connectMongo(uri, { serverSelectionTimeoutMS: 2000 });
    cleanups.push(() => client.close());
    expect(await client.db("admin").command({ ping: 1 })).toMatchObject({ ok: 1 });
  });
});

describe("MongoDB config source: change stream", () => {
  it("applies insert, updates, delete and managed:false through the change stream", async (ctx) => {
    const h = await harness(await anyServer());
    await h.agents.insertMany([agentDoc("Alpha"), agentDoc("Beta")]);
    const src = await source(h, { reloadIntervalMs: 60_000 });
    const initial = await src.load();
    expect(initial.agents).toHaveLength(2);
    const seen = await watchOpen(ctx, src);
    // Seen before the 60 s periodic reload: it came through the stream (which takes
    // about 2 s at most; the deadline is generous, as the machine may be busy).
    const within = { timeoutMs: WAIT_MS };

    await h.agents.insertOne(agentDoc("Gamma"));
    await waitFor("the insert", () => agentNamed(latest(seen), "Gamma"), within);

    await h.agents.updateOne({ name: "Alpha" }, { $set: { base_rate_usd: 0.07 } });
    await waitFor(
      "the base rate update",
      () => agentNamed(latest(seen), "Alpha")?.config.base_rate_usd === 0.07,
      within,
    );

    await h.agents.updateOne({ name: "Alpha" }, { $set: { keywords: { schema: 1, sql: 0.5 } } });
    await waitFor(
      "the keywords update",
      () => agentNamed(latest(seen), "Alpha")?.config.keywords?.sql === 0.5,
      within,
    );

    await h.agents.updateOne({ name: "Beta" }, { $set: { model: "accounts/x/models/other" } });
    await waitFor(
      "the model update",
      () => agentNamed(latest(seen), "Beta")?.config.model === "accounts/x/models/other",
      within,
    );

    await h.agents.deleteOne({ name: "Gamma" });
    await waitFor("the delete", () => latest(seen) && !agentNamed(latest(seen), "Gamma"), within);

    await h.agents.updateOne({ name: "Beta" }, { $set: { managed: false } });
    await waitFor("managed:false", () => latest(seen) && !agentNamed(latest(seen), "Beta"), within);
    expect(latest(seen)?.agents.map((a) => a.config.name)).toEqual(["Alpha"]);
    expect(await counterValue(h.metrics.configReloads, { outcome: "change" })).toBeGreaterThan(0);
  });

  it("resumes after the server drops its connections", async (ctx) => {
    ctx.skip(REAL_SERVER, IN_PROCESS_ONLY);
    const server = await ownServer();
    const h = await harness(server.uri);
    await h.agents.insertOne(agentDoc("Alpha"));
    const src = await source(h, { backoff: { baseMs: 100, capMs: 400 } });
    await src.load();
    const seen = await watchOpen(ctx, src);

    await server.dropAllConnections();
    await h.agents.insertOne(agentDoc("AfterDrop"));
    await waitFor("the insert after the drop", () => agentNamed(latest(seen), "AfterDrop"));
    await h.agents.updateOne({ name: "Alpha" }, { $set: { base_rate_usd: 0.09 } });
    await waitFor(
      "an update after the drop",
      () => agentNamed(latest(seen), "Alpha")?.config.base_rate_usd === 0.09,
    );
    expect(src.status().changeStream).toBe("active");
  });

  it("stops delivering changes after close()", async (ctx) => {
    const h = await harness(await anyServer());
    const src = await source(h);
    await src.load();
    const seen = await watchOpen(ctx, src);
    await src.close();
    const before = seen.length;
    // A second, open source on the same collection sees the insert: by then the
    // closed one would have seen it too.
    const witness = await source(h);
    await witness.load();
    const witnessed = await watchOpen(ctx, witness);
    await h.agents.insertOne(agentDoc("Late"));
    await waitFor("the open source to see the insert", () => agentNamed(latest(witnessed), "Late"));
    expect(seen.length).toBe(before);
  });
});

describe("MongoDB config source: without change streams", () => {
  it("falls back to the periodic reload, logging once", async (ctx) => {
    ctx.skip(REAL_SERVER, IN_PROCESS_ONLY);
    const server = await ownServer({ changeStreams: false });
    const h = await harness(server.uri);
    await h.agents.insertOne(agentDoc("Alpha"));
    const src = await source(h, { reloadIntervalMs: 300 });
    await src.load();
    const seen: ConfigSnapshot[] = [];
    src.watch((snapshot) => seen.push(snapshot));

    await waitFor("the fallback", () => src.status().changeStream === "unavailable");
    await h.agents.insertOne(agentDoc("Beta"));
    await waitFor("the periodic reload to add Beta", () => agentNamed(latest(seen), "Beta"));
    await h.agents.updateOne({ name: "Alpha" }, { $set: { base_rate_usd: 0.2 } });
    await waitFor(
      "the periodic reload to apply the rate",
      () => agentNamed(latest(seen), "Alpha")?.config.base_rate_usd === 0.2,
    );

    const fallback = linesWith(h, "change streams unavailable");
    expect(fallback).toHaveLength(1);
    expect(fallback[0]?.msg).toContain("relying on the periodic reload every 0.3 s");
    expect(src.status().reload?.ok).toBe(true);
  });
});

describe("MongoDB config source: outages", () => {
  it("keeps the last configs while MongoDB is away, logs once, and recovers", async (ctx) => {
    ctx.skip(REAL_SERVER, IN_PROCESS_ONLY);
    const server = await ownServer();
    const h = await harness(server.uri, { serverSelectionTimeoutMS: 500 });
    await h.agents.insertMany([agentDoc("Alpha"), agentDoc("Beta")]);
    const src = await source(h, { reloadIntervalMs: 300, backoff: { baseMs: 100, capMs: 400 } });
    const initial = await src.load();
    expect(initial.agents).toHaveLength(2);
    const seen = await watchOpen(ctx, src);

    await server.stop();
    const callsAtStop = seen.length;
    await waitFor("the outage to be logged", () => linesWith(h, "MongoDB unreachable").length > 0);
    // Several failed retries later, still one line and no new snapshot.
    await waitFor(
      "three failed reloads",
      async () => (await counterValue(h.metrics.configReloads, { outcome: "error" })) >= 3,
    );
    expect(linesWith(h, "MongoDB unreachable")).toHaveLength(1);
    expect(linesWith(h, "MongoDB unreachable")[0]?.msg).toBe(
      "MongoDB unreachable, keeping the last known agent configs",
    );
    expect(seen.length).toBe(callsAtStop);
    expect(src.status().reload?.ok).toBe(false);
    expect(src.status().reload?.error).toEqual(expect.any(String));

    await server.start();
    await waitFor("recovery to be logged", () => linesWith(h, "MongoDB reachable again").length);
    await h.agents.insertOne(agentDoc("Gamma"));
    await waitFor("a change after recovery", () => agentNamed(latest(seen), "Gamma"));
    expect(linesWith(h, "MongoDB reachable again")).toHaveLength(1);
    expect(linesWith(h, "MongoDB unreachable")).toHaveLength(1);
    // No snapshot ever had fewer agents than the one running before the outage.
    expect(seen.every((snapshot) => snapshot.agents.length >= 2)).toBe(true);
  });
});

describe("MongoDB config source: writeBack", () => {
  it("writes agent_id and wallet once, and the snapshot carries them without a loop", async (ctx) => {
    const h = await harness(await anyServer());
    const { insertedId } = await h.agents.insertOne(agentDoc("Fresh"));
    await h.agents.insertOne(agentDoc("HasWallet", { wallet_address: `0x${"cd".repeat(20)}` }));
    const src = await source(h);
    const initial = await src.load();
    const seen = await watchOpen(ctx, src);
    const fresh = agentNamed(initial, "Fresh");
    const hasWallet = agentNamed(initial, "HasWallet");
    if (!fresh || !hasWallet) throw new Error("agents missing from the initial snapshot");

    await src.writeBack?.(fresh, { agent_id: "agent_fresh001", wallet_address: WALLET });
    expect(await h.agents.findOne({ _id: insertedId })).toMatchObject({
      agent_id: "agent_fresh001",
      wallet_address: WALLET,
    });
    // Written once: a second registration does not replace it.
    await src.writeBack?.(fresh, { agent_id: "agent_other002", wallet_address: WALLET });
    expect((await h.agents.findOne({ _id: insertedId }))?.agent_id).toBe("agent_fresh001");
    // A wallet the document already had is kept.
    await src.writeBack?.(hasWallet, { agent_id: "agent_wallet03", wallet_address: WALLET });
    expect(await h.agents.findOne({ name: "HasWallet" })).toMatchObject({
      agent_id: "agent_wallet03",
      wallet_address: `0x${"cd".repeat(20)}`,
    });

    await waitFor(
      "the snapshot to carry both agent_ids",
      () =>
        agentNamed(latest(seen), "Fresh")?.config.agent_id === "agent_fresh001" &&
        agentNamed(latest(seen), "HasWallet")?.config.agent_id === "agent_wallet03",
    );
    const snapshotKey = agentNamed(latest(seen), "Fresh")?.key;
    expect(snapshotKey).toBe(fresh.key);
    expect(agentNamed(latest(seen), "Fresh")?.config.wallet_address).toBe(WALLET);
    // The write-back's change event settles: no further snapshots keep coming. The
    // stream is ordered, so any snapshot the write-back caused comes before a marker's.
    const settled = seen.length;
    await h.agents.insertOne(agentDoc("Marker"));
    await waitFor("the marker's snapshot", () => agentNamed(latest(seen), "Marker"));
    expect(seen.length).toBe(settled + 1);
  });
});

describe("MongoDB config source: the runner's own write-backs", () => {
  it("writes back 300 agents made at once in one update command; one taken before is kept", async (ctx) => {
    ctx.skip(REAL_SERVER, IN_PROCESS_ONLY);
    const server = await ownServer();
    const h = await harness(server.uri);
    await h.agents.insertMany(
      Array.from({ length: 300 }, (_, i) => agentDoc(`Agent${String(i).padStart(3, "0")}`)),
    );
    const src = await source(h);
    const { agents } = await src.load();
    // Agent 5's document got an agent_id from elsewhere after the load.
    await h.agents.updateOne({ name: "Agent005" }, { $set: { agent_id: "agent_theirs05" } });
    const updatesBefore = server.commandCount("update");
    await Promise.all(
      agents.map((spec, i) =>
        src.writeBack?.(spec, {
          agent_id: `agent_${String(i).padStart(8, "0")}`,
          wallet_address: WALLET,
        }),
      ),
    );
    expect(server.commandCount("update") - updatesBefore).toBe(1);
    expect(await h.agents.findOne({ name: "Agent005" })).toMatchObject({
      agent_id: "agent_theirs05",
    });
    expect(await h.agents.findOne({ name: "Agent006" })).toMatchObject({
      agent_id: "agent_00000006",
      wallet_address: WALLET,
    });
    expect(await h.agents.countDocuments({ agent_id: { $regex: /^agent_0/ } })).toBe(299);
    expect(
      linesWith(h, "agent document already has an agent_id (or is gone); not overwritten"),
    ).toHaveLength(1);
    expect(linesWith(h, "agent_id written back")).toHaveLength(299);
    await src.close();
  });

  it("300 write-backs are applied without re-reading the collection; a real change still is", async (ctx) => {
    ctx.skip(REAL_SERVER, IN_PROCESS_ONLY);
    const server = await ownServer();
    const h = await harness(server.uri);
    const count = 300;
    await h.agents.insertMany(
      Array.from({ length: count }, (_, i) => agentDoc(`Agent${String(i).padStart(3, "0")}`)),
    );
    const src = await source(h);
    const initial = await src.load();
    expect(initial.agents).toHaveLength(count);
    const seen = await watchOpen(ctx, src);
    // The read the opened stream asks for (load + that one): after it, only the test's writes.
    await waitFor(
      "the read after the stream opened",
      async () => (await counterValue(h.metrics.configReloads, { outcome: "ok" })) >= 2,
    );
    const findsBefore = server.commandCount("find");

    // As a start-up writes them: in small groups, spread over a few seconds (each group
    // further apart than the source's debounce, so that nothing coalesces them by luck).
    const groups = 12;
    const perGroup = count / groups;
    for (let g = 0; g < groups; g++) {
      await Promise.all(
        initial.agents.slice(g * perGroup, (g + 1) * perGroup).map((spec, i) =>
          src.writeBack?.(spec, {
            agent_id: `agent_${String(g * perGroup + i).padStart(8, "0")}`,
            wallet_address: WALLET,
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await waitFor(
      "the snapshot to carry every agent_id",
      () => latest(seen)?.agents.every((a) => a.config.agent_id?.startsWith("agent_")) === true,
    );
    expect(latest(seen)?.agents.every((a) => a.config.wallet_address === WALLET)).toBe(true);
    // Their change events were the runner's own: applied from the events, no read at all
    // (before, each one made the source re-read all 300 documents 100 ms later).
    expect(server.commandCount("find") - findsBefore).toBe(0);

    // A real change (with a runner-owned field beside it) is re-read: that document only.
    const target = initial.agents[7];
    if (!target) throw new Error("no agent 7");
    await h.agents.updateOne(
      { name: target.config.name },
      { $set: { base_rate_usd: 0.11, wallet_address: WALLET } },
    );
    await waitFor(
      "the base rate change",
      () => agentNamed(latest(seen), target.config.name)?.config.base_rate_usd === 0.11,
    );
    expect(server.commandCount("find") - findsBefore).toBe(1);
    expect(latest(seen)?.agents).toHaveLength(count);
    expect(agentNamed(latest(seen), target.config.name)?.config.agent_id).toBe("agent_00000007");
  });
});
