import type { Collection, Document, MongoClient } from "mongodb";
import { z } from "zod";

/**
 * Agent leases in `bazaar.runner_leases`: which replica runs which agent. One document
 * per agent (`agent:<key>`: holder, expiry, epoch) and one per live replica
 * (`replica:<id>`: expiry), so that a replica holding nothing yet still counts when the
 * agents are divided. The epoch grows with every change of holder; ledger writes carry
 * it (fencing), so a replica that lost a lease cannot write for that agent any more.
 */

export interface AgentLease {
  agent: string;
  holder: string | null;
  /** Epoch ms; the lease is live while this is in the future. */
  expiresAt: number;
  epoch: number;
}

export interface LeaseListing {
  /** Live replicas (this one included once announced), sorted by id. */
  replicas: string[];
  /** Every agent's lease document, live or not. */
  leases: AgentLease[];
}

export interface LeaseStoreOptions {
  client: MongoClient;
  dbName?: string;
  collection?: string;
  replicaId: string;
  ttlMs: number;
  now?: () => number;
}

interface LeaseDoc extends Document {
  _id: string;
  kind: "agent" | "replica";
  agent?: string;
  replica?: string;
  holder?: string | null;
  expires_at: Date;
  epoch?: number;
}

const agentDocSchema = z.object({
  agent: z.string(),
  holder: z.string().nullish(),
  expires_at: z.date(),
  epoch: z.number().int().nonnegative(),
});

function toLease(raw: unknown): AgentLease {
  const doc = agentDocSchema.parse(raw);
  return {
    agent: doc.agent,
    holder: doc.holder ?? null,
    expiresAt: doc.expires_at.getTime(),
    epoch: doc.epoch,
  };
}

const agentDocId = (agent: string): string => `agent:${agent}`;
const replicaDocId = (replica: string): string => `replica:${replica}`;

export interface LeaseStore {
  readonly replicaId: string;
  readonly ttlMs: number;
  /**
   * Takes the agent's lease when it is free (never held, released or expired) or already
   * ours, in one atomic findOneAndUpdate. Undefined when another replica holds it live.
   */
  claim(agent: string): Promise<AgentLease | undefined>;
  /** Extends the leases still ours at these epochs; returns those that were. */
  renew(held: ReadonlyMap<string, number>): Promise<AgentLease[]>;
  /** Gives the lease up (after the agent drained); false when it was no longer ours. */
  release(agent: string, epoch: number): Promise<boolean>;
  /** Says this replica is alive, for the division of agents. */
  announce(): Promise<void>;
  /** Says this replica is leaving. */
  withdraw(): Promise<void>;
  list(): Promise<LeaseListing>;
}

export function openLeaseStore(options: LeaseStoreOptions): LeaseStore {
  const clock = options.now ?? Date.now;
  const me = options.replicaId;
  const ttl = options.ttlMs;
  const coll: Collection<LeaseDoc> = options.client
    .db(options.dbName ?? "bazaar")
    .collection<LeaseDoc>(options.collection ?? "runner_leases");

  return {
    replicaId: me,
    ttlMs: ttl,
    async claim(agent) {
      const now = clock();
      try {
        const doc = await coll.findOneAndUpdate(
          {
            _id: agentDocId(agent),
            $or: [{ holder: me }, { holder: null }, { expires_at: { $lte: new Date(now) } }],
          },
          // A pipeline, so the epoch can depend on the previous holder: it grows only
          // when the holder changes (a re-claim of our own expired lease keeps it).
          [
            {
              $set: {
                kind: "agent",
                agent,
                epoch: {
                  $cond: [
                    { $eq: ["$holder", me] },
                    "$epoch",
                    { $add: [{ $ifNull: ["$epoch", 0] }, 1] },
                  ],
                },
                holder: me,
                expires_at: new Date(now + ttl),
              },
            },
          ],
          { upsert: true, returnDocument: "after" },
        );
        return doc === null ? undefined : toLease(doc);
      } catch (error) {
        // The document exists and did not match: another replica holds it, live.
        if (isDuplicateKey(error)) return undefined;
        throw error;
      }
    },
    async renew(held) {
      if (held.size === 0) return [];
      const now = clock();
      const mine = [...held].map(([agent, epoch]) => ({ _id: agentDocId(agent), epoch }));
      // Only unexpired leases are extended: an expired one may already be someone else's
      // in their eyes, and is claimed again instead.
      const filter = {
        holder: me,
        expires_at: { $gt: new Date(now) },
        $or: mine,
      };
      await coll.updateMany(filter, { $set: { expires_at: new Date(now + ttl) } });
      const docs = await coll
        .find({ kind: "agent", holder: me, $or: mine, expires_at: { $gt: new Date(now) } })
        .toArray();
      return docs.map(toLease);
    },
    async release(agent, epoch) {
      const result = await coll.updateOne(
        { _id: agentDocId(agent), holder: me, epoch },
        { $set: { holder: null, expires_at: new Date(clock()) } },
      );
      return result.modifiedCount === 1;
    },
    async announce() {
      await coll.updateOne(
        { _id: replicaDocId(me) },
        { $set: { kind: "replica", replica: me, expires_at: new Date(clock() + ttl) } },
        { upsert: true },
      );
    },
    async withdraw() {
      await coll.deleteOne({ _id: replicaDocId(me) });
    },
    async list() {
      const now = new Date(clock());
      const docs = await coll.find({}).toArray();
      const replicas = docs
        .filter((d) => d.kind === "replica" && d.expires_at > now && typeof d.replica === "string")
        .map((d) => d.replica as string)
        .sort();
      const leases = docs.filter((d) => d.kind === "agent").map(toLease);
      return { replicas, leases };
    },
  };
}

/** Whether a lease is held by someone at `now`. */
export function isLive(lease: AgentLease, now: number): boolean {
  return lease.holder !== null && lease.expiresAt > now;
}

/** Live replicas with how many agents each holds (for status). */
export function holdingsByReplica(
  listing: LeaseListing,
  now: number,
): Array<{ id: string; agents: number }> {
  const counts = new Map<string, number>(listing.replicas.map((id) => [id, 0]));
  for (const lease of listing.leases) {
    if (isLive(lease, now) && lease.holder !== null)
      counts.set(lease.holder, (counts.get(lease.holder) ?? 0) + 1);
  }
  return [...counts].map(([id, agents]) => ({ id, agents })).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** A duplicate-key error (11000), told by its code so the driver is not loaded just for this. */
function isDuplicateKey(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === 11000;
}
