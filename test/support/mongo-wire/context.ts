import type { ObjectId } from "bson";
import { z } from "zod";
import type { ChangeLog, ClusterClock } from "./change-log.ts";
import type { CursorRegistry } from "./cursors.ts";
import { CommandError, type Doc, ErrorCode } from "./errors.ts";
import type { Store } from "./store.ts";

/** What a command handler can see: the server's state and the connection it arrived on. */
export interface ServerState {
  store: Store;
  log: ChangeLog;
  clock: ClusterClock;
  cursors: CursorRegistry;
  /** False: answer as a standalone server (no setName, no change streams). */
  replicaSet: boolean;
  setName: string;
  /** "127.0.0.1:PORT", as hello reports it. */
  host: string;
  /** topologyVersion.processId; a new one on every start(), as a restarted mongod has. */
  processId: ObjectId;
  startedAt: number;
  connectionsOpen: number;
  connectionsCreated: number;
}

export interface CommandRequest {
  state: ServerState;
  db: string;
  name: string;
  body: Doc;
  connectionId: number;
  /** Aborts when the connection closes or the server stops: blocking commands give up. */
  signal: AbortSignal;
}

export type CommandHandler = (request: CommandRequest) => Doc | Promise<Doc>;

export const docSchema = z.record(z.string(), z.unknown());
export const numberSchema = z.number();
export const cursorIdSchema = z.union([z.number(), z.custom<{ toNumber(): number }>(isLong)]);

function isLong(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { _bsontype?: unknown })._bsontype === "Long"
  );
}

export function cursorIdNumber(id: number | { toNumber(): number }): number {
  return typeof id === "number" ? id : id.toNumber();
}

/** The BSON type name a server would report for a value. */
export function bsonTypeName(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "double";
  if (value instanceof Date) return "date";
  if (value instanceof RegExp) return "regex";
  const tag = (value as { _bsontype?: unknown })._bsontype;
  if (typeof tag === "string") return tag.charAt(0).toLowerCase() + tag.slice(1);
  return "object";
}

/** Validates a command body, answering schema failures with the server's own error shapes. */
export function parseCommand<S extends z.ZodType>(schema: S, request: CommandRequest): z.output<S> {
  const result = schema.safeParse(request.body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  const field = path === "" ? request.name : `${request.name}.${path}`;
  let value: unknown = request.body;
  for (const part of issue.path) {
    value = value && typeof value === "object" ? (value as Doc)[String(part)] : undefined;
  }
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    throw new CommandError(
      ErrorCode.UnknownField,
      `BSON field '${field}.${key}' is an unknown field.`,
    );
  }
  if (value === undefined) {
    throw new CommandError(
      ErrorCode.MissingField,
      `BSON field '${field}' is missing but a required field`,
    );
  }
  if (issue.code === "invalid_type" || issue.code === "invalid_union") {
    throw new CommandError(
      ErrorCode.TypeMismatch,
      `BSON field '${field}' is the wrong type '${bsonTypeName(value)}'`,
    );
  }
  throw new CommandError(ErrorCode.BadValue, `BSON field '${field}': ${issue.message}`);
}
