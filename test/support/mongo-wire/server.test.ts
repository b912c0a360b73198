import { connect, type Socket } from "node:net";
import { BSON, Long, UUID } from "bson";
import {
  type ChangeStream,
  type ChangeStreamDocument,
  type Document,
  MongoClient,
  MongoServerError,
  ObjectId,
} from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { cloneDoc, valueKey, valuesEqual } from "./docs.ts";
import {
  type Doc,
  type MongoTestTarget,
  type MongoWireServer,
  type MongoWireServerOptions,
  mongoTestUri,
  startMongoWireServer,
  uniqueDbName,
} from "./index.ts";

/**
 * The MongoDB stand-in, driven by the official driver. The driver-level tests also run against
 * MONGODB_TEST_URI when set, which checks the stand-in's behaviour against a real server; the
 * tests that need the stand-in's controls (stop/start, dropped connections) skip there.
 */

interface Counter {
  _id: string;
  n?: number;
  label?: string;
  kind?: string;
  created?: boolean;
  log?: string[];
  touched?: boolean;
  fresh?: number;
}

const clientOptions = { serverSelectionTimeoutMS: 2000 };
const real = Boolean(process.env.MONGODB_TEST_URI);

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function clientFor(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, clientOptions);
  await client.connect();
  closers.push(() => client.close());
  return client;
}

async function standIn(options?: MongoWireServerOptions): Promise<MongoWireServer> {
  const server = await startMongoWireServer(options);
  closers.push(() => server.close());
  return server;
}

/** Collects a change stream's events; resolves once the stream's cursor is open (first token). */
async function collect(
  stream: ChangeStream<Document, ChangeStreamDocument<Document>>,
): Promise<ChangeStreamDocument<Document>[]> {
  const events: ChangeStreamDocument<Document>[] = [];
  stream.on("change", (event) => events.push(event));
  stream.on("error", () => {});
  closers.push(() => stream.close());
  await new Promise<void>((resolve) => stream.once("resumeTokenChanged", () => resolve()));
  return events;
}

