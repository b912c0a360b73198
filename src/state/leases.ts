import type { Collection, Document, MongoClient } from "mongodb";
import { z } from "zod";
import { SelfClockedBatch } from "../self-clocked.ts";

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
   * ours, atomically per agent. Undefined when another replica holds it live. Claims made
   * together are batched: two commands per batch, however many agents.
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

  /**
   * One unordered bulkWrite of conditional upserts, then one find of what is ours now. Each
   * upsert is atomic on its document; one that collides (E11000) found the lease held live
   * by another replica, and the find leaves it out.
   */
  const claimAll = async (agents: string[]): Promise<(AgentLease | undefined)[]> => {
    const now = clock();
    const unique = [...new Set(agents)];
    try {
      await coll.bulkWrite(
        unique.map((agent) => ({
          updateOne: {
            filter: {
              _id: agentDocId(agent),
              $or: [{ holder: me }, { holder: null }, { expires_at: { $lte: new Date(now) } }],
            },
            // A pipeline, so the epoch can depend on the previous holder: it grows only
            // when the holder changes (a re-claim of our own expired lease keeps it).
            update: [
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
            upsert: true,
          },
        })),
        { ordered: false },
      );
    } catch (error) {
      // The documents that exist and did not match: other replicas hold them, live.
      if (!onlyDuplicateKeys(error)) throw error;
    }
    const ours = new Map<string, AgentLease>();
    const docs = coll.find({
      _id: { $in: unique.map(agentDocId) },
      holder: me,
      expires_at: { $gt: new Date(now) },
    });
    for await (const doc of docs) {
      const lease = toLease(doc);
      ours.set(lease.agent, lease);
    }
    return agents.map((agent) => ours.get(agent));
  };
  const claims = new SelfClockedBatch(claimAll);

  return {
    replicaId: me,
    ttlMs: ttl,
    claim: (agent) => claims.get(agent),
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

/**
 * A bulk write that failed only on duplicate keys (11000), told by the codes so the driver
 * is not loaded just for this.
 */
function onlyDuplicateKeys(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("writeErrors" in error)) return false;
  const { writeErrors } = error;
  const errors: unknown[] = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return (
    errors.length > 0 &&
    errors.every((e) => typeof e === "object" && e !== null && "code" in e && e.code === 11000)
  );
}
