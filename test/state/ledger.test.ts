import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { StaleEpochError } from "../../src/state/fence.ts";
import { openLedger } from "../../src/state/index.ts";
import { openMongoLedger } from "../../src/state/mongo-ledger.ts";
import { openSqliteLedger } from "../../src/state/sqlite-ledger.ts";
import type { Ledger, LedgerResult } from "../../src/state/types.ts";
import { mongoTestUri, uniqueDbName } from "../support/mongo-wire/index.ts";
import { fakeClock, ledgerContract } from "./ledger-contract.ts";

const RESULT: LedgerResult = { success: true, output: "durable answer", tokensUsed: 7, model: "m" };
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ledger-test-"));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// In memory: what unit tests use in place of a ledger file (":memory:").
ledgerContract("sqlite in memory", async (options) =>
  openSqliteLedger({ ...options, path: ":memory:" }),
);
ledgerContract("sqlite", async (options) =>
  openSqliteLedger({ ...options, path: join(tempDir(), "ledger.sqlite") }),
);

describe("sqlite ledger on disk", () => {
  let dir: string;
  let path: string;
  const open: Ledger[] = [];
  const openAt = (file: string): Ledger => {
    const ledger = openSqliteLedger({ path: file, now: fakeClock() });
    open.push(ledger);
    return ledger;
  };

  beforeEach(() => {
    dir = tempDir();
    path = join(dir, "nested", "state", "ledger.sqlite");
  });
  afterEach(async () => {
    for (const ledger of open.splice(0)) await ledger.close();
  });

  async function writeLifecycle(ledger: Ledger): Promise<void> {
    await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 3 });
    await ledger.recordWon("a1", "j1");
    await ledger.startExecution("a1", "j1");
    await ledger.recordResult("a1", "j1", RESULT);
    await ledger.recordBid("a1", "j2", { bidId: "b2", priceUsd: 1 });
  }

  async function expectLifecycle(ledger: Ledger): Promise<void> {
    expect(await ledger.hasBid("a1", "j1")).toBe(true);
    expect(await ledger.hasBid("a1", "j2")).toBe(true);
    expect(await ledger.get("a1", "j1")).toMatchObject({
      bidId: "b1",
      executionAttempts: 1,
      result: RESULT,
    });
    expect((await ledger.pendingResults()).map((e) => e.jobId)).toEqual(["j1"]);
  }

  it("creates its directory, uses WAL mode and records its schema version", async () => {
    const ledger = openAt(path);
    await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
    expect(existsSync(path)).toBe(true);
    const raw = new DatabaseSync(path, { readOnly: true });
    try {
      expect(raw.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      expect(raw.prepare("PRAGMA user_version").get()).toEqual({ user_version: 6 });
      const indexes = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger'")
        .all();
      expect(indexes.map((row) => row.name)).toContain("ledger_pending");
      expect(indexes.map((row) => row.name)).toContain("ledger_open_stakes");
    } finally {
      raw.close();
    }
  });

  it("sees everything after close and reopen, and keeps counting from there", async () => {
    const first = openAt(path);
    await writeLifecycle(first);
    await first.close();
    const second = openAt(path);
    await expectLifecycle(second);
    expect(await second.startExecution("a1", "j1")).toBe(2);
  });

  it("shares state with a second handle opened while the first is still open", async () => {
    const first = openAt(path);
    await writeLifecycle(first);
    const second = openAt(path); // like a restart after kill -9: the first never closed
    await expectLifecycle(second);
    await second.markAccepted("a1", "j1");
    expect(await first.pendingResults()).toEqual([]);
    expect(await first.startExecution("a1", "j1")).toBe(2);
    expect(await second.startExecution("a1", "j1")).toBe(3);
  });

  it("keeps a result written by a process that was then killed with SIGKILL", async () => {
    const moduleUrl = new URL("../../src/state/sqlite-ledger.ts", import.meta.url).href;
    const script = `
      import { openSqliteLedger } from ${JSON.stringify(moduleUrl)};
      const ledger = openSqliteLedger({ path: ${JSON.stringify(path)} });
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 3 });
      await ledger.recordWon("a1", "j1");
      await ledger.startExecution("a1", "j1");
      await ledger.recordResult("a1", "j1", ${JSON.stringify(RESULT)});
      process.kill(process.pid, "SIGKILL");
    `;
    const run = promisify(execFile)(process.execPath, ["--input-type=module", "-e", script]);
    await expect(run).rejects.toMatchObject({ signal: "SIGKILL" });
    const ledger = openAt(path);
    expect(await ledger.get("a1", "j1")).toMatchObject({
      bidId: "b1",
      executionAttempts: 1,
      result: RESULT,
    });
    expect((await ledger.pendingResults()).map((e) => e.jobId)).toEqual(["j1"]);
  });

  it("keeps wallet indexes, spend and offer answers across a reopen", async () => {
    const first = openAt(path);
    await first.walletIndex("k1");
    await first.walletIndex("k2");
    await first.addSpend("2026-01-01", "k1", 1.5);
    await first.recordOfferAnswer({
      agentId: "a1",
      jobId: "j1",
      bidId: "b1",
      offerIndex: 0,
      action: "accept",
      priceUsd: 1,
      reason: "at or above the floor",
    });
    await first.close();
    const second = openAt(path);
    expect(await second.walletIndex("k2")).toBe(1);
    expect(await second.walletIndex("k3")).toBe(2);
    expect(await second.spendOn("2026-01-01", "k1")).toBe(1.5);
    expect((await second.offerAnswer("b1", 0))?.action).toBe("accept");
  });

  it("refuses a database written by a newer runner", async () => {
    const raw = new DatabaseSync(join(dir, "future.sqlite"));
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    expect(() => openAt(join(dir, "future.sqlite"))).toThrow(/newer/);
  });

  it("works in memory", async () => {
    const ledger = openAt(":memory:");
    await writeLifecycle(ledger);
    await expectLifecycle(ledger);
  });
});