describe("mongo wire server: driver operations", () => {
  let target: MongoTestTarget;
  let client: MongoClient;
  const dbName = uniqueDbName("wire");

  beforeAll(async () => {
    target = await mongoTestUri();
    client = new MongoClient(target.uri, clientOptions);
    await client.connect();
  });

  afterAll(async () => {
    await client?.db(dbName).dropDatabase();
    await client?.close();
    await target?.close();
  });

  it("connects as a one-member replica set primary and answers ping", async () => {
    const admin = client.db("admin");
    expect(await admin.command({ ping: 1 })).toMatchObject({ ok: 1 });
    const hello = await admin.command({ hello: 1 });
    expect(hello).toMatchObject({ isWritablePrimary: true, ok: 1 });
    expect(typeof hello.setName).toBe("string");
    expect(hello.hosts).toContain(hello.me);
    expect(hello.maxWireVersion).toBeGreaterThanOrEqual(21);
    expect(hello.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
    const pong = await admin.command({ ping: 1 });
    expect(pong.$clusterTime).toBeDefined();
    expect(pong.operationTime).toBeDefined();
  });

  it("queries through a unique compound index answer as a scan would", async () => {
    const entries = client.db(dbName).collection("entries");
    await entries.createIndex({ agent: 1, job: 1 }, { unique: true });
    await entries.insertMany([
      { agent: "a", job: "j1", epoch: 2 },
      { agent: "a", job: "j2", epoch: 1 },
      { agent: "b", job: "j1" },
    ]);
    // The key plus a condition: the condition still decides (a fenced upsert collides).
    const fenced = { agent: "a", job: "j1", epoch: { $not: { $gt: 1 } } };
    expect(await entries.findOne(fenced)).toBeNull();
    await expect(
      entries.updateOne(fenced, { $set: { epoch: 1 } }, { upsert: true }),
    ).rejects.toMatchObject({ code: 11000 });
    const open = { agent: "a", job: "j2", epoch: { $not: { $gt: 1 } } };
    expect((await entries.updateOne(open, { $set: { bid: "x" } })).modifiedCount).toBe(1);
    // A pattern on a key field is no key: every document is looked at.
    expect(await entries.countDocuments({ agent: /^[ab]$/, job: "j1" })).toBe(2);
    expect(await entries.findOne({ agent: "b", job: "j1" })).toMatchObject({ agent: "b" });
    expect(await entries.findOne({ agent: "c", job: "j1" })).toBeNull();
    expect((await entries.deleteOne({ agent: "a", job: "j2" })).deletedCount).toBe(1);
    expect(await entries.countDocuments({})).toBe(2);
  });

  it("queries through any index with equality or $in lists answer as a scan would", async () => {
    const bids = client.db(dbName).collection("bids");
    await bids.createIndex({ job: 1 });
    await bids.createIndex({ agent: 1, job: 1 }, { unique: true });
    await bids.insertMany([
      { agent: "a", job: "j1", bid: "x", n: 1 },
      { agent: "b", job: "j1", bid: null, n: 2 },
      { agent: "a", job: "j2", bid: "y", n: 3 },
      { agent: "c", job: "j3", bid: "z", n: 1.5 },
    ]);
    const agentsOf = async (filter: Document) =>
      (await bids.find(filter).toArray()).map((d) => `${d.agent}/${d.job}`).sort();
    // The round's look-up: a list of jobs, a condition the index does not decide.
    expect(await agentsOf({ job: { $in: ["j1", "j2", "j9"] }, bid: { $ne: null } })).toEqual([
      "a/j1",
      "a/j2",
    ]);
    // Both fields of the compound index as lists; a further condition still decides.
    expect(await agentsOf({ agent: { $in: ["a", "b"] }, job: { $in: ["j1", "j3"] } })).toEqual([
      "a/j1",
      "b/j1",
    ]);
    expect(await agentsOf({ agent: { $in: ["a", "b"] }, job: "j1", n: { $gt: 1 } })).toEqual([
      "b/j1",
    ]);
    expect(await agentsOf({ job: { $eq: "j3" }, n: { $in: [1.5] } })).toEqual(["c/j3"]);
    expect(await agentsOf({ job: { $in: [] } })).toEqual([]);
    // Writes move documents between keys; a deleted one is gone from the index.
    await bids.updateMany({ job: { $in: ["j2"] } }, { $set: { job: "j3" } });
    expect(await agentsOf({ job: "j3" })).toEqual(["a/j3", "c/j3"]);
    await bids.deleteOne({ agent: "c", job: { $in: ["j3"] } });
    expect(await agentsOf({ job: { $in: ["j3", "j2"] } })).toEqual(["a/j3"]);
    // An array in an indexed field matches by element: the index is no longer a lookup.
    await bids.insertOne({ agent: "d", job: ["j1", "j3"] });
    expect(await agentsOf({ job: "j1" })).toEqual(["a/j1", "b/j1", "d/j1,j3"]);
    expect(await agentsOf({ job: { $in: ["j3"] } })).toEqual(["a/j3", "d/j1,j3"]);
    await expect(bids.insertOne({ agent: "a", job: "j1" })).rejects.toMatchObject({ code: 11000 });
    await bids.dropIndexes();
    expect(await agentsOf({ agent: "a", job: { $in: ["j1", "j3"] } })).toEqual(["a/j1", "a/j3"]);
  });

  it("matches with query operators, nested clauses and aggregation expressions", async () => {
    const items = client.db(dbName).collection("operators");
    await items.insertMany([
      { name: "a", qty: 5, limit: 3, tags: ["x", "y"], parts: [{ n: 1 }, { n: 7 }] },
      { name: "b", qty: 1, limit: 3, tags: ["y"], parts: [{ n: 2 }] },
      { name: "c", qty: 9, limit: 10, tags: [], parts: [] },
    ]);
    const names = async (filter: Document) =>
      (await items.find(filter).toArray()).map((d) => d.name).sort();
    expect(await names({ tags: { $size: 2 } })).toEqual(["a"]);
    expect(await names({ tags: { $all: ["y"] }, name: { $regex: "^[ab]$" } })).toEqual(["a", "b"]);
    expect(await names({ parts: { $elemMatch: { n: { $gt: 5 } } } })).toEqual(["a"]);
    expect(await names({ qty: { $not: { $lt: 5 } } })).toEqual(["a", "c"]);
    expect(await names({ $nor: [{ qty: 1 }, { name: "c" }] })).toEqual(["a"]);
    // Expressions, at the top and nested in a clause.
    expect(await names({ $expr: { $gt: ["$qty", "$limit"] } })).toEqual(["a"]);
    expect(await names({ $or: [{ $expr: { $eq: ["$qty", 1] } }, { name: "c" }] })).toEqual([
      "b",
      "c",
    ]);
  });

  it("inserts and finds with filter, sort, limit and projection", async () => {
    const people = client.db(dbName).collection("people");
    const one = await people.insertOne({ name: "ada", age: 36, tags: ["math"] });
    expect(one.insertedId).toBeInstanceOf(ObjectId);
    const many = await people.insertMany([
      { name: "bob", age: 25, tags: ["art"] },
      { name: "cy", age: 41, tags: ["math", "art"] },
      { name: "dee", age: 19 },
    ]);
    expect(many.insertedCount).toBe(3);
    const found = await people
      .find({ age: { $gte: 20 } })
      .sort({ age: -1 })
      .limit(2)
      .project({ _id: 0, name: 1, age: 1 })
      .toArray();
    expect(found).toEqual([
      { name: "cy", age: 41 },
      { name: "ada", age: 36 },
    ]);
    expect(await people.findOne({ _id: one.insertedId })).toMatchObject({ name: "ada" });
    const art = await people.find({ tags: "art" }, { sort: { name: 1 } }).toArray();
    expect(art.map((doc) => doc.name)).toEqual(["bob", "cy"]);
    expect((await people.distinct("tags")).sort()).toEqual(["art", "math"]);
  });

  it("hands out large results in batches through getMore", async () => {
    const numbers = client.db(dbName).collection("numbers");
    await numbers.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
    const getMores = target.server?.commandCount("getMore") ?? 0;
    // 250 documents: a first batch of 101, the rest through getMore.
    const all = await numbers.find({}).sort({ i: 1 }).toArray();
    expect(all.map((doc) => doc.i)).toEqual(Array.from({ length: 250 }, (_, i) => i));

    const cursor = numbers.find({ i: { $lt: 120 } }).batchSize(50);
    const seen: number[] = [];
    for await (const doc of cursor) seen.push(doc.i);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    if (target.server) {
      expect(target.server.commandCount("getMore")).toBeGreaterThanOrEqual(getMores + 3);
    }

    // An abandoned cursor is killed on the server, not leaked.
    const kills = target.server?.commandCount("killCursors") ?? 0;
    const partial = numbers.find({}).batchSize(10);
    expect(await partial.next()).toMatchObject({ i: 0 });
    await partial.close();
    if (target.server) expect(target.server.commandCount("killCursors")).toBe(kills + 1);
  });

  it("updates with operators, upserts and replaces", async () => {
    const counters = client.db(dbName).collection<Counter>("counters");
    await counters.insertOne({ _id: "a", n: 1, label: "x" });
    const updated = await counters.updateOne(
      { _id: "a" },
      { $set: { label: "y" }, $inc: { n: 2 }, $unset: { missing: "" } },
    );
    expect(updated).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await counters.findOne({ _id: "a" })).toEqual({ _id: "a", n: 3, label: "y" });

    const upserted = await counters.updateOne(
      { _id: "b", kind: "new" },
      { $inc: { n: 1 }, $setOnInsert: { created: true }, $push: { log: "first" } },
      { upsert: true },
    );
    expect(upserted).toMatchObject({ matchedCount: 0, upsertedCount: 1, upsertedId: "b" });
    expect(await counters.findOne({ _id: "b" })).toEqual({
      _id: "b",
      kind: "new",
      n: 1,
      created: true,
      log: ["first"],
    });
    // $setOnInsert does nothing on a match.
    await counters.updateOne(
      { _id: "b" },
      { $inc: { n: 1 }, $setOnInsert: { created: false } },
      { upsert: true },
    );
    expect(await counters.findOne({ _id: "b" })).toMatchObject({ n: 2, created: true });

    const noop = await counters.updateOne({ _id: "a" }, { $set: { label: "y" } });
    expect(noop).toMatchObject({ matchedCount: 1, modifiedCount: 0 });

    const many = await counters.updateMany({}, { $set: { touched: true } });
    expect(many).toMatchObject({ matchedCount: 2, modifiedCount: 2 });

    const replaced = await counters.replaceOne({ _id: "a" }, { fresh: 1 });
    expect(replaced).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    expect(await counters.findOne({ _id: "a" })).toEqual({ _id: "a", fresh: 1 });

    await expect(counters.updateOne({ _id: "a" }, { $set: { _id: "z" } })).rejects.toMatchObject({
      code: 66,
    });
  });

  it("a $set of top-level fields keeps existing fields in place and appends new ones", async () => {
    const rows = client.db(dbName).collection<{ _id: string; [field: string]: unknown }>("rows");
    await rows.insertOne({ _id: "r", a: 1, b: { c: 2 }, d: 3 });
    await rows.updateOne({ _id: "r" }, { $set: { b: { c: 5 }, e: new Date(0), a: "x" } });
    const row = await rows.findOne({ _id: "r" });
    expect(row).toEqual({ _id: "r", a: "x", b: { c: 5 }, d: 3, e: new Date(0) });
    expect(Object.keys(row ?? {})).toEqual(["_id", "a", "b", "d", "e"]);
    await rows.updateOne(
      { _id: "s" },
      { $set: { a: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    await rows.updateOne(
      { _id: "s" },
      { $set: { a: 2 }, $setOnInsert: { created: false } },
      { upsert: true },
    );
    expect(await rows.findOne({ _id: "s" })).toEqual({ _id: "s", a: 2, created: true });
  });

  it("updates the array element a filter matched through a positional $ path", async () => {
    const carts = client
      .db(dbName)
      .collection<{ _id: string; items: { k: number; v: string }[] }>("carts");
    await carts.insertOne({
      _id: "c",
      items: [
        { k: 1, v: "a" },
        { k: 2, v: "b" },
      ],
    });
    await carts.updateOne({ _id: "c", "items.k": 2 }, { $set: { "items.$.v": "changed" } });
    expect(await carts.findOne({ _id: "c" })).toEqual({
      _id: "c",
      items: [
        { k: 1, v: "a" },
        { k: 2, v: "changed" },
      ],
    });
  });

  it("deletes one and many", async () => {
    const items = client.db(dbName).collection("items");
    await items.insertMany([{ k: 1 }, { k: 1 }, { k: 2 }, { k: 3 }]);
    expect(await items.deleteOne({ k: 1 })).toMatchObject({ deletedCount: 1 });
    expect(await items.deleteMany({ k: { $in: [1, 2] } })).toMatchObject({ deletedCount: 2 });
    expect(await items.find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ k: 3 }]);
    expect(await items.deleteMany({ k: 99 })).toMatchObject({ deletedCount: 0 });
  });

  it("findOneAndUpdate/Delete return the requested document", async () => {
    const jobs = client.db(dbName).collection("jobs");
    await jobs.insertMany([
      { name: "a", priority: 1, state: "queued" },
      { name: "b", priority: 5, state: "queued" },
    ]);
    const claimed = await jobs.findOneAndUpdate(
      { state: "queued" },
      { $set: { state: "running" } },
      { sort: { priority: -1 }, returnDocument: "after", projection: { _id: 0 } },
    );
    expect(claimed).toEqual({ name: "b", priority: 5, state: "running" });
    const before = await jobs.findOneAndUpdate(
      { name: "a" },
      { $inc: { priority: 1 } },
      { returnDocument: "before" },
    );
    expect(before).toMatchObject({ name: "a", priority: 1 });
    const created = await jobs.findOneAndUpdate(
      { name: "c" },
      { $set: { state: "queued" } },
      { upsert: true, returnDocument: "after" },
    );
    expect(created).toMatchObject({ name: "c", state: "queued" });
    expect(await jobs.findOneAndUpdate({ name: "zzz" }, { $set: { x: 1 } })).toBeNull();
    expect(await jobs.findOneAndDelete({ name: "a" })).toMatchObject({ priority: 2 });
    expect(await jobs.countDocuments()).toBe(2);
  });

  it("counts documents", async () => {
    const events = client.db(dbName).collection("events");
    await events.insertMany(Array.from({ length: 30 }, (_, i) => ({ i, even: i % 2 === 0 })));
    expect(await events.countDocuments()).toBe(30);
    expect(await events.countDocuments({ even: true })).toBe(15);
    expect(await events.countDocuments({ even: true }, { skip: 5, limit: 4 })).toBe(4);
    expect(await events.countDocuments({ nothing: 1 })).toBe(0);
    expect(await events.estimatedDocumentCount()).toBe(30);
    const grouped = await events
      .aggregate([{ $match: { i: { $lt: 10 } } }, { $group: { _id: "$even", n: { $sum: 1 } } }])
      .toArray();
    expect(grouped.sort((a, b) => Number(a._id) - Number(b._id))).toEqual([
      { _id: false, n: 5 },
      { _id: true, n: 5 },
    ]);
    expect(
      await events.aggregate([{ $match: { even: false } }, { $count: "odd" }]).toArray(),
    ).toEqual([{ odd: 15 }]);
  });

  it("leaves stored documents untouched by projections and pipelines", async () => {
    const nested = client.db(dbName).collection("nested");
    await nested.insertOne({ _id: 1 as never, a: { b: 1 }, arr: [1, 2] });
    const added = await nested
      .aggregate([{ $addFields: { "a.c": 2 } }, { $unwind: "$arr" }])
      .toArray();
    expect(added).toHaveLength(2);
    expect(added[0]).toMatchObject({ a: { b: 1, c: 2 }, arr: 1 });
    expect(await nested.findOne({}, { projection: { "a.b": 0 } })).toEqual({
      _id: 1,
      a: {},
      arr: [1, 2],
    });
    expect(await nested.findOne({})).toEqual({ _id: 1, a: { b: 1 }, arr: [1, 2] });
  });

  it("enforces _id and unique indexes with duplicate key errors", async () => {
    const users = client.db(dbName).collection("users");
    const name = await users.createIndex({ email: 1 }, { unique: true });
    expect(name).toBe("email_1");
    await users.insertOne({ _id: 1 as never, email: "a@x" });
    await expect(users.insertOne({ email: "a@x" })).rejects.toMatchObject({ code: 11000 });
    await expect(users.insertOne({ _id: 1 as never, email: "b@x" })).rejects.toMatchObject({
      code: 11000,
    });
    await users.insertOne({ _id: 2 as never, email: "b@x" });
    await expect(
      users.updateOne({ _id: 2 as never }, { $set: { email: "a@x" } }),
    ).rejects.toMatchObject({ code: 11000 });
    const error = await users.insertOne({ email: "b@x" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).keyValue).toEqual({ email: "b@x" });

    const indexes = await users.listIndexes().toArray();
    expect(indexes.map((index) => index.name).sort()).toEqual(["_id_", "email_1"]);
    expect(indexes.find((index) => index.name === "email_1")).toMatchObject({ unique: true });
    await users.dropIndex("email_1");
    await users.insertOne({ email: "a@x" });
    expect(await users.countDocuments({ email: "a@x" })).toBe(2);
  });

  it("lists, creates and drops collections and databases", async () => {
    const db = client.db(dbName);
    await db.createCollection("made");
    // Since MongoDB 7, creating an existing collection with identical options succeeds.
    await db.createCollection("made");
    await expect(db.createCollection("made", { capped: true, size: 4096 })).rejects.toMatchObject({
      code: 48,
    });
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names).toContain("made");
    const dbs = await client.db("admin").admin().listDatabases();
    expect(dbs.databases.map((d) => d.name)).toContain(dbName);
    expect(await db.collection("made").drop()).toBe(true);
    const after = (await db.listCollections().toArray()).map((c) => c.name);
    expect(after).not.toContain("made");
  });

  it("answers unknown commands and stages with the server's errors", async () => {
    const db = client.db(dbName);
    const error = await db.command({ noSuchCommand: 1 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 59, codeName: "CommandNotFound" });
    await expect(
      db
        .collection("x")
        .aggregate([{ $foo: {} }])
        .toArray(),
    ).rejects.toMatchObject({
      code: 40324,
    });
    await expect(
      db
        .collection("x")
        .find({ a: { $bogus: 1 } })
        .toArray(),
    ).rejects.toBeInstanceOf(MongoServerError);
  });

  it("streams insert, update and delete events with updateLookup", async () => {
    const agents = client.db(dbName).collection("agents");
    // A long maxAwaitTimeMS: events can only arrive promptly if getMore wakes on writes.
    const stream = agents.watch([], { fullDocument: "updateLookup", maxAwaitTimeMS: 60_000 });
    const events = await collect(stream);
    const { insertedId } = await agents.insertOne({ name: "a", rate: 1 });
    await agents.updateOne({ _id: insertedId }, { $set: { rate: 2 }, $unset: { name: "" } });
    await agents.deleteOne({ _id: insertedId });
    await waitFor("three change events", () => events.length >= 3);
    expect(events.map((event) => event.operationType)).toEqual(["insert", "update", "delete"]);
    const [inserted, updated, deleted] = events;
    expect(inserted).toMatchObject({
      ns: { db: dbName, coll: "agents" },
      documentKey: { _id: insertedId },
      fullDocument: { _id: insertedId, name: "a", rate: 1 },
    });
    expect(updated).toMatchObject({
      updateDescription: { updatedFields: { rate: 2 }, removedFields: ["name"] },
      fullDocument: { _id: insertedId, rate: 2 },
    });
    expect(deleted).toMatchObject({ documentKey: { _id: insertedId } });
    expect(deleted && "fullDocument" in deleted ? deleted.fullDocument : undefined).toBeUndefined();
    for (const event of events) expect(event._id).toHaveProperty("_data");
  });

  it("filters change events with a $match pipeline and resumes from a token", async () => {
    const coll = client.db(dbName).collection("filtered");
    const stream = coll.watch([{ $match: { operationType: "insert", "fullDocument.keep": true } }]);
    const events = await collect(stream);
    await coll.insertOne({ keep: false, n: 1 });
    await coll.insertOne({ keep: true, n: 2 });
    await coll.updateMany({}, { $set: { x: 1 } });
    await coll.insertOne({ keep: true, n: 3 });
    await waitFor("two matching inserts", () => events.length >= 2);
    expect(events.map((event) => (event as { fullDocument: Document }).fullDocument.n)).toEqual([
      2, 3,
    ]);

    // A new stream resuming after the first event replays what came after it.
    const resumed = coll.watch([{ $match: { operationType: "insert" } }], {
      resumeAfter: events[0]!._id,
    });
    closers.push(() => resumed.close());
    const replayed = await resumed.next();
    expect((replayed as { fullDocument: Document }).fullDocument.n).toBe(3);
  });

  it("rejects a stream whose pipeline strips the resume token", async () => {
    const coll = client.db(dbName).collection("stripped");
    const stream = coll.watch([{ $project: { _id: 0 } }]);
    closers.push(() => stream.close());
    await stream.tryNext();
    await coll.insertOne({ a: 1 });
    await expect(stream.next()).rejects.toMatchObject({ code: 280 });
  });

  it("watches a database and the whole deployment", async () => {
    const db = client.db(dbName);
    const dbEvents = await collect(db.watch());
    const clusterEvents = await collect(
      client.watch([{ $match: { "ns.db": dbName, "ns.coll": { $in: ["one", "two"] } } }]),
    );
    await db.collection("one").insertOne({ n: 1 });
    await db.collection("two").insertOne({ n: 2 });
    await waitFor("db events", () => dbEvents.length >= 2);
    await waitFor("cluster events", () => clusterEvents.length >= 2);
    for (const events of [dbEvents, clusterEvents]) {
      expect(events.map((event) => (event as { ns: { coll: string } }).ns.coll)).toEqual([
        "one",
        "two",
      ]);
    }
  });

  it("starts a change stream at an operation time", async () => {
    const coll = client.db(dbName).collection("timed");
    const session = client.startSession();
    closers.push(() => session.endSession());
    await coll.insertOne({ n: 1 }, { session });
    await coll.insertOne({ n: 2 }, { session });
    const time = session.operationTime;
    expect(time).toBeDefined();
    await coll.insertOne({ n: 3 });
    const stream = coll.watch([], { startAtOperationTime: time });
    closers.push(() => stream.close());
    const first = await stream.next();
    const second = await stream.next();
    expect(
      [first, second].map((event) => (event as { fullDocument: Document }).fullDocument.n),
    ).toEqual([2, 3]);
  });

  it("runs writes inside a transaction", async () => {
    const coll = client.db(dbName).collection("txn");
    await coll.insertOne({ n: 0 });
    const session = client.startSession();
    closers.push(() => session.endSession());
    await session.withTransaction(async () => {
      await coll.insertOne({ n: 1 }, { session });
      await coll.updateOne({ n: 0 }, { $set: { seen: true } }, { session });
    });
    expect(await coll.countDocuments()).toBe(2);
    expect(await coll.findOne({ n: 0 })).toMatchObject({ seen: true });
  });
});

