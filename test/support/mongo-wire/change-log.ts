import { randomBytes } from "node:crypto";
import { Timestamp } from "bson";
import { CommandError, type Doc, ErrorCode } from "./errors.ts";

/** The server's logical clock and its "oplog": the bounded history change streams read. */

export class ClusterClock {
  private seconds = 0;
  private increment = 0;

  /** Advances the clock (one tick per write) and returns the new time. */
  tick(): Timestamp {
    const now = Math.floor(Date.now() / 1000);
    if (now > this.seconds) {
      this.seconds = now;
      this.increment = 1;
    } else {
      this.increment += 1;
    }
    return this.now();
  }

  now(): Timestamp {
    if (this.seconds === 0) return this.tick();
    return new Timestamp({ t: this.seconds, i: this.increment });
  }
}

export type OperationType = "insert" | "update" | "replace" | "delete" | "drop" | "dropDatabase";

export interface ChangeEntry {
  seq: number;
  clusterTime: Timestamp;
  wallTime: Date;
  operationType: OperationType;
  db: string;
  /** Absent for dropDatabase. */
  coll?: string;
  documentKey?: Doc;
  /** The document after the write (insert, replace, update). */
  after?: Doc;
  /** The document before the write (update, replace, delete): served as fullDocumentBeforeChange. */
  before?: Doc;
  updateDescription?: { updatedFields: Doc; removedFields: string[]; truncatedArrays: Doc[] };
}

/** Where a change stream starts reading: after this sequence number. */
export interface ResumePoint {
  afterSeq: number;
}

const TOKEN_PATTERN = /^82([0-9a-f]{8})([0-9a-f]{16})(00|01)$/;

export class ChangeLog {
  /** Distinguishes this server's tokens from any other's; survives stop()/start() like an oplog. */
  private readonly epoch = randomBytes(4).toString("hex");
  private readonly entries: ChangeEntry[] = [];
  private readonly waiters = new Set<() => void>();
  private lastSeq = 0;
  /** The newest sequence number evicted from the bounded history (0: nothing lost yet). */
  private lostThrough = 0;
  private lostTime: Timestamp | undefined;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  get latestSeq(): number {
    return this.lastSeq;
  }

  append(entry: Omit<ChangeEntry, "seq" | "wallTime">): ChangeEntry {
    this.lastSeq += 1;
    const full: ChangeEntry = { ...entry, seq: this.lastSeq, wallTime: new Date() };
    this.entries.push(full);
    while (this.entries.length > this.limit) {
      const evicted = this.entries.shift()!;
      this.lostThrough = evicted.seq;
      this.lostTime = evicted.clusterTime;
    }
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
    return full;
  }

  /** Entries with a sequence number above `afterSeq`, oldest first. */
  since(afterSeq: number): ChangeEntry[] {
    const first = this.entries[0];
    if (!first || afterSeq < first.seq) return this.entries.slice();
    return this.entries.slice(afterSeq - first.seq + 1);
  }

  /** Resolves on the next append, when `ms` pass, or when `signal` aborts. */
  waitForAppend(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Wakes every waiting getMore (the server is going away). */
  wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  token(seq: number, invalidate = false): Doc {
    const hex = seq.toString(16).padStart(16, "0");
    return { _data: `82${this.epoch}${hex}${invalidate ? "01" : "00"}` };
  }

  /** Where a stream resuming after `token` continues; 286 when that point has left the history. */
  resumeAfter(token: unknown): ResumePoint {
    const data =
      token && typeof token === "object" ? (token as { _data?: unknown })._data : undefined;
    const match = typeof data === "string" ? TOKEN_PATTERN.exec(data) : null;
    if (!match) {
      throw new CommandError(ErrorCode.InvalidResumeToken, "resume token was not a valid token");
    }
    const seq = Number.parseInt(match[2]!, 16);
    if (match[1] !== this.epoch || seq < this.lostThrough || seq > this.lastSeq) {
      throw historyLost();
    }
    return { afterSeq: seq };
  }

  /** Where a stream starting at `time` (inclusive) begins; 286 when events that old were evicted. */
  startAt(time: Timestamp): ResumePoint {
    if (this.lostTime && time.lessThanOrEqual(this.lostTime)) throw historyLost();
    const first = this.entries.find((entry) => entry.clusterTime.greaterThanOrEqual(time));
    return { afterSeq: first ? first.seq - 1 : this.lastSeq };
  }
}

function historyLost(): CommandError {
  return new CommandError(
    ErrorCode.ChangeStreamHistoryLost,
    "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
  );
}