describe("openLedger", () => {
  it("opens sqlite at <stateDir>/ledger.sqlite without a MongoDB client", async () => {
    const stateDir = join(tempDir(), "runner-state");
    const ledger = await openLedger({ stateDir });
    try {
      expect(ledger.backend).toBe("sqlite");
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
      expect(existsSync(join(stateDir, "ledger.sqlite"))).toBe(true);
    } finally {
      await ledger.close();
    }
  });
});

describe("mongo ledger", () => {
  let server: { uri: string; close(): Promise<void> } | undefined;
  let client: MongoClient;
  let collections = 0;
  const dbName = uniqueDbName("ledger");
  const freshCollection = (): string => `ledger_${++collections}`;

  beforeAll(async () => {
    server = await mongoTestUri();
    client = new MongoClient(server.uri);
    await client.connect();
  });
  afterAll(async () => {
    await client
      ?.db(dbName)
      .dropDatabase()
      .catch(() => undefined);
    await client?.close();
    await server?.close();
  });

  ledgerContract("mongo", (options) => {
    const collection = freshCollection();
    return openMongoLedger({
      ...options,
      client,
      dbName,
      collection,
      fenceCollection: `${collection}_fences`,
    });
  });

  it("creates the unique (agent_id, job_id) index and the pending-results index", async () => {
    const collection = freshCollection();
    const ledger = await openMongoLedger({ client, dbName, collection });
    await ledger.close();
    const indexes = await client.db(dbName).collection(collection).listIndexes().toArray();
    const byName = new Map(indexes.map((index) => [index.name, index]));
    expect(byName.get("agent_job_unique")).toMatchObject({
      key: { agent_id: 1, job_id: 1 },
      unique: true,
    });
    expect(byName.get("pending_results")).toMatchObject({
      key: { accepted_at: 1, closed_at: 1, result_at: 1 },
    });
    // Opening again over existing indexes is fine.
    await (await openMongoLedger({ client, dbName, collection })).close();
  });

  it("writes a round of bids as one unordered, majority-journaled update command", async () => {
    const monitored = new MongoClient(server?.uri ?? "", { monitorCommands: true });
    const updates: Array<Record<string, unknown>> = [];
    monitored.on("commandStarted", (event) => {
      if (event.commandName === "update") updates.push(event.command);
    });
    try {
      const ledger = await openMongoLedger({
        client: monitored,
        dbName,
        collection: freshCollection(),
      });
      updates.length = 0; // opening seeds the wallet-index counter: not the round's
      const bids = Array.from({ length: 50 }, (_, i) => ({
        agentId: `a${i % 5}`,
        jobId: `j${i}`,
        bidId: `b${i}`,
        priceUsd: 1,
      }));
      await ledger.recordBids(bids);
      expect(updates).toHaveLength(1);
      expect(updates[0]).toMatchObject({
        ordered: false,
        writeConcern: { w: "majority", j: true },
      });
      expect(updates[0]?.updates).toHaveLength(50);
      expect((await ledger.summary()).bids).toBe(50);
      await ledger.close();
    } finally {
      await monitored.close();
    }
  });

  it("allocates 300 wallet indexes at once: all distinct, none refused, a bounded number of commands", async () => {
    const monitored = new MongoClient(server?.uri ?? "", { monitorCommands: true });
    let commands = 0;
    monitored.on("commandStarted", (event) => {
      if (["find", "findAndModify", "insert", "update"].includes(event.commandName)) commands++;
    });
    try {
      const ledger = await openMongoLedger({
        client: monitored,
        dbName,
        collection: freshCollection(),
      });
      commands = 0;
      const keys = Array.from({ length: 300 }, (_, i) => `agent-${i}`);
      const indexes = await Promise.all(keys.map((key) => ledger.walletIndex(key)));
      expect(new Set(indexes).size).toBe(300);
      // Asked in one turn, they are one batch: one look, one atomic step, one insert.
      expect(commands).toBe(3);
      commands = 0;
      expect(await Promise.all(keys.map((key) => ledger.walletIndex(key)))).toEqual(indexes);
      expect(commands).toBe(1);
      await ledger.close();
    } finally {
      await monitored.close();
    }
  });

  it("answers 300 agents' start-up reads and fences at once in a few commands", async () => {
    const monitored = new MongoClient(server?.uri ?? "", { monitorCommands: true });
    const seen: string[] = [];
    monitored.on("commandStarted", (event) => {
      if (["find", "findAndModify", "insert", "update"].includes(event.commandName))
        seen.push(event.commandName);
    });
    try {
      const ledger = await openMongoLedger({
        client: monitored,
        dbName,
        collection: freshCollection(),
        fenceCollection: `${freshCollection()}_fences`,
      });
      await ledger.recordBid("agent-7", "j1", { bidId: "b1", priceUsd: 2 });
      await ledger.recordWon("agent-7", "j1");
      await ledger.recordPayment({
        jobId: "j1",
        agentId: "agent-7",
        amountUsd: 2,
        outcome: "released",
        qualityScore: 0.9,
      });
      await ledger.raiseFence("agent-9", 4);
      seen.length = 0;
      const ids = Array.from({ length: 300 }, (_, i) => `agent-${i}`);
      const started = await Promise.all(
        ids.map((id) =>
          Promise.all([
            ledger.agentTotals(id),
            ledger.paidTotals(id),
            ledger.raiseFence(id, 3).then(
              () => "raised",
              (error: unknown) => (error instanceof StaleEpochError ? "stale" : error),
            ),
          ]),
        ),
      );
      // One find each for totals and payments; the fences: raise, read back, stamp.
      expect(seen.sort()).toEqual(["find", "find", "find", "update", "update"]);
      expect(started[7]).toEqual([
        { bids: 1, bidUsd: 2, won: 1, wonUsd: 2, succeeded: 0, failed: 0 },
        { jobs: 1, paidUsd: 2 },
        "raised",
      ]);
      expect(started[9]?.[2]).toBe("stale");
      expect(started.filter(([, , fence]) => fence === "raised")).toHaveLength(299);
      expect((await ledger.get("agent-7", "j1"))?.epoch).toBe(3);
      await ledger.close();
    } finally {
      await monitored.close();
    }
  });

  it("maps each agent once when two replicas allocate the same agents' wallet indexes at once", async () => {
    const collection = freshCollection();
    const [a, b] = await Promise.all([
      openMongoLedger({ client, dbName, collection }),
      openMongoLedger({ client, dbName, collection }),
    ]);
    const keys = Array.from({ length: 100 }, (_, i) => `agent-${i}`);
    const [fromA, fromB] = await Promise.all([
      Promise.all(keys.map((key) => a.walletIndex(key))),
      Promise.all([...keys].reverse().map((key) => b.walletIndex(key))),
    ]);
    expect([...(fromB ?? [])].reverse()).toEqual(fromA);
    expect(new Set(fromA).size).toBe(100);
    await a.close();
    await b.close();
  });

  it("continues wallet indexes from the highest of a database from before the counter", async () => {
    const collection = freshCollection();
    await client
      .db(dbName)
      .collection(`${collection}_wallets`)
      .insertMany([
        { agent_key: "old-a", wallet_index: 0, created_at: new Date() },
        { agent_key: "old-b", wallet_index: 7, created_at: new Date() },
      ]);
    const ledger = await openMongoLedger({ client, dbName, collection });
    expect(await ledger.walletIndex("old-b")).toBe(7);
    expect(await ledger.walletIndex("new-a")).toBe(8);
    await ledger.close();
    // Opening again (another replica, a restart) leaves a counter that is ahead alone.
    const again = await openMongoLedger({ client, dbName, collection });
    expect(await again.walletIndex("new-b")).toBe(9);
    expect(await again.walletIndex("new-a")).toBe(8);
    await again.close();
  });

  it("catches the counter up with indexes a runner from before it took meanwhile", async () => {
    const collection = freshCollection();
    const ledger = await openMongoLedger({ client, dbName, collection });
    expect(await ledger.walletIndex("first")).toBe(0);
    // An older runner (no counter) takes 1..30 while this one runs, as during an upgrade.
    await client
      .db(dbName)
      .collection(`${collection}_wallets`)
      .insertMany(
        Array.from({ length: 30 }, (_, i) => ({
          agent_key: `old-${i}`,
          wallet_index: i + 1,
          created_at: new Date(),
        })),
      );
    expect(await ledger.walletIndex("next")).toBe(31);
    expect(await ledger.walletIndex("after")).toBe(32);
    await ledger.close();
  });

  it("stores one snake_case document per (agent, job) with real dates", async () => {
    const collection = freshCollection();
    const ledger = await openMongoLedger({ client, dbName, collection });
    await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 2.5 });
    await ledger.recordResult("a1", "j1", RESULT);
    await ledger.recordResult("a1", "j1", RESULT);
    await ledger.close();
    const docs = await client.db(dbName).collection(collection).find({}).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({
      agent_id: "a1",
      job_id: "j1",
      bid_id: "b1",
      bid_price_usd: 2.5,
      result: { success: true, output: RESULT.output, tokens_used: 7, model: "m" },
    });
    expect(docs[0]?.bid_at).toBeInstanceOf(Date);
    expect(docs[0]?.result_at).toBeInstanceOf(Date);
  });

  it("leaves the client open and shows all state to a new client, as after a restart", async () => {
    const collection = freshCollection();
    const first = await openMongoLedger({ client, dbName, collection, now: fakeClock() });
    await first.recordBid("a1", "j1", { bidId: "b1", priceUsd: 3 });
    await first.recordWon("a1", "j1");
    await first.startExecution("a1", "j1");
    await first.recordResult("a1", "j1", RESULT);
    await first.close();
    expect(await client.db(dbName).command({ ping: 1 })).toMatchObject({ ok: 1 });

    const restarted = new MongoClient(server?.uri ?? "");
    try {
      const second = await openMongoLedger({ client: restarted, dbName, collection });
      expect(await second.hasBid("a1", "j1")).toBe(true);
      expect(await second.get("a1", "j1")).toMatchObject({ executionAttempts: 1, result: RESULT });
      expect((await second.pendingResults()).map((e) => e.jobId)).toEqual(["j1"]);
      expect(await second.startExecution("a1", "j1")).toBe(2);
      await second.close();
    } finally {
      await restarted.close();
    }
  });

  it("refuses a malformed document instead of guessing", async () => {
    const collection = freshCollection();
    const ledger = await openMongoLedger({ client, dbName, collection });
    try {
      await client.db(dbName).collection(collection).insertOne({
        agent_id: "a1",
        job_id: "bad",
        execution_attempts: "many",
        updated_at: new Date(),
      });
      await expect(ledger.get("a1", "bad")).rejects.toThrow();
    } finally {
      await ledger.close();
    }
  });

  it("is what openLedger picks when given a client: bazaar.runner_ledger", async () => {
    const jobId = `open-ledger-${process.pid}-${Date.now()}`;
    const ledger = await openLedger({ stateDir: join(tempDir(), "unused"), mongoClient: client });
    try {
      expect(ledger.backend).toBe("mongo");
      await ledger.recordBid("a1", jobId, { bidId: "b1", priceUsd: 1 });
      const doc = await client
        .db("bazaar")
        .collection("runner_ledger")
        .findOne({ agent_id: "a1", job_id: jobId });
      expect(doc?.bid_id).toBe("b1");
    } finally {
      await client
        .db("bazaar")
        .collection("runner_ledger")
        .deleteOne({ agent_id: "a1", job_id: jobId });
      await ledger.close();
    }
  });
});