describe.skipIf(real)("mongo wire server: outages and controls", () => {
  it("resumes a change stream after dropped connections without losing events", async () => {
    const server = await standIn();
    const client = await clientFor(server.uri);
    const coll = client.db("resume").collection("c");
    const stream = coll.watch([], { fullDocument: "updateLookup" });
    const events = await collect(stream);
    await coll.insertOne({ n: 1 });
    await waitFor("first event", () => events.length >= 1);
    const aggregatesBefore = server.commandCount("aggregate");

    await server.dropAllConnections();
    await coll.insertOne({ n: 2 });
    await coll.updateOne({ n: 2 }, { $set: { m: 1 } });
    await server.dropAllConnections();
    await coll.insertOne({ n: 3 });

    await waitFor("all four events", () => events.length >= 4);
    expect(server.commandCount("aggregate")).toBeGreaterThan(aggregatesBefore);
    expect(events.map((event) => event.operationType)).toEqual([
      "insert",
      "insert",
      "update",
      "insert",
    ]);
    const tokens = events.map((event) => JSON.stringify(event._id));
    expect(new Set(tokens).size).toBe(4);
    expect(events[2]).toMatchObject({ fullDocument: { n: 2, m: 1 } });
  });

  it("answers 286 for a resume token that has left the history", async () => {
    const server = await standIn({ historyLimit: 5 });
    const client = await clientFor(server.uri);
    const coll = client.db("history").collection("c");
    const stream = coll.watch();
    const events = await collect(stream);
    await coll.insertOne({ n: 0 });
    await waitFor("an event", () => events.length >= 1);
    await stream.close();
    await coll.insertMany(Array.from({ length: 10 }, (_, n) => ({ n: n + 1 })));
    const late = coll.watch([], { resumeAfter: events[0]!._id });
    closers.push(() => late.close());
    await expect(late.next()).rejects.toMatchObject({ code: 286 });
  });

  it("recovers after the server stops and starts again on the same port", async () => {
    const server = await standIn();
    const client = await clientFor(server.uri);
    const coll = client.db("outage").collection("c");
    await coll.insertOne({ n: 1 });
    const port = server.port;

    await server.stop();
    expect(server.connectionCount).toBe(0);
    await expect(coll.findOne({ n: 1 })).rejects.toBeDefined();

    await server.start();
    expect(server.port).toBe(port);
    const doc = await waitFor("a find after restart", () => coll.findOne({ n: 1 }));
    expect(doc).toMatchObject({ n: 1 });
    await coll.insertOne({ n: 2 });
    expect(server.collection("outage", "c").map((d) => d.n)).toEqual([1, 2]);
  });

  it("behaves as a standalone server without change streams", async () => {
    const server = await standIn({ changeStreams: false });
    const client = await clientFor(server.uri);
    const hello = await client.db("admin").command({ hello: 1 });
    expect(hello.setName).toBeUndefined();
    expect(hello.isWritablePrimary).toBe(true);
    const coll = client.db("plain").collection("c");
    await coll.insertOne({ n: 1 });
    expect(await coll.countDocuments()).toBe(1);
    const stream = coll.watch();
    closers.push(() => stream.close());
    const error = await stream.next().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 40573 });
  });

  it("applies unacknowledged (moreToCome) writes without answering", async () => {
    const server = await standIn();
    const client = await clientFor(server.uri);
    const coll = client.db("fire").collection("c");
    await coll.insertOne({ n: 1 }, { writeConcern: { w: 0 } });
    await waitFor("the unacknowledged insert", () => server.collection("fire", "c").length === 1);
  });

  it("speaks OP_MSG with document sequences and checksums on a raw socket", async () => {
    const server = await standIn();
    const raw = await rawConnection(server.port);
    const body = BSON.serialize({ insert: "c", $db: "raw", ordered: true });
    const docs = [BSON.serialize({ _id: 1, a: "x" }), BSON.serialize({ _id: 2, a: "y" })];
    const id = Buffer.from("documents\0");
    const sequenceSize = 4 + id.length + docs.reduce((sum, doc) => sum + doc.length, 0);
    const sections = Buffer.concat([
      Buffer.from([0]),
      body,
      Buffer.from([1]),
      int32(sequenceSize),
      id,
      ...docs,
    ]);
    // checksumPresent: the trailing CRC-32C is skipped (not verified) by the stand-in.
    const reply = await raw.send(2013, Buffer.concat([int32(1), sections, int32(0)]));
    expect(reply.opCode).toBe(2013);
    expect(reply.doc).toMatchObject({ n: 2, ok: 1 });
    expect(server.collection("raw", "c")).toEqual([
      { _id: 1, a: "x" },
      { _id: 2, a: "y" },
    ]);
  });

  it("answers the legacy OP_QUERY handshake with OP_REPLY and refuses other OP_QUERY commands", async () => {
    const server = await standIn();
    const raw = await rawConnection(server.port);
    const query = (command: Document) =>
      Buffer.concat([
        int32(0),
        Buffer.from("admin.$cmd\0"),
        int32(0),
        int32(-1),
        BSON.serialize(command),
      ]);
    const hello = await raw.send(2004, query({ isMaster: 1, helloOk: true }));
    expect(hello.opCode).toBe(1);
    expect(hello.doc).toMatchObject({ ismaster: true, helloOk: true, setName: "rs0", ok: 1 });
    const ping = await raw.send(2004, query({ ping: 1 }));
    expect(ping.doc).toMatchObject({ ok: 0, code: 352 });
  });

  it("applies a retried write (same lsid and txnNumber) once", async () => {
    const server = await standIn();
    const raw = await rawConnection(server.port);
    const insert = BSON.serialize({
      insert: "c",
      documents: [{ n: 1 }],
      lsid: { id: new UUID() },
      txnNumber: Long.fromNumber(1),
      $db: "retry",
    });
    const message = Buffer.concat([int32(0), Buffer.from([0]), insert]);
    expect((await raw.send(2013, message)).doc).toMatchObject({ n: 1, ok: 1 });
    expect((await raw.send(2013, message)).doc).toMatchObject({ n: 1, ok: 1 });
    expect(server.collection("retry", "c")).toHaveLength(1);
  });

  it("mongoTestUri prefers MONGODB_TEST_URI and otherwise starts a stand-in", async () => {
    const local = await mongoTestUri();
    closers.push(() => local.close());
    expect(local.server).toBeDefined();
    expect(local.uri).toBe(local.server?.uri);

    process.env.MONGODB_TEST_URI = "mongodb://db.example:27017/?replicaSet=rs0";
    try {
      const configured = await mongoTestUri();
      expect(configured.uri).toBe("mongodb://db.example:27017/?replicaSet=rs0");
      expect(configured.server).toBeUndefined();
    } finally {
      delete process.env.MONGODB_TEST_URI;
    }
  });

  it("also works through a replicaSet URI", async () => {
    const server = await standIn();
    const client = await clientFor(server.replicaSetUri);
    const coll = client.db("rs").collection("c");
    await coll.insertOne({ n: 1 });
    expect(await coll.countDocuments()).toBe(1);
  });
});

