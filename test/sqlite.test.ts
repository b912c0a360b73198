import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { isBazaarRunnerError } from "../src/errors.ts";
import { openSqlite, transaction } from "../src/sqlite.ts";

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "sqlite-test-"));
  dirs.push(dir);
  return join(dir, "nested", "db.sqlite");
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const MIGRATIONS = [
  "CREATE TABLE a (x INTEGER) STRICT;",
  "CREATE TABLE b (y INTEGER) STRICT; INSERT INTO a VALUES (1);",
];
const open = (path: string, migrations = MIGRATIONS) =>
  openSqlite({ name: "test db", path, migrations, synchronous: "FULL" });

describe("openSqlite", () => {
  it("creates the directory, uses WAL and applies each migration once", () => {
    const path = tempFile();
    const first = open(path);
    expect(first.schemaVersion).toBe(2);
    expect(first.journalMode).toBe("wal");
    first.db.close();
    // Reopened, and with a migration appended: only the new one runs (a second
    // CREATE TABLE a would throw).
    const second = open(path, [...MIGRATIONS, "INSERT INTO a VALUES (2);"]);
    expect(second.schemaVersion).toBe(3);
    expect(second.db.prepare("SELECT x FROM a ORDER BY x").all()).toEqual([{ x: 1 }, { x: 2 }]);
    second.db.close();
  });

  it("keeps the migrations before a failing one, and the failing one undone", () => {
    const path = tempFile();
    expect(() =>
      open(path, [...MIGRATIONS, "CREATE TABLE c (z INTEGER); SELECT nonsense("]),
    ).toThrow();
    const raw = new DatabaseSync(path);
    expect(raw.prepare("PRAGMA user_version").get()).toEqual({ user_version: 2 });
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'c'").get()).toBeUndefined();
    raw.close();
  });

  it("refuses a database written by a newer program, with its code", () => {
    const path = tempFile();
    open(path).db.close();
    let error: unknown;
    try {
      open(path, MIGRATIONS.slice(0, 1));
    } catch (err) {
      error = err;
    }
    expect(isBazaarRunnerError(error, "BR_ERR_SCHEMA_TOO_NEW")).toBe(true);
    expect(String(error)).toMatch(/test db: .*version 2 is newer than this program knows \(1\)/);
  });

  it("opens :memory: without a file", () => {
    const { db, schemaVersion, journalMode } = open(":memory:");
    expect(schemaVersion).toBe(2);
    expect(journalMode).toBe("memory");
    db.close();
  });
});

describe("transaction", () => {
  it("commits, rolls back on a throw, and joins a transaction already open", () => {
    const { db } = open(":memory:");
    transaction(db, () => db.exec("INSERT INTO b VALUES (1)"));
    expect(() =>
      transaction(db, () => {
        db.exec("INSERT INTO b VALUES (2)");
        throw new Error("no");
      }),
    ).toThrow("no");
    expect(() =>
      transaction(db, () => {
        transaction(db, () => db.exec("INSERT INTO b VALUES (3)"));
        throw new Error("outer fails");
      }),
    ).toThrow("outer fails");
    expect(db.isTransaction).toBe(false);
    expect(db.prepare("SELECT y FROM b").all()).toEqual([{ y: 1 }]);
    db.close();
  });
});
