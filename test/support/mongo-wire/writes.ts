import { ObjectId } from "bson";
import { find, update as mingoUpdate, updateOne as mingoUpdateOne } from "mingo";
import { Context } from "mingo/core";
import * as queryOperators from "mingo/operators/query";
import { Query as BareQuery } from "mingo/query";
import type { Modifier, PipelineStage } from "mingo/updater";
import type { ServerState } from "./context.ts";
import {
  cloneDoc,
  cloneValue,
  diffDocs,
  idFirst,
  isPlainObject,
  setPath,
  valuesEqual,
} from "./docs.ts";
import { asCommandError, CommandError, type Doc, ErrorCode } from "./errors.ts";
import type { Collection } from "./store.ts";

/** Reads and writes on stored documents; every write is recorded in the change log. */

export interface QueryOptions {
  sort?: Doc;
  skip?: number;
  limit?: number;
  projection?: Doc;
}

/** Matches, sorts, skips, limits and projects with mingo, as `find` does. */
export function queryDocs(source: Doc[], filter: Doc, options: QueryOptions = {}): Doc[] {
  validateFilter(filter);
  if (source.length === 0) return [];
  try {
    const cursor = needsExpressions(filter)
      ? find(source, filter)
      : new BareQuery(filter, { context: QUERY_CONTEXT }).find<Doc>(source);
    const sort = { ...options.sort };
    delete sort.$natural;
    if (Object.keys(sort).length > 0) cursor.sort(sort as Record<string, 1 | -1>);
    if (options.skip) cursor.skip(options.skip);
    // A negative limit means "at most this many, one batch"; the caller handles the batch part.
    if (options.limit) cursor.limit(Math.abs(options.limit));
    const matched = cursor.all() as Doc[];
    if (!options.projection || Object.keys(options.projection).length === 0) return matched;
    // mingo's projection can modify nested objects of its input: project copies, never stored docs.
    return find(
      matched.map((doc) => cloneDoc(doc)),
      {},
      options.projection,
    )
      .all()
      .map((doc) => idFirst(doc as Doc));
  } catch (error) {
    throw asCommandError(error);
  }
}

/**
 * The query operators alone. mingo copies every operator table of its context for each
 * query it compiles (each statement of a bulk write), and the expression tables are
 * hundreds of entries a filter needs only for `$expr`, `$where` or `$jsonSchema`.
 */
const QUERY_CONTEXT = Context.init({ query: queryOperators });

const EXPRESSION_KEYS = new Set(["$expr", "$where", "$jsonSchema"]);

/** Whether a filter uses expressions anywhere (a top-level key, or inside $and/$or/$nor/$elemMatch/$not). */
function needsExpressions(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(needsExpressions);
  if (!isPlainObject(value)) return false;
  return Object.entries(value).some(
    ([key, inner]) => EXPRESSION_KEYS.has(key) || needsExpressions(inner),
  );
}

const TOP_LEVEL_OPERATORS = new Set([
  "$and",
  "$or",
  "$nor",
  "$expr",
  "$jsonSchema",
  "$text",
  "$where",
  "$comment",
]);

const FIELD_OPERATORS = new Set([
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$in",
  "$nin",
  "$exists",
  "$type",
  "$regex",
  "$options",
  "$not",
  "$elemMatch",
  "$size",
  "$all",
  "$mod",
  "$bitsAllSet",
  "$bitsAllClear",
  "$bitsAnySet",
  "$bitsAnyClear",
]);

/** Rejects operators a server does not know (mingo would read `{ $bogus: 1 }` as a value). */
export function validateFilter(filter: Doc): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key.startsWith("$")) {
      if (!TOP_LEVEL_OPERATORS.has(key)) {
        throw new CommandError(ErrorCode.BadValue, `unknown top level operator: ${key}`);
      }
      if (key === "$and" || key === "$or" || key === "$nor") {
        if (!Array.isArray(value) || value.length === 0) {
          throw new CommandError(ErrorCode.BadValue, `${key} must be a nonempty array`);
        }
        for (const clause of value) {
          if (!isPlainObject(clause)) {
            throw new CommandError(
              ErrorCode.BadValue,
              `$or/$and/$nor entries need to be full objects`,
            );
          }
          validateFilter(clause);
        }
      }
      continue;
    }
    validateFieldOperators(value);
  }
}

function validateFieldOperators(value: unknown): void {
  if (!isPlainObject(value)) return;
  const operators = Object.keys(value);
  if (!operators[0]?.startsWith("$")) return;
  for (const operator of operators) {
    if (!FIELD_OPERATORS.has(operator)) {
      throw new CommandError(ErrorCode.BadValue, `unknown operator: ${operator}`);
    }
  }
  if (isPlainObject(value.$not)) validateFieldOperators(value.$not);
}

