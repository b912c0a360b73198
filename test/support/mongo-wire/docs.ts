import { BSON, EJSON, ObjectId } from "bson";
import type { Doc } from "./errors.ts";

/** Document helpers that respect BSON types (ObjectId, Date, Timestamp, Binary ...). */

/**
 * A deep copy as a trip through BSON makes it: every BSON type survives, nothing is
 * shared, an undefined field is dropped (null in an array). Documents of plain values
 * (the usual kind) are copied directly; anything else goes through BSON itself.
 */
export function cloneDoc<T extends Doc>(doc: T): T {
  const copy = plainCopy(doc);
  return (
    copy === NOT_PLAIN ? BSON.deserialize(BSON.serialize(doc, { ignoreUndefined: true })) : copy
  ) as T;
}

const NOT_PLAIN = Symbol("not plain");

/**
 * A copy of a value made of plain objects and arrays, strings, numbers, booleans, null,
 * valid Dates and ObjectIds (shared: nothing changes one in place); NOT_PLAIN for any
 * other value, whose BSON form only BSON knows (Long, Decimal128, Binary, ...).
 */
function plainCopy(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return value;
  if (value instanceof ObjectId) return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? NOT_PLAIN : new Date(value);
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i] === undefined ? null : plainCopy(value[i]);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = item;
    }
    return copy;
  }
  if (!isPlainObject(value)) return NOT_PLAIN;
  const copy: Doc = {};
  for (const key of Object.keys(value)) {
    // BSON refuses a NUL in a key, so must the copy; `__proto__` is an own field in BSON.
    if (key.includes("\0") || key === "__proto__") return NOT_PLAIN;
    const field = value[key];
    if (field === undefined) continue;
    const item = plainCopy(field);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}

export function cloneValue(value: unknown): unknown {
  return cloneDoc({ v: value }).v;
}

/** A string that is equal for equal BSON values (numbers compare by value, as the server does). */
export function valueKey(value: unknown): string {
  const v = value === undefined ? null : value;
  // Strings, booleans and null (alone or in an array) are their own EJSON, and an
  // ObjectId's is its hex: the same text without EJSON's walk, which every write pays.
  if (isJsonKey(v) || (Array.isArray(v) && v.every(isJsonKey))) return JSON.stringify({ v });
  if (v instanceof ObjectId) return `{"v":{"$oid":"${v.toHexString()}"}}`;
  return EJSON.stringify({ v }, { relaxed: true });
}

function isJsonKey(value: unknown): boolean {
  return value === null || typeof value === "string" || typeof value === "boolean";
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return plainEqual(a, b) ?? valueKey(a) === valueKey(b);
}

/**
 * valueKey equality, worked out directly for plain values (every stored document is
 * compared so on each update); undefined when a value of another kind is inside.
 */
function plainEqual(a: unknown, b: unknown): boolean | undefined {
  if (typeof a === "number" && typeof b === "number")
    return a === b || (Number.isNaN(a) && Number.isNaN(b));
  // (undefined stands for null at the top: left to valueKey)
  if (typeof a === "string" || typeof a === "boolean" || a === null) {
    return b === undefined ? undefined : a === b;
  }
  if (a instanceof Date && b instanceof Date) {
    const [x, y] = [a.getTime(), b.getTime()];
    return Number.isNaN(x) || Number.isNaN(y) ? undefined : x === y;
  }
  if (a instanceof ObjectId && b instanceof ObjectId) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const same = plainEqual(a[i], b[i]);
      if (same !== true) return same;
    }
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    const others = Object.keys(b);
    if (keys.length !== others.length) {
      // EJSON writes an undefined field as null: left to valueKey.
      const undefinedInside = (doc: Doc) => Object.values(doc).includes(undefined);
      return undefinedInside(a) || undefinedInside(b) ? undefined : false;
    }
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (key !== others[i]) return undefined;
      const same = plainEqual(a[key], b[key]);
      if (same !== true) return same;
    }
    return true;
  }
  return undefined;
}

export function isPlainObject(value: unknown): value is Doc {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Reads a dotted path; undefined when any step is missing. */
export function getPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split(".")) {
    if (Array.isArray(current)) {
      const index = Number(part);
      if (!Number.isInteger(index)) return undefined;
      current = current[index];
    } else if (isPlainObject(current)) {
      current = current[part];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Writes a dotted path, creating intermediate objects. */
export function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  let current: Doc = doc;
  for (const part of parts.slice(0, -1)) {
    const next = current[part];
    if (isPlainObject(next)) {
      current = next;
    } else {
      const created: Doc = {};
      current[part] = created;
      current = created;
    }
  }
  current[parts[parts.length - 1]!] = value;
}

/** Returns the document with `_id` as its first field, as the server stores it. */
export function idFirst(doc: Doc): Doc {
  if (!("_id" in doc) || Object.keys(doc)[0] === "_id") return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

/** The `updateDescription` of a change event: dotted paths set and paths removed. */
export function diffDocs(
  before: Doc,
  after: Doc,
  prefix = "",
  out: { updatedFields: Doc; removedFields: string[] } = { updatedFields: {}, removedFields: [] },
): { updatedFields: Doc; removedFields: string[] } {
  for (const [key, value] of Object.entries(after)) {
    const path = prefix + key;
    if (!(key in before)) {
      out.updatedFields[path] = value;
      continue;
    }
    const old = before[key];
    if (valuesEqual(old, value)) continue;
    if (isPlainObject(old) && isPlainObject(value)) diffDocs(old, value, `${path}.`, out);
    else out.updatedFields[path] = value;
  }
  for (const key of Object.keys(before)) {
    if (!(key in after)) out.removedFields.push(prefix + key);
  }
  return out;
}
