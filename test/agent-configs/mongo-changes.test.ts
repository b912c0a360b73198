import { type ChangeStreamDocument, ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import {
  classifyChange,
  documentKey,
  PendingChanges,
} from "../../src/agent-configs/mongo-changes.ts";

const id = new ObjectId();
const key = documentKey(id);

function update(
  updatedFields: Record<string, unknown>,
  removedFields: string[] = [],
): ChangeStreamDocument {
  return {
    operationType: "update",
    documentKey: { _id: id },
    updateDescription: { updatedFields, removedFields },
  } as unknown as ChangeStreamDocument;
}

describe("classifyChange", () => {
  it("takes an update of runner-owned fields only as a patch, with their values", () => {
    expect(classifyChange(update({ agent_id: "agent_1", wallet_address: "0xab" }))).toEqual({
      kind: "patch",
      key,
      fields: { agent_id: "agent_1", wallet_address: "0xab" },
    });
  });

  it("re-reads the document for any other update, a removal or a nested path", () => {
    const reread = { kind: "document", key, id };
    expect(classifyChange(update({ agent_id: "agent_1", base_rate_usd: 0.1 }))).toEqual(reread);
    expect(classifyChange(update({}, ["agent_id"]))).toEqual(reread);
    expect(classifyChange(update({ "capabilities.sql": 0.5 }))).toEqual(reread);
    expect(classifyChange(update({}))).toEqual(reread);
  });

  it("re-reads inserted, replaced and deleted documents, and everything after an invalidate", () => {
    for (const operationType of ["insert", "replace", "delete"]) {
      const change = { operationType, documentKey: { _id: id } } as unknown as ChangeStreamDocument;
      expect(classifyChange(change)).toEqual({ kind: "document", key, id });
    }
    const invalidate = { operationType: "invalidate" } as unknown as ChangeStreamDocument;
    expect(classifyChange(invalidate)).toEqual({ kind: "all" });
  });
});

describe("PendingChanges", () => {
  it("merges a document's patches in arrival order", () => {
    const pending = new PendingChanges();
    pending.add({ kind: "patch", key, fields: { agent_id: "a", wallet_address: "w1" } });
    pending.add({ kind: "patch", key, fields: { wallet_address: "w2" } });
    expect(pending.patches.get(key)).toEqual({ agent_id: "a", wallet_address: "w2" });
    expect(pending.all).toBe(false);
    pending.add({ kind: "all" });
    expect(pending.all).toBe(true);
  });
});
