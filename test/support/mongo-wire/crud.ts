import { aggregate } from "mingo";
import { z } from "zod";
import { getMoreChangeStream, openChangeStream } from "./change-streams.ts";
import {
  type CommandHandler,
  type CommandRequest,
  cursorIdNumber,
  cursorIdSchema,
  docSchema,
  numberSchema,
  parseCommand,
} from "./context.ts";
import { firstBatchReply, takeBatch, wireCursorId } from "./cursors.ts";
import { cloneDoc, getPath, valueKey } from "./docs.ts";
import { asCommandError, CommandError, type Doc, ErrorCode } from "./errors.ts";
import type { Collection } from "./store.ts";
import {
  applyUpdate,
  deleteDoc,
  insertDoc,
  isReplacement,
  prepareInsert,
  type QueryOptions,
  queryDocs,
  replaceDoc,
  upsertDoc,
} from "./writes.ts";

/** Query and write commands: find, getMore, killCursors, insert, update, delete, findAndModify ... */

const updateSpecSchema = z.union([docSchema, z.array(docSchema)]);

function collectionName(request: CommandRequest, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new CommandError(
      ErrorCode.InvalidNamespace,
      `Invalid namespace specified '${request.db}.${String(value)}'`,
    );
  }
  return value;
}

/** The documents a filter matches: an index finds the candidates where one applies. */
function matching(
  collection: Collection | undefined,
  filter: Doc | undefined,
  options: QueryOptions = {},
): Doc[] {
  const { docs, rest } = collection?.select(filter) ?? { docs: [], rest: filter ?? {} };
  return queryDocs(docs, rest, options);
}

function collectionOf(request: CommandRequest, name: string): Collection | undefined {
  return request.state.store.get(request.db, name);
}

function writeErrorOf(index: number, error: unknown): Doc {
  const failure = asCommandError(error);
  return { index, code: failure.code, errmsg: failure.message, ...failure.extra };
}

const findSchema = z.looseObject({
  find: z.string(),
  filter: docSchema.optional(),
  projection: docSchema.optional(),
  sort: docSchema.optional(),
  skip: numberSchema.optional(),
  limit: numberSchema.optional(),
  batchSize: numberSchema.optional(),
  singleBatch: z.boolean().optional(),
});

const find: CommandHandler = (request) => {
  const cmd = parseCommand(findSchema, request);
  const name = collectionName(request, cmd.find);
  const docs = matching(collectionOf(request, name), cmd.filter, {
    ...(cmd.sort ? { sort: cmd.sort } : {}),
    ...(cmd.skip ? { skip: cmd.skip } : {}),
    ...(cmd.limit ? { limit: cmd.limit } : {}),
    ...(cmd.projection ? { projection: cmd.projection } : {}),
  });
  const singleBatch = cmd.singleBatch === true || (cmd.limit ?? 0) < 0;
  return firstBatchReply(request.state.cursors, `${request.db}.${name}`, docs, {
    ...(cmd.batchSize !== undefined ? { batchSize: cmd.batchSize } : {}),
    singleBatch,
  });
};

const getMoreSchema = z.looseObject({
  getMore: cursorIdSchema,
  collection: z.string(),
  batchSize: numberSchema.optional(),
  maxTimeMS: numberSchema.optional(),
});

const getMore: CommandHandler = async (request) => {
  const cmd = parseCommand(getMoreSchema, request);
  const id = cursorIdNumber(cmd.getMore);
  const cursor = request.state.cursors.get(id);
  if (!cursor) {
    throw new CommandError(ErrorCode.CursorNotFound, `cursor id ${id} not found`);
  }
  const batchSize = cmd.batchSize && cmd.batchSize > 0 ? cmd.batchSize : undefined;
  if (cursor.kind === "changeStream") {
    return getMoreChangeStream(request, cursor, batchSize, cmd.maxTimeMS);
  }
  const batch = takeBatch(cursor.docs, cursor.next, batchSize);
  cursor.next += batch.length;
  const exhausted = cursor.next >= cursor.docs.length;
  if (exhausted) request.state.cursors.kill(id);
  return {
    cursor: { nextBatch: batch, id: wireCursorId(exhausted ? 0 : id), ns: cursor.ns },
    ok: 1,
  };
};

