import type { Collection, Document, MongoClient } from "mongodb";
import { BazaarRunnerError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay } from "../retry.ts";
import { errorMessage } from "../secrets.ts";
import { SelfClockedBatch } from "../self-clocked.ts";
import {
  type ChangeStreamWatcher,
  isChangeStreamUnsupported,
  startChangeStreamWatcher,
} from "./mongo-change-stream.ts";
import { classifyChange, documentKey, PendingChanges } from "./mongo-changes.ts";
import { buildSnapshot, SnapshotGate } from "./snapshot.ts";
import type { AgentSpec, ConfigSnapshot, ConfigSource, ConfigSourceStatus } from "./types.ts";
import { documentRef } from "./validate.ts";

export { connectMongo } from "./mongo-connect.ts";
export { isChangeStreamUnsupported };

export interface MongoConfigSourceOptions {
  /** The official driver's client, connected by the caller (who also closes it). */
  client: MongoClient;
  dbName?: string;
  collection?: string;
  /** Full reload period; the only mechanism where change streams are unavailable. */
  reloadIntervalMs: number;
  isKnownType: (agentType: string) => boolean;
  logger: Logger;
  metrics?: Metrics;
  /** Retry delays while MongoDB is unreachable (and for reopening the change stream). */
  backoff?: { baseMs?: number; capMs?: number };
  /** Change events are coalesced for this long before the changed documents are re-read. */
  debounceMs?: number;
  /**
   * The runner's own write-backs (agent_id, wallet) are applied without a read, and
   * passed on in one snapshot at most this often: a start-up writes back every agent.
   */
  writeBackDelayMs?: number;
}

/** One managed document as last read (or patched): its raw `_id`, log reference and fields. */
interface KnownDocument {
  id: unknown;
  ref: string;
  fields: Record<string, unknown>;
}

const RUNNABLE_STATUSES = new Set(["available", "busy"]);

/**
 * How long a write-back waits for the next agents' (bench:startup): they come one per
 * registration, at the registrar's pace, and go together in one bulkWrite.
 */
const WRITE_BACK_GATHER_MS = 50;

/** One agent's write-back: its document's raw `_id` and the fields to set there. */
interface WriteBack {
  id: unknown;
  set: Record<string, string>;
}

/**
 * Agents from `bazaar.agents`: documents with `managed: true` and status available/busy.
 * Changes arrive through a change stream: the changed documents are re-read after a short
 * debounce (a burst coalesces into one read), the runner's own write-backs are applied
 * from the event without a read, and the whole collection is re-read periodically and
 * whenever the stream (re)opens. While MongoDB is away the last known set stays.
 */
