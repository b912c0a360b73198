import { randomBytes } from "node:crypto";

/** The service's time format: ISO-8601 in UTC without a zone, with microseconds (Python's isoformat). */
export function isoTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000`;
}

/** Parses a stored time; a time without a zone is UTC, as the service writes them. */
export function parseTime(text: string): Date {
  const hasZone = /(?:[zZ]|[+-]\d\d:?\d\d)$/.test(text);
  return new Date(hasZone ? text : `${text}Z`);
}

/** An id of the service's shape: prefix + 8 hex digits (`agent_1a2b3c4d`). */
export function newId(prefix: "agent" | "job" | "bid" | "txn" | "file"): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}