const killCursorsSchema = z.looseObject({
  killCursors: z.string(),
  cursors: z.array(cursorIdSchema),
});

const killCursors: CommandHandler = (request) => {
  const cmd = parseCommand(killCursorsSchema, request);
  const killed: unknown[] = [];
  const notFound: unknown[] = [];
  for (const raw of cmd.cursors) {
    const id = cursorIdNumber(raw);
    (request.state.cursors.kill(id) ? killed : notFound).push(wireCursorId(id));
  }
  return {
    cursorsKilled: killed,
    cursorsNotFound: notFound,
    cursorsAlive: [],
    cursorsUnknown: [],
    ok: 1,
  };
};

const insertSchema = z.looseObject({
  insert: z.string(),
  documents: z.array(docSchema),
  ordered: z.boolean().optional(),
});

const insert: CommandHandler = (request) => {
  const cmd = parseCommand(insertSchema, request);
  const name = collectionName(request, cmd.insert);
  const { collection } = request.state.store.ensure(request.db, name);
  const writeErrors: Doc[] = [];
  let n = 0;
  for (const [index, raw] of cmd.documents.entries()) {
    try {
      insertDoc(request.state, collection, prepareInsert(raw));
      n += 1;
    } catch (error) {
      writeErrors.push(writeErrorOf(index, error));
      if (cmd.ordered !== false) break;
    }
  }
  return { n, ...(writeErrors.length > 0 ? { writeErrors } : {}), ok: 1 };
};

const updateStatementSchema = z.looseObject({
  q: docSchema,
  u: updateSpecSchema,
  upsert: z.boolean().optional(),
  multi: z.boolean().optional(),
  arrayFilters: z.array(docSchema).optional(),
  sort: docSchema.optional(),
});

const updateSchema = z.looseObject({
  update: z.string(),
  updates: z.array(updateStatementSchema),
  ordered: z.boolean().optional(),
});

const update: CommandHandler = (request) => {
  const cmd = parseCommand(updateSchema, request);
  const name = collectionName(request, cmd.update);
  const { state } = request;
  const writeErrors: Doc[] = [];
  const upserted: Doc[] = [];
  let n = 0;
  let nModified = 0;
  for (const [index, statement] of cmd.updates.entries()) {
    try {
      if (statement.multi && isReplacement(statement.u)) {
        throw new CommandError(
          ErrorCode.FailedToParse,
          "multi update is not supported for replacement-style update",
        );
      }
      const existing = state.store.get(request.db, name);
      const matches = matching(existing, statement.q, {
        ...(statement.sort ? { sort: statement.sort } : {}),
        ...(statement.multi ? {} : { limit: 1 }),
      });
      if (matches.length === 0) {
        if (!statement.upsert) continue;
        const doc = upsertDoc(statement.q, statement.u, statement.arrayFilters);
        const { collection } = state.store.ensure(request.db, name);
        insertDoc(state, collection, doc);
        upserted.push({ index, _id: doc._id });
        n += 1;
        continue;
      }
      for (const before of matches) {
        const { after, kind } = applyUpdate(before, statement.u, {
          ...(statement.arrayFilters ? { arrayFilters: statement.arrayFilters } : {}),
          filter: statement.q,
        });
        n += 1;
        if (replaceDoc(state, existing!, before, after, kind)) nModified += 1;
      }
    } catch (error) {
      writeErrors.push(writeErrorOf(index, error));
      if (cmd.ordered !== false) break;
    }
  }
  return {
    n,
    nModified,
    ...(upserted.length > 0 ? { upserted } : {}),
    ...(writeErrors.length > 0 ? { writeErrors } : {}),
    ok: 1,
  };
};

const deleteSchema = z.looseObject({
  delete: z.string(),
  deletes: z.array(z.looseObject({ q: docSchema, limit: numberSchema })),
  ordered: z.boolean().optional(),
});

