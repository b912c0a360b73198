import { UUID } from "bson";
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

export class Collection {
  readonly db: string;
  readonly name: string;
  readonly uuid = new UUID();
  readonly options: Doc;
  /** Keyed by `valueKey(_id)`; a Map keeps insertion (natural) order across replacements. */
  readonly docs = new Map<string, Doc>();
  readonly indexes: IndexSpec[] = [{ ...ID_INDEX }];
  /** Per unique index (other than _id): index key -> owning document's `valueKey(_id)`. */
  private readonly uniqueKeys = new Map<string, Map<string, string>>();

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
   * The documents a filter can match. A plain value for every field of a unique index,
   * an `_id` or an `_id: { $in: [...] }`, or a top-level `$or` whose every clause is one
   * of those: the index finds the candidates, as a real server's index scan would; else
   * every document (the query still decides which match). Without this, each keyed
   * update scanned the whole collection, which made bulk writes quadratic.
   */
  candidates(filter: Doc | undefined): Doc[] {
    return (filter && this.indexed(filter)) ?? this.all();
  }

  /** The candidates an index finds for `filter`, or undefined when no index applies. */
  private indexed(filter: Doc): Doc[] | undefined {
    const clauses = filter.$or;
    if (Array.isArray(clauses) && clauses.length > 0) {
      const found = new Map<string, Doc>();
      for (const clause of clauses) {
        const docs = isDoc(clause) ? this.indexed(clause) : undefined;
        if (!docs) return undefined;
        for (const doc of docs) found.set(valueKey(doc._id), doc);
      }
      return [...found.values()];
    }
    for (const index of this.indexes) {
      const owners = index.name === "_id_" ? undefined : this.uniqueKeys.get(index.name);
      if (!owners || index.partialFilterExpression) continue;
      const values = Object.keys(index.key).map((field) => filter[field]);
      if (!values.every(isScalar)) continue;
      const owner = owners.get(valueKey(values));
      const doc = owner === undefined ? undefined : this.docs.get(owner);
      return doc ? [doc] : [];
    }
    const id = filter._id;
    const ids = isScalar(id)
      ? [id]
      : isDoc(id) && Object.keys(id).length === 1
        ? id.$in
        : undefined;
    if (!Array.isArray(ids) || !ids.every(isScalar)) return undefined;
    return ids.flatMap((value): Doc[] => {
      const doc = this.getById(value);
      return doc ? [doc] : [];
    });
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
      const owners = this.uniqueKeys.get(index.name);
      const key = owners ? indexKey(index, doc) : undefined;
      if (key === undefined) continue;
      const owner = owners?.get(key);
      if (owner !== undefined && owner !== self) throw this.duplicate(index, doc);
    }
  }

  /** Stores a (new or replacing) document; callers check uniqueness first. Returns the stored copy. */
  put(doc: Doc): Doc {
    const idKey = valueKey(doc._id);
    const old = this.docs.get(idKey);
    if (old) this.unindex(old, idKey);
    const stored = cloneDoc(doc);
    this.docs.set(idKey, stored);
    for (const index of this.indexes) {
      const key = this.uniqueKeys.has(index.name) ? indexKey(index, stored) : undefined;
      if (key !== undefined) this.uniqueKeys.get(index.name)?.set(key, idKey);
    }
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
    if (index.unique && index.name !== "_id_") {
      const owners = new Map<string, string>();
      for (const [idKey, doc] of this.docs) {
        const key = indexKey(index, doc);
        if (key === undefined) continue;
        if (owners.has(key)) throw this.duplicate(index, doc);
        owners.set(key, idKey);
      }
      this.uniqueKeys.set(index.name, owners);
    }
    this.indexes.push(index);
  }

  dropIndex(index: IndexSpec): void {
    this.indexes.splice(this.indexes.indexOf(index), 1);
    this.uniqueKeys.delete(index.name);
  }

  private unindex(doc: Doc, idKey: string): void {
    for (const index of this.indexes) {
      const owners = this.uniqueKeys.get(index.name);
      const key = owners ? indexKey(index, doc) : undefined;
      if (key !== undefined && owners?.get(key) === idKey) owners?.delete(key);
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
