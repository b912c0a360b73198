import { ObjectId, UUID } from "bson";
import { Query } from "mingo";
import { cloneDoc, getPath, valueKey } from "./docs.ts";
import { CommandError, type Doc, ErrorCode } from "./errors.ts";

/** In-memory databases. Stored documents are never mutated: writes replace them (copy on write). */

export interface IndexSpec {
  v: number;
  key: Doc;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
  [option: string]: unknown;
}

const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: "_id_" };

/** An index's entries: each key and the documents (`valueKey(_id)`) under it. */
interface IndexEntries {
  keys: Map<string, Set<string>>;
  /** A document holds an array in an indexed field: one value no longer means one key. */
  multikey: boolean;
}

/** What an index lookup found: the candidates, and the filter left to test on them. */
export interface Selection {
  docs: Doc[];
  rest: Doc;
}

/** Keys one lookup may visit (the product of its `$in` lists); beyond it, a scan. */
const MAX_LOOKUP_KEYS = 100_000;

export class Collection {
  readonly db: string;
  readonly name: string;
  readonly uuid = new UUID();
  readonly options: Doc;
  /** Keyed by `valueKey(_id)`; a Map keeps insertion (natural) order across replacements. */
  readonly docs = new Map<string, Doc>();
  readonly indexes: IndexSpec[] = [{ ...ID_INDEX }];
  /** Per index other than _id: its keys, kept as documents are stored and removed. */
  private readonly entries = new Map<string, IndexEntries>();

  constructor(db: string, name: string, options: Doc = {}) {
    this.db = db;
    this.name = name;
    this.options = options;
  }

  get namespace(): string {
    return `${this.db}.${this.name}`;
  }

  all(): Doc[] {
    return [...this.docs.values()];
  }

  /**
   * The documents a filter can match, and what of the filter the query must still test.
   * Equality or `$in` on every field of an index, an `_id` or an `_id: { $in: [...] }`,
   * or a top-level `$or` whose every clause is one of those: the index finds the
   * candidates, as a real server's index scan would; else every document. Conditions an
   * index decided exactly (strings and ObjectIds) are left out of `rest`: mingo's `$in`
   * builds a set of its list for every document it tests. Without the index, each keyed
   * update scanned the whole collection, which made bulk writes quadratic.
   */
  select(filter: Doc | undefined): Selection {
    const query = filter ?? {};
    const found = filter && this.indexed(filter);
    if (!found) return { docs: this.all(), rest: query };
    if (found.decided.length === 0) return { docs: found.docs, rest: query };
    const rest = { ...query };
    for (const field of found.decided) delete rest[field];
    return { docs: found.docs, rest };
  }

  /** The candidates an index finds for `filter` and the fields it decided; undefined when none applies. */
  private indexed(filter: Doc): { docs: Doc[]; decided: string[] } | undefined {
    const clauses = filter.$or;
    if (Array.isArray(clauses) && clauses.length > 0) {
      const found = new Map<string, Doc>();
      for (const clause of clauses) {
        const docs = isDoc(clause) ? this.indexed(clause)?.docs : undefined;
        if (!docs) return undefined;
        for (const doc of docs) found.set(valueKey(doc._id), doc);
      }
      return { docs: [...found.values()], decided: [] };
    }
    return this.byId(filter) ?? this.byIndex(filter);
  }

  /** Looks up the widest usable index whose every field the filter gives values for. */
  private byIndex(filter: Doc): { docs: Doc[]; decided: string[] } | undefined {
    let best: { entries: IndexEntries; fields: string[]; values: unknown[][] } | undefined;
    for (const index of this.indexes) {
      const entries = this.entries.get(index.name);
      if (!entries || !usable(index, entries)) continue;
      const fields = Object.keys(index.key);
      if (best && best.fields.length >= fields.length) continue;
      const values: unknown[][] = [];
      for (const field of fields) {
        const allowed = equalityValues(filter[field]);
        if (!allowed) break;
        values.push(allowed);
      }
      if (values.length === fields.length) best = { entries, fields, values };
    }
    if (!best) return undefined;
    const { entries, fields, values } = best;
    if (values.reduce((keys, list) => keys * list.length, 1) > MAX_LOOKUP_KEYS) return undefined;
    const owners = new Set<string>();
    for (const combination of product(values)) {
      for (const owner of entries.keys.get(valueKey(combination)) ?? []) owners.add(owner);
    }
    const docs = [...owners].flatMap((owner): Doc[] => {
      const doc = this.docs.get(owner);
      return doc ? [doc] : [];
    });
    return { docs, decided: values.flat().every(isExact) ? fields : [] };
  }

