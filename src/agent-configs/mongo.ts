import type { Collection, Document, MongoClient } from "mongodb";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay } from "../retry.ts";
import { errorMessage } from "../secrets.ts";
import {
  type ChangeStreamWatcher,
  isChangeStreamUnsupported,
  startChangeStreamWatcher,
} from "./mongo-change-stream.ts";
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
  /** Change events are coalesced for this long before the collection is re-read. */
  debounceMs?: number;
}

const RUNNABLE_STATUSES = new Set(["available", "busy"]);

/**
 * Agents from `bazaar.agents`: documents with `managed: true` and status available/busy.
 * Changes arrive through a change stream (re-read after a short debounce, so bursts
 * coalesce) and a periodic full reload; while MongoDB is away the last known set stays.
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
  const baseMs = options.backoff?.baseMs ?? 1000;
  const capMs = options.backoff?.capMs ?? 30_000;

  const reported = new Set<string>();
  /** Raw `_id` of each key, so writeBack can address the document whatever its _id type. */
  const idsByKey = new Map<string, unknown>();
  let changeStream: ConfigSourceStatus["changeStream"] = "n/a";
  const gate = new SnapshotGate({ source: "mongo", logger, metrics });
  let onChange: ((snapshot: ConfigSnapshot) => void) | undefined;
  let watcher: ChangeStreamWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = Number.POSITIVE_INFINITY;
  let running = false;
  let rerun = false;
  let closed = false;

  // Never faster than half the ceiling: an outage is retried steadily, not hammered.
  const backoffMs = (attempt: number) => backoffDelay(attempt, { baseMs, capMs, jitter: "equal" });

  async function read(): Promise<ConfigSnapshot> {
    const docs = await collection.find({ managed: true }).toArray();
    const entries: Array<{ key: string; ref: string; doc: unknown }> = [];
    const ids = new Map<string, unknown>();
    for (const doc of docs) {
      const { _id: id, ...fields } = doc;
      const key = `mongo:${String(id)}`;
      ids.set(key, id);
      entries.push({ key, ref: documentRef(doc, key), doc: fields });
    }
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
    idsByKey.clear();
    for (const [key, id] of ids) idsByKey.set(key, id);
    return { agents, issues };
  }

  /** One reload for the watch loop: never throws, keeps the last set on failure. */
  async function reloadOnce(): Promise<void> {
    try {
      const snapshot = await read();
      if (closed) return;
      if (gate.failures > 0) logger.info({ source: "mongo" }, "MongoDB reachable again");
      gate.offer(snapshot, onChange, "reload");
    } catch (error) {
      if (closed) return;
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
        await reloadOnce();
      } while (rerun && !closed);
      running = false;
      const failures = gate.failures;
      schedule(failures > 0 ? Math.min(backoffMs(failures), reloadIntervalMs) : reloadIntervalMs);
    })();
  }

  return {
    kind: "mongo",

    async load() {
      let snapshot: ConfigSnapshot;
      try {
        snapshot = await read();
      } catch (error) {
        gate.failed(error);
        throw new Error(
          `cannot read agent configs from MongoDB (${dbName}.${collectionName}): ${errorMessage(error)}`,
        );
      }
      gate.prime(snapshot);
      return snapshot;
    },

    watch(listener) {
      if (closed || onChange) return;
      onChange = listener;
      schedule(gate.primed ? reloadIntervalMs : 0);
      // changeStream stays "n/a" until the stream is open (or known unavailable).
      watcher = startChangeStreamWatcher({
        collection,
        logger,
        backoffMs,
        onChange: () => schedule(debounceMs),
        // Re-read once the stream is open: changes made before it opened are not in it.
        onOpened: () => {
          changeStream = "active";
          schedule(debounceMs);
        },
        // Re-read now, so that an outage is noticed (and logged) without waiting a period.
        onInterrupted: () => schedule(0),
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
      const id = idsByKey.get(spec.key);
      if (id === undefined) {
        logger.warn(
          { source: "mongo", ref: spec.ref },
          "agent document gone; agent_id not written back",
        );
        return;
      }
      const set: Record<string, string> = { agent_id: fields.agent_id };
      if (spec.config.wallet_address === undefined) set.wallet_address = fields.wallet_address;
      // The filter makes this a write-once: an agent_id already there is never replaced.
      const filter: Document = { _id: id, agent_id: { $exists: false } };
      const result = await collection.updateOne(filter, { $set: set });
      if (result.matchedCount === 0) {
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
      // Without a change stream, let the snapshot carry the new agent_id soon anyway.
      if (onChange) schedule(debounceMs);
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
