import { randomInt } from "node:crypto";
import { Long } from "bson";
import type { Doc } from "./errors.ts";
import { bsonSize, MAX_BSON_SIZE } from "./wire.ts";

/** Open cursors, shared by all connections (a cursor outlives the connection that opened it). */

/** Results computed up front and handed out in batches. */
export interface DocsCursor {
  kind: "docs";
  id: number;
  ns: string;
  docs: Doc[];
  next: number;
}

/** A change stream: a position in the change log plus what to show of each event. */
export interface ChangeStreamCursor {
  kind: "changeStream";
  id: number;
  ns: string;
  /** Which events: one collection, one database, or (neither set) the whole deployment. */
  db?: string;
  coll?: string;
  afterSeq: number;
  fullDocument: string;
  fullDocumentBeforeChange: string;
  /** Stages after $changeStream, applied to each event. */
  pipeline: Doc[];
  /** Set once an invalidate event was delivered: the cursor is closed. */
  invalidated: boolean;
}

export type Cursor = DocsCursor | ChangeStreamCursor;

/** The first batch of find/aggregate when the client names no batchSize. */
export const DEFAULT_FIRST_BATCH = 101;
/** Leaves room for the reply envelope under the 16 MiB document limit. */
const BATCH_BYTES = MAX_BSON_SIZE - 64 * 1024;

export class CursorRegistry {
  private readonly open = new Map<number, Cursor>();

  add<C extends Cursor>(cursor: Omit<C, "id">): C {
    // Below 2^53 so ids survive the promoteLongs round trip as exact numbers.
    let id = randomInt(1, 2 ** 47);
    while (this.open.has(id)) id = randomInt(1, 2 ** 47);
    const full = { ...cursor, id } as C;
    this.open.set(id, full);
    return full;
  }

  get(id: number): Cursor | undefined {
    return this.open.get(id);
  }

  kill(id: number): boolean {
    return this.open.delete(id);
  }

  clear(): void {
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}

/** Cursor ids go on the wire as int64, as a real server sends them. */
export function wireCursorId(id: number): Long {
  return Long.fromNumber(id);
}

/** Up to `batchSize` documents (all when undefined) from `start`, within the reply size limit. */
export function takeBatch(docs: Doc[], start: number, batchSize?: number): Doc[] {
  const batch: Doc[] = [];
  let bytes = 0;
  for (let i = start; i < docs.length; i++) {
    if (batchSize !== undefined && batch.length >= batchSize) break;
    const doc = docs[i]!;
    bytes += bsonSize(doc);
    if (batch.length > 0 && bytes > BATCH_BYTES) break;
    batch.push(doc);
  }
  return batch;
}

/**
 * Answers the first batch of a query result: returns the cursor reply and registers a cursor
 * when documents remain (and the client did not ask for a single batch).
 */
export function firstBatchReply(
  cursors: CursorRegistry,
  ns: string,
  docs: Doc[],
  options: { batchSize?: number; singleBatch?: boolean },
): Doc {
  const batch = takeBatch(docs, 0, options.batchSize ?? DEFAULT_FIRST_BATCH);
  let id = 0;
  if (batch.length < docs.length && !options.singleBatch) {
    id = cursors.add<DocsCursor>({ kind: "docs", ns, docs, next: batch.length }).id;
  }
  return { cursor: { firstBatch: batch, id: wireCursorId(id), ns }, ok: 1 };
}