const remove: CommandHandler = (request) => {
  const cmd = parseCommand(deleteSchema, request);
  const name = collectionName(request, cmd.delete);
  const collection = request.state.store.get(request.db, name);
  const writeErrors: Doc[] = [];
  let n = 0;
  for (const [index, statement] of cmd.deletes.entries()) {
    try {
      if (statement.limit !== 0 && statement.limit !== 1) {
        throw new CommandError(
          ErrorCode.FailedToParse,
          "The limit field in delete objects must be 0 or 1.",
        );
      }
      const matches = matching(collection, statement.q, statement.limit === 1 ? { limit: 1 } : {});
      for (const doc of matches) {
        deleteDoc(request.state, collection!, doc);
        n += 1;
      }
    } catch (error) {
      writeErrors.push(writeErrorOf(index, error));
      if (cmd.ordered !== false) break;
    }
  }
  return { n, ...(writeErrors.length > 0 ? { writeErrors } : {}), ok: 1 };
};

const findAndModifySchema = z.looseObject({
  findAndModify: z.string(),
  query: docSchema.optional(),
  sort: docSchema.optional(),
  remove: z.boolean().optional(),
  update: updateSpecSchema.optional(),
  new: z.boolean().optional(),
  fields: docSchema.optional(),
  upsert: z.boolean().optional(),
  arrayFilters: z.array(docSchema).optional(),
});

const findAndModify: CommandHandler = (request) => {
  const cmd = parseCommand(findAndModifySchema, request);
  const name = collectionName(request, cmd.findAndModify);
  const { state } = request;
  const query = cmd.query ?? {};
  if (cmd.remove === true && cmd.update !== undefined) {
    throw new CommandError(
      ErrorCode.FailedToParse,
      "Cannot specify both an update and remove=true",
    );
  }
  if (cmd.remove !== true && cmd.update === undefined) {
    throw new CommandError(
      ErrorCode.FailedToParse,
      "Either an update or remove=true must be specified",
    );
  }
  const project = (doc: Doc | null): Doc | null =>
    doc && cmd.fields ? (queryDocs([doc], {}, { projection: cmd.fields })[0] ?? null) : doc;
  const existing = state.store.get(request.db, name);
  const match = matching(existing, query, {
    ...(cmd.sort ? { sort: cmd.sort } : {}),
    limit: 1,
  })[0];
  if (cmd.remove === true) {
    if (match) deleteDoc(state, existing!, match);
    return { lastErrorObject: { n: match ? 1 : 0 }, value: project(match ?? null), ok: 1 };
  }
  const spec = cmd.update!;
  if (match) {
    const { after, kind } = applyUpdate(match, spec, {
      ...(cmd.arrayFilters ? { arrayFilters: cmd.arrayFilters } : {}),
      filter: query,
    });
    replaceDoc(state, existing!, match, after, kind);
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: project(cmd.new ? after : match),
      ok: 1,
    };
  }
  if (cmd.upsert) {
    const doc = upsertDoc(query, spec, cmd.arrayFilters);
    insertDoc(state, state.store.ensure(request.db, name).collection, doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
      value: project(cmd.new ? doc : null),
      ok: 1,
    };
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
};

const countSchema = z.looseObject({
  count: z.string(),
  query: docSchema.optional(),
  skip: numberSchema.optional(),
  limit: numberSchema.optional(),
});

const count: CommandHandler = (request) => {
  const cmd = parseCommand(countSchema, request);
  const name = collectionName(request, cmd.count);
  const docs = matching(collectionOf(request, name), cmd.query, {
    ...(cmd.skip ? { skip: cmd.skip } : {}),
    ...(cmd.limit ? { limit: cmd.limit } : {}),
  });
  return { n: docs.length, ok: 1 };
};

const distinctSchema = z.looseObject({
  distinct: z.string(),
  key: z.string(),
  query: docSchema.optional(),
});

const distinct: CommandHandler = (request) => {
  const cmd = parseCommand(distinctSchema, request);
  const name = collectionName(request, cmd.distinct);
  const docs = matching(collectionOf(request, name), cmd.query);
  const seen = new Map<string, unknown>();
  for (const doc of docs) {
    const value = getPath(doc, cmd.key);
    // Distinct looks inside arrays, as a multikey index would.
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined) seen.set(valueKey(item), item);
    }
  }
  return { values: [...seen.values()], ok: 1 };
};

