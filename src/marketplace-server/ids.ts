import { randomBytes } from "node:crypto";

/** An id of the service's shape: prefix + 8 hex digits (`agent_1a2b3c4d`). */
export function newId(prefix: "agent" | "job" | "bid" | "txn" | "file"): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}
