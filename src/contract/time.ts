/**
 * Times on the wire. The service writes Python's `datetime.utcnow().isoformat()`:
 * ISO-8601 in UTC, without a zone, with microseconds.
 */

/** A time as the service writes it. */
export function isoTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000`;
}

/** Parses a time the service wrote: ISO-8601, and without a zone it is UTC. */
export function parseTime(text: string): Date {
  const hasZone = /(?:[zZ]|[+-]\d\d:?\d\d)$/.test(text);
  return new Date(hasZone ? text : `${text}Z`);
}