/** Adds `_id` (first) when missing and rejects the values the server rejects. */
export function prepareInsert(doc: Doc): Doc {
  const withId = "_id" in doc ? idFirst(doc) : { _id: new ObjectId(), ...doc };
  if (Array.isArray(withId._id)) {
    throw new CommandError(ErrorCode.BadValue, "can't use an array for _id");
  }
  if (withId._id instanceof RegExp) {
    throw new CommandError(ErrorCode.BadValue, "can't use a regex for _id");
  }
  return withId;
}

export function insertDoc(state: ServerState, collection: Collection, doc: Doc): Doc {
  collection.checkUnique(doc);
  const stored = collection.put(doc);
  state.log.append({
    clusterTime: state.clock.tick(),
    operationType: "insert",
    db: collection.db,
    coll: collection.name,
    documentKey: { _id: stored._id },
    after: stored,
  });
  return stored;
}

/** Stores `after` in place of `before`; false (and no event) when nothing changed. */
export function replaceDoc(
  state: ServerState,
  collection: Collection,
  before: Doc,
  after: Doc,
  kind: "update" | "replace",
): boolean {
  if (valuesEqual(before, after)) return false;
  collection.checkUnique(after, before);
  const stored = collection.put(after);
  const diff = kind === "update" ? diffDocs(before, stored) : undefined;
  state.log.append({
    clusterTime: state.clock.tick(),
    operationType: kind,
    db: collection.db,
    coll: collection.name,
    documentKey: { _id: stored._id },
    after: stored,
    before,
    ...(diff ? { updateDescription: { ...diff, truncatedArrays: [] } } : {}),
  });
  return true;
}

export function deleteDoc(state: ServerState, collection: Collection, doc: Doc): void {
  collection.remove(doc);
  state.log.append({
    clusterTime: state.clock.tick(),
    operationType: "delete",
    db: collection.db,
    coll: collection.name,
    documentKey: { _id: doc._id },
    before: doc,
  });
}

const UPDATE_OPERATORS = new Set([
  "$addToSet",
  "$bit",
  "$currentDate",
  "$inc",
  "$max",
  "$min",
  "$mul",
  "$pop",
  "$pull",
  "$pullAll",
  "$push",
  "$rename",
  "$set",
  "$setOnInsert",
  "$unset",
]);

const PIPELINE_UPDATE_STAGES = new Set([
  "$addFields",
  "$set",
  "$project",
  "$unset",
  "$replaceRoot",
  "$replaceWith",
]);

export type UpdateSpec = Doc | Doc[];

export interface UpdateOptions {
  arrayFilters?: Doc[];
  /** The query that matched `before`; lets the positional `$` operator find its element. */
  filter?: Doc;
  /** True while building an upserted document: `$setOnInsert` applies. */
  inserting?: boolean;
}

/** Whether the operators are one `$set` of top-level fields (see topLevelFields). */
function onlyTopLevelSet(operators: Doc): boolean {
  const keys = Object.keys(operators);
  return keys.length === 1 && keys[0] === "$set" && topLevelFields(operators.$set);
}

/**
 * Whether `fields` is a non-empty object of plain top-level field names: no dotted path,
 * no `$`, no `_id`, and none a JavaScript object would order before the others (digits).
 */
function topLevelFields(fields: unknown): fields is Doc {
  if (!isPlainObject(fields)) return false;
  const keys = Object.keys(fields);
  return keys.length > 0 && keys.every((key) => PLAIN_FIELD.test(key) && key !== "_id");
}

const PLAIN_FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether any path of the update operators has a positional `$` segment (`a.$.b`). */
function usesPositional(operators: Doc): boolean {
  return Object.values(operators).some(
    (fields) =>
      isPlainObject(fields) && Object.keys(fields).some((path) => path.split(".").includes("$")),
  );
}

/** Whether `update` is a replacement document (rather than operators or a pipeline). */
export function isReplacement(update: UpdateSpec): update is Doc {
  if (Array.isArray(update)) return false;
  const keys = Object.keys(update);
  return keys.length === 0 || !keys[0]!.startsWith("$");
}

