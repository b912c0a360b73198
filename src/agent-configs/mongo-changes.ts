import type { ChangeStreamDocument } from "mongodb";

/**
 * Fields the runner itself writes into an agent's document (`writeBack`). An update that
 * sets only these is the runner's own echo: it is applied from the event, never re-read.
 */
export const RUNNER_OWNED_FIELDS: ReadonlySet<string> = new Set(["agent_id", "wallet_address"]);

/** The key of an agent document in snapshots: stable across reloads. */
export function documentKey(id: unknown): string {
  return `mongo:${String(id)}`;
}

/** What one change event asks of the config source. */
export type ConfigChange =
  /** Only runner-owned fields were set: apply them to the document as known. */
  | { kind: "patch"; key: string; fields: Record<string, unknown> }
  /** Anything else about one document: re-read that document. */
  | { kind: "document"; key: string; id: unknown }
  /** The collection itself changed (dropped, renamed): re-read it all. */
  | { kind: "all" };

/** Classifies a change event; undefined for events that change no document. */
export function classifyChange(change: ChangeStreamDocument): ConfigChange | undefined {
  switch (change.operationType) {
    case "update": {
      const id: unknown = change.documentKey._id;
      const description = change.updateDescription;
      const updated = Object.keys(description?.updatedFields ?? {});
      const runnerOwned =
        updated.length > 0 &&
        (description?.removedFields?.length ?? 0) === 0 &&
        (description?.truncatedArrays?.length ?? 0) === 0 &&
        updated.every((field) => RUNNER_OWNED_FIELDS.has(field));
      if (runnerOwned && description?.updatedFields) {
        return {
          kind: "patch",
          key: documentKey(id),
          fields: { ...(description.updatedFields as Record<string, unknown>) },
        };
      }
      return { kind: "document", key: documentKey(id), id };
    }
    case "insert":
    case "replace":
    case "delete": {
      const id: unknown = change.documentKey._id;
      return { kind: "document", key: documentKey(id), id };
    }
    case "invalidate":
    case "drop":
    case "rename":
    case "dropDatabase":
      return { kind: "all" };
    default:
      return undefined;
  }
}

/**
 * The changes waiting for the next refresh, in arrival order. A refresh takes the whole
 * batch at once: everything in it happened before the refresh's read began, so a document
 * re-read supersedes the batch's patches of it.
 */
export class PendingChanges {
  all = false;
  /** Documents to re-read: key → raw `_id`. */
  readonly documents = new Map<string, unknown>();
  /** Runner-owned fields to apply, merged in arrival order: key → fields. */
  readonly patches = new Map<string, Record<string, unknown>>();

  add(change: ConfigChange): void {
    if (change.kind === "all") this.all = true;
    else if (change.kind === "document") this.documents.set(change.key, change.id);
    else this.patches.set(change.key, { ...this.patches.get(change.key), ...change.fields });
  }
}