/** MongoDB stage names; a name outside this list is answered with error 40324. */
const KNOWN_STAGES = new Set([
  "$addFields",
  "$bucket",
  "$bucketAuto",
  "$changeStream",
  "$changeStreamSplitLargeEvent",
  "$collStats",
  "$count",
  "$currentOp",
  "$densify",
  "$documents",
  "$facet",
  "$fill",
  "$geoNear",
  "$graphLookup",
  "$group",
  "$indexStats",
  "$limit",
  "$listLocalSessions",
  "$listSampledQueries",
  "$listSearchIndexes",
  "$listSessions",
  "$lookup",
  "$match",
  "$merge",
  "$out",
  "$planCacheStats",
  "$project",
  "$redact",
  "$replaceRoot",
  "$replaceWith",
  "$sample",
  "$search",
  "$searchMeta",
  "$set",
  "$setWindowFields",
  "$skip",
  "$sort",
  "$sortByCount",
  "$unionWith",
  "$unset",
  "$unwind",
  "$vectorSearch",
]);

/** Stages a real server knows that this stand-in does not run. */
const UNSUPPORTED_STAGES = new Set([
  "$changeStreamSplitLargeEvent",
  "$collStats",
  "$currentOp",
  "$geoNear",
  "$indexStats",
  "$listLocalSessions",
  "$listSampledQueries",
  "$listSearchIndexes",
  "$listSessions",
  "$merge",
  "$out",
  "$planCacheStats",
  "$search",
  "$searchMeta",
  "$vectorSearch",
]);

const aggregateSchema = z.looseObject({
  aggregate: z.union([z.string(), z.literal(1)]),
  pipeline: z.array(docSchema),
  cursor: z.looseObject({ batchSize: numberSchema.optional() }),
  explain: z.boolean().optional(),
});

const aggregateCommand: CommandHandler = (request) => {
  const cmd = parseCommand(aggregateSchema, request);
  if (cmd.explain) {
    throw new CommandError(ErrorCode.CommandNotFound, "explain is not supported by this server");
  }
  const name =
    typeof cmd.aggregate === "string" ? collectionName(request, cmd.aggregate) : undefined;
  for (const [position, stage] of cmd.pipeline.entries()) {
    const keys = Object.keys(stage);
    if (keys.length !== 1) {
      throw new CommandError(
        40323,
        "A pipeline stage specification object must contain exactly one field.",
      );
    }
    const stageName = keys[0]!;
    if (!KNOWN_STAGES.has(stageName)) {
      throw new CommandError(
        ErrorCode.UnrecognizedStage,
        `Unrecognized pipeline stage name: '${stageName}'`,
      );
    }
    if (stageName === "$changeStream" && position > 0) {
      throw new CommandError(
        ErrorCode.ChangeStreamNotFirst,
        "$changeStream is only valid as the first stage in a pipeline",
      );
    }
    if (UNSUPPORTED_STAGES.has(stageName)) {
      throw new CommandError(
        ErrorCode.BadValue,
        `${stageName} is not supported by the MongoDB wire test server`,
      );
    }
  }
  const batchSize = cmd.cursor.batchSize;
  if (cmd.pipeline[0] && "$changeStream" in cmd.pipeline[0]) {
    return openChangeStream(request, name, cmd.pipeline, batchSize);
  }
  const { store } = request.state;
  // mingo's stages can modify nested objects of their input: give them copies of stored docs.
  const copies = (coll: string) =>
    (store.get(request.db, coll)?.all() ?? []).map((d) => cloneDoc(d));
  const input = name === undefined ? [] : copies(name);
  let results: Doc[];
  try {
    results = aggregate(input, cmd.pipeline, { collectionResolver: copies }) as Doc[];
  } catch (error) {
    throw asCommandError(error);
  }
  const ns = name === undefined ? `${request.db}.$cmd.aggregate` : `${request.db}.${name}`;
  return firstBatchReply(request.state.cursors, ns, results, {
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
};

export const crudCommands: Record<string, CommandHandler> = {
  find,
  getMore,
  killCursors,
  insert,
  update,
  delete: remove,
  findAndModify,
  findandmodify: findAndModify,
  count,
  distinct,
  aggregate: aggregateCommand,
};