/** The document that results from applying `update` to `before` (which is left untouched). */
export function applyUpdate(
  before: Doc,
  update: UpdateSpec,
  options: UpdateOptions = {},
): { after: Doc; kind: "update" | "replace" } {
  if (Array.isArray(update)) return { after: applyPipelineUpdate(before, update), kind: "update" };
  const keys = Object.keys(update);
  if (isReplacement(update)) {
    const dollar = keys.find((key) => key.startsWith("$"));
    if (dollar) {
      throw new CommandError(
        ErrorCode.BadValue,
        `The dollar ($) prefixed field '${dollar}' in '${dollar}' is not allowed in the context of an update's replacement document.`,
      );
    }
    if ("_id" in update && "_id" in before && !valuesEqual(update._id, before._id)) {
      throw new CommandError(
        ErrorCode.ImmutableField,
        "After applying the update, the (immutable) field '_id' was found to have been altered",
      );
    }
    const { _id: _ignored, ...rest } = cloneDoc(update);
    const id = "_id" in before ? before._id : "_id" in update ? update._id : new ObjectId();
    return { after: { _id: id, ...rest }, kind: "replace" };
  }
  for (const key of keys) {
    if (!UPDATE_OPERATORS.has(key)) {
      throw new CommandError(
        ErrorCode.FailedToParse,
        `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isPlainObject(update[key])) {
      throw new CommandError(
        ErrorCode.FailedToParse,
        `Modifiers operate on fields but we found type ${typeof update[key]} instead.`,
      );
    }
  }
  const { $setOnInsert, ...operators } = update as Doc;
  const after = cloneDoc(before);
  const setOnInsert = options.inserting && isPlainObject($setOnInsert) ? $setOnInsert : undefined;
  if (onlyTopLevelSet(operators) && (!setOnInsert || topLevelFields(setOnInsert))) {
    // The ledger's writes (thousands in a burst) are `$set`s of top-level fields: assigned
    // here as mingo would, without the operator tables it builds for every document.
    Object.assign(after, cloneDoc(operators.$set as Doc), setOnInsert && cloneDoc(setOnInsert));
    return { after: idFirst(after), kind: "update" };
  }
  try {
    if (Object.keys(operators).length > 0) {
      mingoUpdate(
        after,
        operators as Modifier<Doc>,
        options.arrayFilters,
        // The filter matters only to a positional `$` path (the element it matched); the
        // document is matched already, and mingo compiles a filter it is given each time.
        options.inserting || !usesPositional(operators) ? undefined : options.filter,
        { cloneMode: "deep" },
      );
    }
    if (options.inserting && isPlainObject($setOnInsert)) {
      mingoUpdate(after, { $set: $setOnInsert }, undefined, undefined, { cloneMode: "deep" });
    }
  } catch (error) {
    throw asCommandError(error);
  }
  if ("_id" in before && !valuesEqual(before._id, after._id)) {
    throw new CommandError(
      ErrorCode.ImmutableField,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  return { after: idFirst(after), kind: "update" };
}

function applyPipelineUpdate(before: Doc, pipeline: Doc[]): Doc {
  for (const stage of pipeline) {
    const name = Object.keys(stage)[0] ?? "";
    if (!PIPELINE_UPDATE_STAGES.has(name)) {
      throw new CommandError(
        ErrorCode.BadValue,
        `${name} is not allowed to be used within an update`,
      );
    }
  }
  const docs = [cloneDoc(before)];
  try {
    mingoUpdateOne(docs, {}, pipeline as PipelineStage[], { cloneMode: "deep" });
  } catch (error) {
    throw asCommandError(error);
  }
  const after = docs[0]!;
  if ("_id" in before && !valuesEqual(before._id, after._id)) {
    throw new CommandError(
      ErrorCode.ImmutableField,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  return idFirst(after);
}

/** The document an upsert starts from: the equality conditions of its query. */
export function upsertSeed(filter: Doc): Doc {
  const seed: Doc = {};
  const visit = (conditions: Doc): void => {
    for (const [key, value] of Object.entries(conditions)) {
      if (key === "$and" && Array.isArray(value)) {
        for (const clause of value) if (isPlainObject(clause)) visit(clause);
        continue;
      }
      if (key.startsWith("$") || value instanceof RegExp) continue;
      if (isPlainObject(value)) {
        const operators = Object.keys(value);
        if (operators.length > 0 && operators.every((op) => op.startsWith("$"))) {
          if ("$eq" in value) setPath(seed, key, cloneValue(value.$eq));
          continue;
        }
      }
      setPath(seed, key, cloneValue(value));
    }
  };
  visit(filter);
  return seed;
}

/** Builds the document an upsert inserts. */
export function upsertDoc(filter: Doc, update: UpdateSpec, arrayFilters?: Doc[]): Doc {
  const seed = upsertSeed(filter);
  if (isReplacement(update)) {
    const base: Doc = "_id" in seed ? { _id: seed._id } : {};
    return prepareInsert(applyUpdate(base, update, { inserting: true }).after);
  }
  return prepareInsert(applyUpdate(seed, update, { arrayFilters, inserting: true }).after);
}
