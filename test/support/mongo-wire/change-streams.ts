import { Timestamp } from "bson";
import { aggregate } from "mingo";
import { z } from "zod";
import type { ChangeEntry } from "./change-log.ts";
import { type CommandRequest, docSchema } from "./context.ts";
import { type ChangeStreamCursor, wireCursorId } from "./cursors.ts";
import { cloneDoc, valuesEqual } from "./docs.ts";
import { asCommandError, CommandError, type Doc, ErrorCode } from "./errors.ts";

/** `$changeStream` aggregations: opening a stream and blocking getMores on it. */

const changeStreamSpec = z.strictObject({
  fullDocument: z.enum(["default", "updateLookup", "whenAvailable", "required"]).optional(),
  fullDocumentBeforeChange: z.enum(["off", "whenAvailable", "required"]).optional(),
  resumeAfter: docSchema.optional(),
  startAfter: docSchema.optional(),
  startAtOperationTime: z.instanceof(Timestamp).optional(),
  allChangesForCluster: z.boolean().optional(),
  showExpandedEvents: z.boolean().optional(),
});

/** Stages a change stream pipeline may hold after `$changeStream`. */
const EVENT_STAGES = new Set([
  "$match",
  "$project",
  "$addFields",
  "$set",
  "$unset",
  "$replaceRoot",
  "$replaceWith",
  "$redact",
]);

/** getMore on a change stream waits this long for events when the client names no maxTimeMS. */
export const DEFAULT_AWAIT_MS = 1000;

export function openChangeStream(
  request: CommandRequest,
  collection: string | undefined,
  pipeline: Doc[],
  batchSize: number | undefined,
): Doc {
  const { state } = request;
  if (!state.replicaSet) {
    throw new CommandError(
      ErrorCode.ChangeStreamNeedsReplicaSet,
      "The $changeStream stage is only supported on replica sets",
    );
  }
  const parsed = changeStreamSpec.safeParse(pipeline[0]?.$changeStream);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.code === "unrecognized_keys" ? issue.keys[0] : issue?.path.join(".");
    throw new CommandError(
      ErrorCode.UnknownField,
      `BSON field '$changeStream.${field ?? ""}' is an unknown field or has the wrong type.`,
    );
  }
  const spec = parsed.data;
  if (spec.resumeAfter && spec.startAfter) {
    throw new CommandError(
      ErrorCode.StartAfterAndResumeAfter,
      "Do not specify both 'startAfter' and 'resumeAfter' as resume options",
    );
  }
  const token = spec.resumeAfter ?? spec.startAfter;
  if (token && spec.startAtOperationTime) {
    throw new CommandError(
      ErrorCode.ResumeOptionsConflict,
      "Only one type of resume option is allowed, but multiple were found.",
    );
  }
  const allChanges = spec.allChangesForCluster === true;
  if (allChanges && (request.db !== "admin" || collection !== undefined)) {
    throw new CommandError(
      ErrorCode.InvalidNamespace,
      "$changeStream may only be run on the 'admin' database if allChangesForCluster is true",
    );
  }
  if (!allChanges && collection === undefined && request.db === "admin") {
    throw new CommandError(
      ErrorCode.InvalidNamespace,
      "$changeStream may not be opened on the internal admin database",
    );
  }
  const rest = pipeline.slice(1);
  for (const stage of rest) {
    const name = Object.keys(stage)[0] ?? "";
    if (name === "$changeStream") {
      throw new CommandError(
        ErrorCode.ChangeStreamNotFirst,
        "$changeStream is only valid as the first stage in a pipeline",
      );
    }
    if (!EVENT_STAGES.has(name)) {
      throw new CommandError(
        ErrorCode.BadValue,
        `Stage not supported in a $changeStream pipeline: ${name}`,
      );
    }
  }
  const afterSeq = token
    ? state.log.resumeAfter(token).afterSeq
    : spec.startAtOperationTime
      ? state.log.startAt(spec.startAtOperationTime).afterSeq
      : state.log.latestSeq;
  const ns =
    collection !== undefined ? `${request.db}.${collection}` : `${request.db}.$cmd.aggregate`;
  const cursor = state.cursors.add<ChangeStreamCursor>({
    kind: "changeStream",
    ns,
    ...(allChanges ? {} : { db: request.db }),
    ...(collection !== undefined ? { coll: collection } : {}),
    afterSeq,
    fullDocument: spec.fullDocument ?? "default",
    fullDocumentBeforeChange: spec.fullDocumentBeforeChange ?? "off",
    pipeline: rest,
    invalidated: false,
  });
  // The first batch never waits, as on a real server.
  const batch = collectEvents(request, cursor, batchSize);
  return cursorReply(request, cursor, "firstBatch", batch);
}