  /** `_id`, or `_id: { $in: [...] }`: the primary key finds the candidates. */
  private byId(filter: Doc): { docs: Doc[]; decided: string[] } | undefined {
    const ids = equalityValues(filter._id);
    if (!ids) return undefined;
    const docs = ids.flatMap((value): Doc[] => {
      const doc = this.getById(value);
      return doc ? [doc] : [];
    });
    return { docs, decided: ids.every(isExact) ? ["_id"] : [] };
  }

  getById(id: unknown): Doc | undefined {
    return this.docs.get(valueKey(id));
  }

  /** Throws the server's E11000 error when `doc` collides with another document on a unique index. */
  checkUnique(doc: Doc, replacing?: Doc): void {
    const self = replacing === undefined ? undefined : valueKey(replacing._id);
    const idKey = valueKey(doc._id);
    if (this.docs.has(idKey) && idKey !== self) throw this.duplicate(this.indexes[0]!, doc);
    for (const index of this.indexes) {
      const entries = index.unique ? this.entries.get(index.name) : undefined;
      const key = entries ? indexKey(index, doc) : undefined;
      for (const owner of (key !== undefined && entries?.keys.get(key)) || []) {
        if (owner !== self) throw this.duplicate(index, doc);
      }
    }
  }

  /** Stores a (new or replacing) document; callers check uniqueness first. Returns the stored copy. */
  put(doc: Doc): Doc {
    const idKey = valueKey(doc._id);
    const old = this.docs.get(idKey);
    if (old) this.unindex(old, idKey);
    const stored = cloneDoc(doc);
    this.docs.set(idKey, stored);
    for (const index of this.indexes) this.index(index, stored, idKey);
    return stored;
  }

  remove(doc: Doc): void {
    const idKey = valueKey(doc._id);
    const old = this.docs.get(idKey);
    if (old) this.unindex(old, idKey);
    this.docs.delete(idKey);
  }

  /** Adds an index; a unique one is refused (E11000) when existing documents collide. */
  addIndex(index: IndexSpec): void {
    if (index.name !== "_id_") {
      this.entries.set(index.name, { keys: new Map(), multikey: false });
      try {
        for (const [idKey, doc] of this.docs) {
          if (index.unique) this.checkUniqueIn(index, doc);
          this.index(index, doc, idKey);
        }
      } catch (error) {
        this.entries.delete(index.name);
        throw error;
      }
    }
    this.indexes.push(index);
  }

  dropIndex(index: IndexSpec): void {
    this.indexes.splice(this.indexes.indexOf(index), 1);
    this.entries.delete(index.name);
  }

  private checkUniqueIn(index: IndexSpec, doc: Doc): void {
    const key = indexKey(index, doc);
    if (key !== undefined && this.entries.get(index.name)?.keys.has(key)) {
      throw this.duplicate(index, doc);
    }
  }

  private index(index: IndexSpec, doc: Doc, idKey: string): void {
    const entries = this.entries.get(index.name);
    const key = entries ? indexKey(index, doc) : undefined;
    if (!entries || key === undefined) return;
    const owners = entries.keys.get(key);
    if (owners) owners.add(idKey);
    else entries.keys.set(key, new Set<string>().add(idKey));
    if (!entries.multikey) {
      entries.multikey = Object.keys(index.key).some((field) => Array.isArray(getPath(doc, field)));
    }
  }

  private unindex(doc: Doc, idKey: string): void {
    for (const index of this.indexes) {
      const entries = this.entries.get(index.name);
      const key = entries ? indexKey(index, doc) : undefined;
      const owners = key === undefined ? undefined : entries?.keys.get(key);
      owners?.delete(idKey);
      if (owners?.size === 0) entries?.keys.delete(key as string);
    }
  }