/** A bare TCP connection that sends one message at a time and reads the one reply. */
async function rawConnection(port: number): Promise<{
  send(opCode: number, payload: Buffer): Promise<{ opCode: number; doc: Document }>;
}> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  closers.push(async () => {
    socket.destroy();
  });
  let requestId = 100;
  return {
    send(opCode, payload) {
      requestId += 1;
      const header = Buffer.concat([
        int32(16 + payload.length),
        int32(requestId),
        int32(0),
        int32(opCode),
      ]);
      const sentId = requestId;
      return new Promise((resolve, reject) => {
        let buffered = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk]);
          if (buffered.length < 4 || buffered.length < buffered.readInt32LE(0)) return;
          socket.off("data", onData);
          if (buffered.readInt32LE(8) !== sentId) reject(new Error("reply to another request"));
          const replyOpCode = buffered.readInt32LE(12);
          // OP_MSG: flags (4) + section kind (1); OP_REPLY: flags, cursorId, from, count (20).
          const bodyAt = replyOpCode === 2013 ? 21 : 36;
          resolve({ opCode: replyOpCode, doc: BSON.deserialize(buffered.subarray(bodyAt)) });
        };
        socket.on("data", onData);
        socket.write(Buffer.concat([header, payload]));
      });
    },
  };
}