export async function createMongoConfigSource(
  options: MongoConfigSourceOptions,
): Promise<ConfigSource> {
  const dbName = options.dbName ?? "bazaar";
  const collectionName = options.collection ?? "agents";
  const collection: Collection<Document> = options.client.db(dbName).collection(collectionName);
  const { logger, metrics } = options;
  const reloadIntervalMs = Math.max(1, options.reloadIntervalMs);
  const debounceMs = options.debounceMs ?? 100;
  const writeBackDelayMs = options.writeBackDelayMs ?? 1000;
  const baseMs = options.backoff?.baseMs ?? 1000;
  const capMs = options.backoff?.capMs ?? 30_000;

  const reported = new Set<string>();
  /** The managed documents by key; writeBack addresses a document by its raw `_id`. */
  let known = new Map<string, KnownDocument>();
  let pending = new PendingChanges();
  let lastFullRead = 0;
  let changeStream: ConfigSourceStatus["changeStream"] = "n/a";
  const gate = new SnapshotGate({ source: "mongo", logger, metrics });
  let onChange: ((snapshot: ConfigSnapshot) => void) | undefined;
  let watcher: ChangeStreamWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = Number.POSITIVE_INFINITY;
  let running = false;
  let rerun = false;
  let closed = false;

  /**
   * Write-backs gathered into one unordered bulkWrite; each answers whether its document
   * took it. The filter makes each a write-once: an agent_id already there is never
   * replaced. Which ones did not match is read back only when some did not.
   */
  const writeBacks = new SelfClockedBatch(
    async (batch: WriteBack[]): Promise<boolean[]> => {
      const result = await collection.bulkWrite(
        batch.map(({ id, set }) => {
          // Any _id type (ObjectId, string, number): the filter is built as a plain document.
          const filter: Document = { _id: id, agent_id: { $exists: false } };
          return { updateOne: { filter, update: { $set: set } } };
        }),
        { ordered: false },
      );
      if (result.matchedCount === batch.length) return batch.map(() => true);
      const filter: Document = { _id: { $in: batch.map((write) => write.id) } };
      const docs = await collection.find(filter, { projection: { agent_id: 1 } }).toArray();
      const now = new Map(docs.map((doc) => [documentKey(doc._id), doc.agent_id]));
      return batch.map(({ id, set }) => now.get(documentKey(id)) === set.agent_id);
    },
    { gatherMs: WRITE_BACK_GATHER_MS },
  );

  // Never faster than half the ceiling: an outage is retried steadily, not hammered.
  const backoffMs = (attempt: number) => backoffDelay(attempt, { baseMs, capMs, jitter: "equal" });

  function knownEntry(doc: Document): [string, KnownDocument] {
    const { _id: id, ...fields } = doc;
    const key = documentKey(id);
    return [key, { id, ref: documentRef(doc, key), fields }];
  }

  async function readAll(): Promise<Map<string, KnownDocument>> {
    const docs = await collection.find({ managed: true }).toArray();
    const all = new Map(docs.map(knownEntry));
    lastFullRead = Date.now();
    return all;
  }

  /** Re-reads the given documents into `known` (one query): gone or unmanaged ones leave. */
  async function readSome(ids: Map<string, unknown>): Promise<void> {
    // Any _id type (ObjectId, string, number): the filter is built as a plain document.
    const filter: Document = { _id: { $in: [...ids.values()] }, managed: true };
    const docs = await collection.find(filter).toArray();
    for (const key of ids.keys()) known.delete(key);
    for (const doc of docs) {
      const [key, entry] = knownEntry(doc);
      known.set(key, entry);
    }
  }

  function snapshotOf(docs: Map<string, KnownDocument>): ConfigSnapshot {
    const entries = [...docs].map(([key, entry]) => ({ key, ref: entry.ref, doc: entry.fields }));
    const built = buildSnapshot(entries, {
      source: "mongo",
      isKnownType: options.isKnownType,
      logger,
      metrics,
      reported,
    });
    // Validated first, so a managed document with a malformed status is reported, not ignored.
    const agents = built.agents
      .filter((spec) => RUNNABLE_STATUSES.has(spec.config.status))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const issues = [...built.issues].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
    return { agents, issues };
  }

  /** Whether the periodic full read is due (it also runs while changes keep coming). */
  const fullReadDue = () => Date.now() >= lastFullRead + reloadIntervalMs;

  /**
   * One refresh for the watch loop: takes the pending changes, reads what they need (the
   * whole collection when due or asked, else only the changed documents), applies the
   * runner's own write-backs, and offers the result. Never throws, keeps the last set on
   * failure (and reads everything at the next try).
   */
  async function refreshOnce(): Promise<void> {
    const batch = pending;
    pending = new PendingChanges();
    try {
      // Many changed documents at once: one full read is as cheap as picking them out.
      if (batch.all || fullReadDue() || batch.documents.size > Math.max(16, known.size / 2)) {
        const all = await readAll();
        if (closed) return;
        known = all;
      } else {
        if (batch.documents.size > 0) await readSome(batch.documents);
        if (closed) return;
        for (const [key, fields] of batch.patches) {
          const entry = known.get(key);
          // A document re-read in this batch already carries them (it was read after).
          if (entry && !batch.documents.has(key)) entry.fields = { ...entry.fields, ...fields };
        }
      }
      if (gate.failures > 0) logger.info({ source: "mongo" }, "MongoDB reachable again");
      gate.offer(snapshotOf(known), onChange, "reload");
    } catch (error) {
      if (closed) return;
      pending.all = true;
      const failures = gate.failed(error);
      if (failures === 1) {
        logger.warn(
          { source: "mongo", problem: errorMessage(error) },
          "MongoDB unreachable, keeping the last known agent configs",
        );
      } else {
        logger.debug(
          { source: "mongo", attempt: failures, problem: errorMessage(error) },
          "agent config reload failed again",
        );
      }
    }
  }

  /** Arms the single reload timer; an earlier request wins over a later one. */
  function schedule(delayMs: number): void {
    if (closed) return;
    const due = Date.now() + delayMs;
    if (timer && timerDue <= due) return;
    if (timer) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(fire, delayMs);
    timer.unref();
  }

  function fire(): void {
    timer = undefined;
    timerDue = Number.POSITIVE_INFINITY;
    if (running) {
      rerun = true;
      return;
    }
    running = true;
    void (async () => {
      do {
        rerun = false;
        await refreshOnce();
      } while (rerun && !closed);
      running = false;
      const failures = gate.failures;
      schedule(
        failures > 0
          ? Math.min(backoffMs(failures), reloadIntervalMs)
          : Math.max(0, lastFullRead + reloadIntervalMs - Date.now()),
      );
    })();
  }

  return {
    kind: "mongo",

    async load() {
      let snapshot: ConfigSnapshot;
      try {
        known = await readAll();
        snapshot = snapshotOf(known);
      } catch (error) {
        gate.failed(error);
        throw new BazaarRunnerError(
          "BR_ERR_MONGODB_UNAVAILABLE",
          `cannot read agent configs from MongoDB (${dbName}.${collectionName}): ${errorMessage(error)}`,
        );
      }
      gate.prime(snapshot);
      return snapshot;
    },

    watch(listener) {
      if (closed || onChange) return;
      onChange = listener;
      if (!gate.primed) pending.all = true;
      schedule(gate.primed ? Math.max(0, lastFullRead + reloadIntervalMs - Date.now()) : 0);
      // changeStream stays "n/a" until the stream is open (or known unavailable).
      watcher = startChangeStreamWatcher({
        collection,
        logger,
        backoffMs,
        onChange: (event) => {
          const change = classifyChange(event);
          if (!change) return;
          pending.add(change);
          schedule(change.kind === "patch" ? writeBackDelayMs : debounceMs);
        },
        // Re-read once the stream is open: changes made before it opened are not in it.
        onOpened: () => {
          changeStream = "active";
          pending.all = true;
          schedule(debounceMs);
        },
        // Re-read now, so that an outage is noticed (and logged) without waiting a period.
        onInterrupted: () => {
          pending.all = true;
          schedule(0);
        },
        onUnavailable: (error) => {
          changeStream = "unavailable";
          logger.warn(
            { source: "mongo", problem: errorMessage(error) },
            `change streams unavailable; relying on the periodic reload every ${Math.round(reloadIntervalMs / 100) / 10} s`,
          );
        },
      });
    },

    async writeBack(spec: AgentSpec, fields: { agent_id: string; wallet_address: string }) {
      const id = known.get(spec.key)?.id;
      if (id === undefined) {
        logger.warn(
          { source: "mongo", ref: spec.ref },
          "agent document gone; agent_id not written back",
        );
        return;
      }
      const set: Record<string, string> = { agent_id: fields.agent_id };
      if (spec.config.wallet_address === undefined) set.wallet_address = fields.wallet_address;
      const written = await writeBacks.get({ id, set });
      // Known at once, with or without a change stream: no read needed to carry it.
      if (!written) pending.add({ kind: "document", key: spec.key, id });
      else pending.add({ kind: "patch", key: spec.key, fields: set });
      if (onChange) schedule(written ? writeBackDelayMs : debounceMs);
      if (!written) {
        logger.warn(
          { source: "mongo", ref: spec.ref, agentId: fields.agent_id },
          "agent document already has an agent_id (or is gone); not overwritten",
        );
      } else {
        logger.info(
          { source: "mongo", ref: spec.ref, agentId: fields.agent_id },
          "agent_id written back",
        );
      }
    },

    status() {
      return { changeStream, reload: gate.status() };
    },

    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await watcher?.close();
    },
  };
}