  private duplicate(index: IndexSpec, doc: Doc): CommandError {
    const keyValue: Doc = {};
    for (const field of Object.keys(index.key)) keyValue[field] = getPath(doc, field) ?? null;
    const shown = Object.entries(keyValue)
      .map(([field, value]) => `${field}: ${valueKey(value).slice(5, -1)}`)
      .join(", ");
    return new CommandError(
      ErrorCode.DuplicateKey,
      `E11000 duplicate key error collection: ${this.namespace} index: ${index.name} dup key: { ${shown} }`,
      { keyPattern: { ...index.key }, keyValue },
    );
  }
}

/**
 * The values an equality condition allows: a plain value, `{ $eq: v }` or `{ $in: [...] }`
 * of plain values; undefined for any other condition (or none).
 */
function equalityValues(condition: unknown): unknown[] | undefined {
  if (isScalar(condition)) return [condition];
  if (!isDoc(condition)) return undefined;
  const operators = Object.keys(condition);
  if (operators.length !== 1) return undefined;
  const [operator] = operators;
  if (operator === "$eq" && isScalar(condition.$eq)) return [condition.$eq];
  const list = condition.$in;
  if (operator === "$in" && Array.isArray(list) && list.every(isScalar)) return list;
  return undefined;
}

/** A value whose index key equals another's exactly when a query's equality would. */
function isExact(value: unknown): boolean {
  return typeof value === "string" || value instanceof ObjectId;
}

/** Every combination taking one value from each list, in order. */
function product(lists: unknown[][]): unknown[][] {
  let combinations: unknown[][] = [[]];
  for (const list of lists) {
    combinations = combinations.flatMap((prefix) => list.map((value) => [...prefix, value]));
  }
  return combinations;
}

/** Whether lookups may use an index: keys of top-level fields, no arrays, every document covered. */
function usable(index: IndexSpec, entries: IndexEntries): boolean {
  return (
    !entries.multikey &&
    !index.partialFilterExpression &&
    !index.collation &&
    Object.keys(index.key).every((field) => !field.includes("."))
  );
}

/** A value an equality filter compares as a whole: no operator document, array, pattern or null. */
function isScalar(value: unknown): boolean {
  if (value === undefined || value === null || Array.isArray(value)) return false;
  if (typeof value !== "object") return true;
  if (value instanceof RegExp || (value as { _bsontype?: string })._bsontype === "BSONRegExp")
    return false;
  return Object.keys(value).every((key) => !key.startsWith("$"));
}

/** The comparable key of `doc` in a unique index, or undefined when the index does not cover it. */
function indexKey(index: IndexSpec, doc: Doc): string | undefined {
  const fields = Object.keys(index.key);
  const values = fields.map((field) => getPath(doc, field));
  if (index.sparse && values.every((value) => value === undefined)) return undefined;
  if (index.partialFilterExpression && !new Query(index.partialFilterExpression).test(doc)) {
    return undefined;
  }
  return valueKey(values.map((value) => value ?? null));
}

export class Store {
  private readonly dbs = new Map<string, Map<string, Collection>>();

  databases(): string[] {
    return [...this.dbs.keys()].filter((name) => (this.dbs.get(name)?.size ?? 0) > 0);
  }

  collections(db: string): Collection[] {
    return [...(this.dbs.get(db)?.values() ?? [])];
  }

  get(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** Returns the collection, creating it (as the server does on first write). */
  ensure(
    db: string,
    name: string,
    options: Doc = {},
  ): { collection: Collection; created: boolean } {
    validateNamespace(db, name);
    let collections = this.dbs.get(db);
    if (!collections) {
      collections = new Map();
      this.dbs.set(db, collections);
    }
    const existing = collections.get(name);
    if (existing) return { collection: existing, created: false };
    const collection = new Collection(db, name, options);
    collections.set(name, collection);
    return { collection, created: true };
  }

  drop(db: string, name: string): Collection | undefined {
    const collection = this.dbs.get(db)?.get(name);
    this.dbs.get(db)?.delete(name);
    return collection;
  }

  dropDatabase(db: string): Collection[] {
    const dropped = this.collections(db);
    this.dbs.delete(db);
    return dropped;
  }
}

function validateNamespace(db: string, name: string): void {
  if (db === "" || /[/\\. "$]/.test(db)) {
    throw new CommandError(ErrorCode.InvalidNamespace, `Invalid database name: '${db}'`);
  }
  if (name === "" || name.includes("$") || name.startsWith(".")) {
    throw new CommandError(ErrorCode.InvalidNamespace, `Invalid collection name: ${db}.${name}`);
  }
}

function isDoc(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
