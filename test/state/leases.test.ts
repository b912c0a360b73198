import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { holdingsByReplica, type LeaseStore, openLeaseStore } from "../../src/state/leases.ts";
import { type MongoTestTarget, mongoTestUri, uniqueDbName } from "../support/mongo-wire/index.ts";

describe("lease store (bazaar.runner_leases)", () => {
  let target: MongoTestTarget;
  let client: MongoClient;
  const dbName = uniqueDbName("leases");
  let collections = 0;
  let clock = 1_000_000;
  const now = () => clock;

  beforeAll(async () => {
    target = await mongoTestUri();
    client = new MongoClient(target.uri, { serverSelectionTimeoutMS: 5000 });
    await client.connect();
  });
  afterAll(async () => {
    await client
      ?.db(dbName)
      .dropDatabase()
      .catch(() => undefined);
    await client?.close();
    await target?.close();
  });

  /** Two or more replicas on one fresh collection, with a shared fake clock. */
  function replicas(...ids: string[]): LeaseStore[] {
    const collection = `leases_${++collections}`;
    return ids.map((replicaId) =>
      openLeaseStore({ client, dbName, collection, replicaId, ttlMs: 2000, now }),
    );
  }

  it("lets one replica claim a free agent; another cannot take it while it is live", async () => {
    const [a, b] = replicas("r-a", "r-b");
    const first = await a!.claim("agent-1");
    expect(first).toMatchObject({ agent: "agent-1", holder: "r-a", epoch: 1 });
    expect(first?.expiresAt).toBe(clock + 2000);
    expect(await b!.claim("agent-1")).toBeUndefined();
    // Claiming its own again keeps the epoch.
    expect(await a!.claim("agent-1")).toMatchObject({ holder: "r-a", epoch: 1 });
  });

  it("gives exactly one of many racing claimers the agent", async () => {
    const stores = replicas("r-1", "r-2", "r-3", "r-4", "r-5");
    const outcomes = await Promise.all(stores.map((s) => s.claim("contested")));
    const winners = outcomes.filter((o) => o !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]?.epoch).toBe(1);
  });

  it("claims 300 agents at once in two commands, each answered on its own", async () => {
    const collection = `leases_${++collections}`;
    const monitored = new MongoClient(target.uri, { monitorCommands: true });
    const seen: string[] = [];
    monitored.on("commandStarted", (event) => {
      if (["find", "findAndModify", "update"].includes(event.commandName))
        seen.push(event.commandName);
    });
    try {
      const open = (replicaId: string, c: MongoClient) =>
        openLeaseStore({ client: c, dbName, collection, replicaId, ttlMs: 2000, now });
      const other = open("r-other", client);
      const mine = open("r-mine", monitored);
      expect(await other.claim("agent-5")).toMatchObject({ epoch: 1 });
      expect(await mine.claim("agent-6")).toMatchObject({ epoch: 1 });
      seen.length = 0;
      const agents = Array.from({ length: 300 }, (_, i) => `agent-${i}`);
      const leases = await Promise.all(agents.map((agent) => mine.claim(agent)));
      // One bulk of conditional upserts, one read of what is ours.
      expect(seen.sort()).toEqual(["find", "update"]);
      expect(leases[5]).toBeUndefined(); // another replica's, live
      expect(leases[6]).toMatchObject({ holder: "r-mine", epoch: 1 }); // ours already
      expect(leases[7]).toMatchObject({ agent: "agent-7", holder: "r-mine", epoch: 1 });
      expect(leases.filter((lease) => lease !== undefined)).toHaveLength(299);
    } finally {
      await monitored.close();
    }
  });

  it("renews only leases still ours at our epoch and unexpired", async () => {
    const [a, b] = replicas("r-a", "r-b");
    const one = (await a!.claim("x1"))!;
    await a!.claim("x2");
    clock += 1500;
    const renewed = await a!.renew(
      new Map([
        ["x1", one.epoch],
        ["x2", 99],
      ]),
    );
    expect(renewed.map((l) => l.agent)).toEqual(["x1"]);
    expect(renewed[0]?.expiresAt).toBe(clock + 2000);
    // x2 was not renewed: it expires and b takes it, with a new epoch.
    clock += 600;
    expect(await b!.claim("x1")).toBeUndefined();
    const taken = await b!.claim("x2");
    expect(taken).toMatchObject({ holder: "r-b", epoch: 2 });
    expect(await a!.renew(new Map([["x2", 1]]))).toEqual([]);
  });

  it("hands a released lease to the next claimer with a higher epoch", async () => {
    const [a, b] = replicas("r-a", "r-b");
    const held = (await a!.claim("agent"))!;
    expect(await a!.release("agent", held.epoch + 1)).toBe(false);
    expect(await b!.release("agent", held.epoch)).toBe(false);
    expect(await a!.release("agent", held.epoch)).toBe(true);
    expect(await b!.claim("agent")).toMatchObject({ holder: "r-b", epoch: held.epoch + 1 });
    // The old holder's claim of it fails now.
    expect(await a!.claim("agent")).toBeUndefined();
  });

  it("lists live replicas and how many agents each holds", async () => {
    const [a, b, c] = replicas("r-a", "r-b", "r-c");
    for (const store of [a!, b!, c!]) await store.announce();
    await a!.claim("p");
    await a!.claim("q");
    await b!.claim("r");
    const listing = await a!.list();
    expect(listing.replicas).toEqual(["r-a", "r-b", "r-c"]);
    expect(listing.leases.map((l) => l.agent).sort()).toEqual(["p", "q", "r"]);
    expect(holdingsByReplica(listing, clock)).toEqual([
      { id: "r-a", agents: 2 },
      { id: "r-b", agents: 1 },
      { id: "r-c", agents: 0 },
    ]);
    await c!.withdraw();
    clock += 2500; // every lease and announcement expired
    await b!.announce();
    const later = await b!.list();
    expect(later.replicas).toEqual(["r-b"]);
    expect(holdingsByReplica(later, clock)).toEqual([{ id: "r-b", agents: 0 }]);
  });
});