export async function getMoreChangeStream(
  request: CommandRequest,
  cursor: ChangeStreamCursor,
  batchSize: number | undefined,
  maxTimeMS: number | undefined,
): Promise<Doc> {
  let batch = collectEvents(request, cursor, batchSize);
  if (batch.length === 0 && !cursor.invalidated) {
    await request.state.log.waitForAppend(maxTimeMS ?? DEFAULT_AWAIT_MS, request.signal);
    batch = collectEvents(request, cursor, batchSize);
  }
  return cursorReply(request, cursor, "nextBatch", batch);
}

function cursorReply(
  request: CommandRequest,
  cursor: ChangeStreamCursor,
  field: "firstBatch" | "nextBatch",
  batch: Doc[],
): Doc {
  if (cursor.invalidated) request.state.cursors.kill(cursor.id);
  const postBatchResumeToken = request.state.log.token(cursor.afterSeq, false);
  return {
    cursor: {
      [field]: batch,
      postBatchResumeToken,
      id: wireCursorId(cursor.invalidated ? 0 : cursor.id),
      ns: cursor.ns,
    },
    ok: 1,
  };
}

function inScope(cursor: ChangeStreamCursor, entry: ChangeEntry): boolean {
  if (cursor.db !== undefined && entry.db !== cursor.db) return false;
  if (cursor.coll !== undefined && entry.coll !== undefined && entry.coll !== cursor.coll) {
    return false;
  }
  return true;
}

/** Whether `entry` ends the stream: dropping its collection, or its database. */
function invalidates(cursor: ChangeStreamCursor, entry: ChangeEntry): boolean {
  if (cursor.coll !== undefined) return entry.operationType === "drop";
  if (cursor.db !== undefined) return entry.operationType === "dropDatabase";
  return false;
}

/** Reads the events after the cursor's position, advancing it past everything examined. */
function collectEvents(
  request: CommandRequest,
  cursor: ChangeStreamCursor,
  batchSize: number | undefined,
): Doc[] {
  const { log } = request.state;
  const batch: Doc[] = [];
  if (cursor.invalidated) return batch;
  for (const entry of log.since(cursor.afterSeq)) {
    if (batchSize !== undefined && batchSize > 0 && batch.length >= batchSize) break;
    cursor.afterSeq = entry.seq;
    if (!inScope(cursor, entry)) continue;
    if (entry.operationType === "dropDatabase" && cursor.coll !== undefined) continue;
    const event = toEvent(request, cursor, entry);
    const shown = applyEventPipeline(cursor, event);
    if (shown) batch.push(shown);
    if (invalidates(cursor, entry)) {
      batch.push({
        _id: log.token(entry.seq, true),
        operationType: "invalidate",
        clusterTime: entry.clusterTime,
        wallTime: entry.wallTime,
      });
      cursor.invalidated = true;
      break;
    }
  }
  return batch;
}

function toEvent(request: CommandRequest, cursor: ChangeStreamCursor, entry: ChangeEntry): Doc {
  const event: Doc = {
    _id: request.state.log.token(entry.seq),
    operationType: entry.operationType,
    clusterTime: entry.clusterTime,
    wallTime: entry.wallTime,
  };
  if (entry.operationType === "insert" || entry.operationType === "replace") {
    event.fullDocument = entry.after;
  } else if (entry.operationType === "update" && cursor.fullDocument !== "default") {
    // updateLookup reads the document as it is now, not as the write left it.
    const current =
      entry.coll === undefined
        ? undefined
        : request.state.store.get(entry.db, entry.coll)?.getById(entry.documentKey?._id);
    event.fullDocument = current ?? null;
  }
  if (
    cursor.fullDocumentBeforeChange !== "off" &&
    ["update", "replace", "delete"].includes(entry.operationType)
  ) {
    event.fullDocumentBeforeChange = entry.before ?? null;
  }
  event.ns = entry.coll === undefined ? { db: entry.db } : { db: entry.db, coll: entry.coll };
  if (entry.documentKey) event.documentKey = entry.documentKey;
  if (entry.updateDescription) event.updateDescription = entry.updateDescription;
  // Events share stored documents; hand each stream its own copy.
  return cloneDoc(event);
}

function applyEventPipeline(cursor: ChangeStreamCursor, event: Doc): Doc | undefined {
  if (cursor.pipeline.length === 0) return event;
  let out: Doc[];
  try {
    out = aggregate([event], cursor.pipeline) as Doc[];
  } catch (error) {
    throw asCommandError(error);
  }
  const shown = out[0];
  if (!shown) return undefined;
  if (!valuesEqual(shown._id, event._id)) {
    throw new CommandError(
      ErrorCode.ChangeStreamFatalError,
      "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.",
    );
  }
  return shown;
}
