/**
 * # MongoDB wire-protocol test server
 *
 * No MongoDB server can be installed on the machines these tests run on, so this is a small
 * MongoDB stand-in that the official `mongodb` driver talks to over real TCP on 127.0.0.1.
 * It is test support only: product code never imports it.
 *
 * What it implements:
 * - Wire protocol: OP_MSG (body and document-sequence sections, checksumPresent, moreToCome,
 *   exhaustAllowed for the driver's streaming hello) and the legacy OP_QUERY handshake answered
 *   with OP_REPLY. No compression is advertised, so OP_COMPRESSED never arrives.
 * - A one-member replica set primary (`setName` "rs0", hosts/primary/me = 127.0.0.1:PORT,
 *   maxWireVersion 21 = MongoDB 7.0, topologyVersion, sessions, `$clusterTime`/`operationTime`),
 *   or with `{ changeStreams: false }` a standalone server that rejects `$changeStream` (40573).
 * - Commands: hello/isMaster, ping, buildInfo, getParameter, serverStatus, endSessions,
 *   killSessions, commit/abortTransaction (acknowledged; writes apply immediately, no rollback),
 *   listDatabases, listCollections, create, drop, dropDatabase, createIndexes (unique, sparse,
 *   partial), listIndexes, dropIndexes, find, getMore, killCursors, insert, update, delete,
 *   findAndModify, count, distinct, aggregate (mingo runs the stages) and `$changeStream` with
 *   resume tokens, updateLookup, pre-images from memory, blocking getMore (maxTimeMS, 1 s by
 *   default) and a bounded history (older tokens answer 286 ChangeStreamHistoryLost).
 *   Matching, projection, sorting and update operators are mingo's; an index (any, by
 *   equality or `$in` over all its fields) finds a filter's candidates first, as a server's
 *   index scan would, so keyed writes and round look-ups do not scan the collection.
 *   Retried writes (same lsid and txnNumber) are answered from the first attempt, as a
 *   replica set does.
 * - Errors shaped like a real server's: unknown command 59 CommandNotFound, unknown stage 40324,
 *   duplicate key 11000 (with keyPattern/keyValue), missing cursor 43, and so on.
 * - Test controls: `stop()` (MongoDB goes away: listener closed, sockets destroyed), `start()`
 *   (it comes back on the same port with the same data), `dropAllConnections()` (a network
 *   blip), `collection(db, name)` for assertions, `commandCount(name)`, `connectionCount`;
 *   options `changeStreams`, `setName`, `historyLimit`. `uri` is a directConnection URI;
 *   `replicaSetUri` addresses the same server as replica set `rs0`.
 * Not implemented: authentication, compression, transactions' isolation and rollback, $out/$merge,
 * TTL expiry, geo and text search, collation, `$jsonSchema`, explain.
 *
 * MongoDB suites get their URI from `mongoTestUri()`: with `MONGODB_TEST_URI` set they run
 * against that real server (e.g. a `mongo:7` replica set in CI) and no stand-in starts.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type MongoWireServer, startMongoWireServer } from "./server.ts";

export type { ChangeEntry, OperationType } from "./change-log.ts";
export { CommandError, type Doc, ErrorCode } from "./errors.ts";
export { MongoWireServer, type MongoWireServerOptions, startMongoWireServer } from "./server.ts";

const testUriSchema = z
  .string()
  .regex(/^mongodb(\+srv)?:\/\//, "MONGODB_TEST_URI must be a mongodb:// or mongodb+srv:// URI");

export interface MongoTestTarget {
  uri: string;
  /** The stand-in, when no real server was configured; undefined against MONGODB_TEST_URI. */
  server?: MongoWireServer;
  close(): Promise<void>;
}

/** `MONGODB_TEST_URI` when set (a real server), else a fresh wire server on loopback. */
export async function mongoTestUri(
  options: { changeStreams?: boolean } = {},
): Promise<MongoTestTarget> {
  const configured = process.env.MONGODB_TEST_URI;
  if (configured !== undefined && configured !== "") {
    return { uri: testUriSchema.parse(configured), close: async () => {} };
  }
  const server = await startMongoWireServer(options);
  return { uri: server.uri, server, close: () => server.close() };
}

/** A database name no other test uses, so suites can share one real server. */
export function uniqueDbName(prefix = "test"): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}