function int32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value, 0);
  return buf;
}

describe("mongo wire server: stored copies", () => {
  it("copies a document as a trip through BSON would", () => {
    const id = new ObjectId();
    const nullProto = Object.assign(Object.create(null), { x: 1 });
    const docs: Doc[] = [
      { _id: id, s: "é\u2028", n: 1, f: 1.5, neg: -0, big: 2 ** 40, b: true, z: null },
      { at: new Date(1_700_000_000_000), nested: { list: [1, undefined, { a: undefined }] } },
      { gone: undefined, nullProto, deep: [[["x"]]] },
      { long: Long.fromNumber(7), bin: new BSON.Binary(Buffer.from("ab")), uuid: new UUID() },
      { when: new Date(Number.NaN), inside: { dec: BSON.Decimal128.fromString("1.5") } },
      JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}'),
    ];
    for (const doc of docs) {
      const copy = cloneDoc(doc);
      const viaBson = BSON.deserialize(BSON.serialize(doc, { ignoreUndefined: true }));
      expect(BSON.serialize(copy)).toEqual(BSON.serialize(viaBson));
      expect(copy).toEqual(viaBson);
      expect(Object.keys(copy)).toEqual(Object.keys(viaBson));
    }
    // Nothing is shared but immutable values: changing the copy leaves the original.
    const original = { a: { b: [1, { c: 2 }] }, at: new Date(0) };
    const copy = cloneDoc(original);
    (copy.a.b[1] as { c: number }).c = 3;
    copy.at.setTime(5);
    expect(original).toEqual({ a: { b: [1, { c: 2 }] }, at: new Date(0) });
    expect(() => cloneDoc({ "bad\0key": 1 })).toThrow();
    // Equality as the documents' EJSON text has it, for plain values and others alike.
    const id2 = new ObjectId();
    const values: unknown[] = [
      0,
      -0,
      1,
      1.5,
      Number.NaN,
      Long.fromNumber(1),
      "1",
      "",
      true,
      false,
      null,
      undefined,
      new Date(0),
      new Date(1),
      new Date(Number.NaN),
      id,
      id2,
      new ObjectId(id.toHexString()),
      [],
      [1],
      [1, 2],
      [2, 1],
      [undefined],
      [null],
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      { a: 1 },
      { a: 1, b: undefined },
      { a: [{ d: new Date(5) }] },
      { a: [{ d: new Date(5) }] },
    ];
    for (const a of values)
      for (const b of values)
        expect(valuesEqual(a, b), `${valueKey(a)} vs ${valueKey(b)}`).toBe(
          valueKey(a) === valueKey(b),
        );
    // BSON writes an invalid Date as the epoch; a list's undefined comes back null.
    expect(cloneDoc({ w: new Date(Number.NaN) }).w).toEqual(new Date(0));
    expect(cloneDoc({ l: [undefined] }).l).toEqual([null]);
  });
});
