import { Long, ObjectId } from "bson";
import { Query } from "mingo";
import { z } from "zod";
import {
  type CommandHandler,
  type CommandRequest,
  docSchema,
  parseCommand,
  type ServerState,
} from "./context.ts";
import { firstBatchReply } from "./cursors.ts";
import { valuesEqual } from "./docs.ts";
import { CommandError, type Doc, ErrorCode } from "./errors.ts";
import type { IndexSpec } from "./store.ts";
import { MAX_BSON_SIZE, MAX_MESSAGE_SIZE } from "./wire.ts";

/** Handshake, server information, sessions, databases, collections and indexes. */

export const MAX_WIRE_VERSION = 21; // MongoDB 7.0
const SERVER_VERSION = "7.0.0";
/** Constant across restarts: a restarted one-member set keeps its election. */
const ELECTION_ID = new ObjectId("7fffffff0000000000000001");

/** The hello answer of a one-member replica set primary (or of a standalone server). */
export function helloReply(state: ServerState, connectionId: number, legacy: boolean): Doc {
  const now = new Date();
  const opTime = { ts: state.clock.now(), t: Long.fromNumber(1) };
  return {
    topologyVersion: topologyVersion(state),
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    ...(state.replicaSet
      ? {
          hosts: [state.host],
          setName: state.setName,
          setVersion: 1,
          secondary: false,
          primary: state.host,
          me: state.host,
          electionId: ELECTION_ID,
          lastWrite: {
            opTime,
            lastWriteDate: now,
            majorityOpTime: opTime,
            majorityWriteDate: now,
          },
        }
      : {}),
    helloOk: true,
    maxBsonObjectSize: MAX_BSON_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: 100_000,
    localTime: now,
    logicalSessionTimeoutMinutes: 30,
    connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

export function topologyVersion(state: ServerState): Doc {
  return { processId: state.processId, counter: Long.fromNumber(0) };
}

const ok: CommandHandler = () => ({ ok: 1 });

const buildInfo: CommandHandler = () => ({
  version: SERVER_VERSION,
  gitVersion: "0000000000000000000000000000000000000000",
  versionArray: [7, 0, 0, 0],
  bits: 64,
  debug: false,
  maxBsonObjectSize: MAX_BSON_SIZE,
  storageEngines: ["wiredTiger"],
  modules: [],
  ok: 1,
});

const getParameter: CommandHandler = (request) => {
  const known: Doc = {
    featureCompatibilityVersion: { version: "7.0" },
    authenticationMechanisms: ["SCRAM-SHA-1", "SCRAM-SHA-256"],
  };
  const all = request.body.getParameter === "*";
  const reply: Doc = {};
  for (const [key, value] of Object.entries(known)) {
    if (all || key in request.body) reply[key] = value;
  }
  return { ...reply, ok: 1 };
};

const serverStatus: CommandHandler = (request) => {
  const { state } = request;
  return {
    host: state.host,
    version: SERVER_VERSION,
    process: "mongod",
    pid: Long.fromNumber(process.pid),
    uptime: Math.floor((Date.now() - state.startedAt) / 1000),
    uptimeMillis: Long.fromNumber(Date.now() - state.startedAt),
    localTime: new Date(),
    connections: {
      current: state.connectionsOpen,
      available: 1_000_000,
      totalCreated: state.connectionsCreated,
    },
    ...(state.replicaSet ? { repl: { setName: state.setName, isWritablePrimary: true } } : {}),
    ok: 1,
  };
};

const listDatabasesSchema = z.looseObject({
  listDatabases: z.unknown(),
  filter: docSchema.optional(),
  nameOnly: z.boolean().optional(),
});

const listDatabases: CommandHandler = (request) => {
  const cmd = parseCommand(listDatabasesSchema, request);
  const { store } = request.state;
  let databases: Doc[] = store.databases().map((name) => ({
    name,
    sizeOnDisk: 8192 * store.collections(name).length,
    empty: false,
  }));
  if (cmd.filter) {
    const query = new Query(cmd.filter);
    databases = databases.filter((db) => query.test(db));
  }
  if (cmd.nameOnly) return { databases: databases.map(({ name }) => ({ name })), ok: 1 };
  const totalSize = databases.reduce((sum, db) => sum + Number(db.sizeOnDisk), 0);
  return { databases, totalSize, totalSizeMb: 0, ok: 1 };
};

const listCollectionsSchema = z.looseObject({
  listCollections: z.unknown(),
  filter: docSchema.optional(),
  nameOnly: z.boolean().optional(),
  cursor: z.looseObject({ batchSize: z.number().optional() }).optional(),
});

const listCollections: CommandHandler = (request) => {
  const cmd = parseCommand(listCollectionsSchema, request);
  let infos: Doc[] = request.state.store.collections(request.db).map((collection) => ({
    name: collection.name,
    type: "collection",
    options: collection.options,
    info: { readOnly: false, uuid: collection.uuid },
    idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
  }));
  if (cmd.filter) {
    const query = new Query(cmd.filter);
    infos = infos.filter((info) => query.test(info));
  }
  if (cmd.nameOnly) infos = infos.map(({ name, type }) => ({ name, type }));
  const batchSize = cmd.cursor?.batchSize;
  return firstBatchReply(request.state.cursors, `${request.db}.$cmd.listCollections`, infos, {
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
};

/** Fields any command may carry; they are not collection options. */
const GENERIC_FIELDS = new Set([
  "$db",
  "lsid",
  "txnNumber",
  "autocommit",
  "startTransaction",
  "$clusterTime",
  "$readPreference",
  "writeConcern",
  "readConcern",
  "comment",
  "apiVersion",
  "apiStrict",
  "apiDeprecationErrors",
  "maxTimeMS",
]);

const createSchema = z.looseObject({ create: z.string() });

const create: CommandHandler = (request) => {
  const cmd = parseCommand(createSchema, request);
  const name = cmd.create;
  const options = Object.fromEntries(
    Object.entries(cmd).filter(([field]) => field !== "create" && !GENERIC_FIELDS.has(field)),
  );
  const { collection, created } = request.state.store.ensure(request.db, name, options);
  // MongoDB 7 answers ok when the collection exists with identical options.
  if (!created && !valuesEqual(collection.options, options)) {
    throw new CommandError(
      ErrorCode.NamespaceExists,
      `Collection ${request.db}.${name} already exists with different options.`,
    );
  }
  return { ok: 1 };
};

const dropSchema = z.looseObject({ drop: z.string() });

const drop: CommandHandler = (request) => {
  const cmd = parseCommand(dropSchema, request);
  const { state } = request;
  const dropped = state.store.drop(request.db, cmd.drop);
  // MongoDB 7 answers ok for a collection that does not exist.
  if (!dropped) return { ok: 1 };
  state.log.append({
    clusterTime: state.clock.tick(),
    operationType: "drop",
    db: request.db,
    coll: cmd.drop,
  });
  return { nIndexesWas: dropped.indexes.length, ns: dropped.namespace, ok: 1 };
};

const dropDatabase: CommandHandler = (request) => {
  const { state } = request;
  const dropped = state.store.dropDatabase(request.db);
  for (const collection of dropped) {
    state.log.append({
      clusterTime: state.clock.tick(),
      operationType: "drop",
      db: request.db,
      coll: collection.name,
    });
  }
  if (dropped.length > 0) {
    state.log.append({
      clusterTime: state.clock.tick(),
      operationType: "dropDatabase",
      db: request.db,
    });
  }
  return { dropped: request.db, ok: 1 };
};

const indexSpecSchema = z.looseObject({
  key: docSchema,
  name: z.string(),
  unique: z.boolean().optional(),
  sparse: z.boolean().optional(),
  partialFilterExpression: docSchema.optional(),
});

const createIndexesSchema = z.looseObject({
  createIndexes: z.string(),
  indexes: z.array(indexSpecSchema),
});

const INDEX_META_FIELDS = new Set(["key", "name", "v", "ns"]);

function sameOptions(a: IndexSpec, b: Doc): boolean {
  const options = (spec: Doc) =>
    Object.fromEntries(Object.entries(spec).filter(([field]) => !INDEX_META_FIELDS.has(field)));
  return valuesEqual(options(a), options(b));
}

const createIndexes: CommandHandler = (request) => {
  const cmd = parseCommand(createIndexesSchema, request);
  const { collection, created } = request.state.store.ensure(request.db, cmd.createIndexes);
  const before = collection.indexes.length;
  for (const spec of cmd.indexes) {
    const byName = collection.indexes.find((index) => index.name === spec.name);
    const byKey = collection.indexes.find((index) => valuesEqual(index.key, spec.key));
    if (byName && !valuesEqual(byName.key, spec.key)) {
      throw new CommandError(
        ErrorCode.IndexKeySpecsConflict,
        `An existing index has the same name as the requested index. Requested index: ${spec.name}`,
      );
    }
    if (byKey && (byKey.name !== spec.name || !sameOptions(byKey, spec))) {
      throw new CommandError(
        ErrorCode.IndexOptionsConflict,
        `An equivalent index already exists with a different name and options. Requested index: ${spec.name}, existing index: ${byKey.name}`,
      );
    }
    if (byKey) continue;
    collection.addIndex({ ...spec, v: 2 });
  }
  return {
    createdCollectionAutomatically: created,
    numIndexesBefore: before,
    numIndexesAfter: collection.indexes.length,
    ...(before === collection.indexes.length ? { note: "all indexes already exist" } : {}),
    ok: 1,
  };
};

const listIndexesSchema = z.looseObject({
  listIndexes: z.string(),
  cursor: z.looseObject({ batchSize: z.number().optional() }).optional(),
});

const listIndexes: CommandHandler = (request) => {
  const cmd = parseCommand(listIndexesSchema, request);
  const collection = request.state.store.get(request.db, cmd.listIndexes);
  if (!collection) {
    throw new CommandError(
      ErrorCode.NamespaceNotFound,
      `ns does not exist: ${request.db}.${cmd.listIndexes}`,
    );
  }
  const batchSize = cmd.cursor?.batchSize;
  return firstBatchReply(
    request.state.cursors,
    collection.namespace,
    collection.indexes.map((index) => ({ ...index })),
    { ...(batchSize !== undefined ? { batchSize } : {}) },
  );
};

const dropIndexesSchema = z.looseObject({
  dropIndexes: z.string(),
  index: z.union([z.string(), z.array(z.string()), docSchema]),
});

const dropIndexes: CommandHandler = (request) => {
  const cmd = parseCommand(dropIndexesSchema, request);
  const collection = request.state.store.get(request.db, cmd.dropIndexes);
  if (!collection) {
    throw new CommandError(
      ErrorCode.NamespaceNotFound,
      `ns not found ${request.db}.${cmd.dropIndexes}`,
    );
  }
  const was = collection.indexes.length;
  const targets =
    cmd.index === "*"
      ? collection.indexes.filter((index) => index.name !== "_id_")
      : (Array.isArray(cmd.index) ? cmd.index : [cmd.index]).map((wanted) => {
          const found = collection.indexes.find((index) =>
            typeof wanted === "string" ? index.name === wanted : valuesEqual(index.key, wanted),
          );
          if (!found) {
            const shown = typeof wanted === "string" ? wanted : JSON.stringify(wanted);
            throw new CommandError(ErrorCode.IndexNotFound, `index not found with name [${shown}]`);
          }
          if (found.name === "_id_") {
            throw new CommandError(ErrorCode.InvalidOptions, "cannot drop _id index");
          }
          return found;
        });
  for (const target of targets) collection.dropIndex(target);
  return { nIndexesWas: was, ok: 1 };
};

function helloHandler(legacy: boolean): CommandHandler {
  return (request: CommandRequest) => helloReply(request.state, request.connectionId, legacy);
}

export const adminCommands: Record<string, CommandHandler> = {
  hello: helloHandler(false),
  isMaster: helloHandler(true),
  ismaster: helloHandler(true),
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  serverStatus,
  endSessions: ok,
  killSessions: ok,
  killAllSessions: ok,
  refreshSessions: ok,
  abortTransaction: ok,
  commitTransaction: ok,
  listDatabases,
  listCollections,
  create,
  drop,
  dropDatabase,
  createIndexes,
  listIndexes,
  dropIndexes,
};
