/**
 * Opening a node:sqlite database the one way the runner does it, for the ledger
 * (state/sqlite-ledger.ts) and the embedded marketplace (marketplace-server/store.ts):
 * WAL mode, schema migrations counted by `PRAGMA user_version`, and `BEGIN IMMEDIATE`
 * transactions.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BazaarRunnerError } from "./errors.ts";

export interface SqliteOpenOptions {
  /** What the database is, for messages ("ledger", "marketplace database"). */
  name: string;
  /** Database file (its directory is created if missing), or ":memory:". */
  path: string;
  /** Schema migrations in order; append only, never edit one that has shipped. */
  migrations: readonly string[];
  /**
   * `FULL`: a commit is on disk (WAL fsynced) when it returns. `NORMAL`: a power cut may
   * lose the last commits, never corrupt the file.
   */
  synchronous: "FULL" | "NORMAL";
  /** How long a write waits for another connection's lock, in ms. */
  busyTimeoutMs?: number;
  foreignKeys?: boolean;
  /** Runs before the database is opened (e.g. to make a new file private). */
  beforeOpen?: (path: string) => void;
}

export interface SqliteDatabase {
  db: DatabaseSync;
  /** The schema version the database is at (every migration applied). */
  schemaVersion: number;
  /** The journal mode SQLite accepted: `wal`, unless the file system refused it. */
  journalMode: string;
}

/**
 * Opens the database, WAL mode and `synchronous` set, and brings its schema up to date;
 * closed again if any of that fails.
 */
export function openSqlite(options: SqliteOpenOptions): SqliteDatabase {
  const inMemory = options.path === ":memory:";
  if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
  options.beforeOpen?.(options.path);
  const db = new DatabaseSync(options.path, {
    timeout: options.busyTimeoutMs ?? 5000,
    enableForeignKeyConstraints: options.foreignKeys ?? true,
  });
  try {
    const journalMode = inMemory
      ? "memory"
      : String(db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode);
    db.exec(`PRAGMA synchronous = ${options.synchronous}`);
    const schemaVersion = migrate(db, options.migrations, options.name);
    return { db, schemaVersion, journalMode };
  } catch (err) {
    db.close();
    throw err;
  }
}

function userVersion(db: DatabaseSync): number {
  const version = db.prepare("PRAGMA user_version").get()?.user_version;
  return typeof version === "number" ? version : 0;
}

/**
 * Applies the migrations not yet applied, each in its own IMMEDIATE transaction with the
 * version that counts it; returns the version reached. Safe when several processes open
 * the file at once: the version is read again under the write lock, so each migration
 * runs once. A database newer than `migrations` is refused.
 */
export function migrate(db: DatabaseSync, migrations: readonly string[], name: string): number {
  const tooNew = (version: number): never => {
    throw new BazaarRunnerError(
      "BR_ERR_SCHEMA_TOO_NEW",
      `${name}: database schema version ${version} is newer than this program knows (${migrations.length})`,
    );
  };
  if (userVersion(db) > migrations.length) tooNew(userVersion(db));
  while (userVersion(db) < migrations.length) {
    transaction(db, () => {
      const version = userVersion(db);
      if (version > migrations.length) tooNew(version);
      if (version === migrations.length) return;
      db.exec(migrations[version] ?? "");
      // PRAGMA takes no bound parameters; the value is our own integer.
      db.exec(`PRAGMA user_version = ${version + 1}`);
    });
  }
  return userVersion(db);
}

/**
 * Runs `body` in one IMMEDIATE transaction: the write lock is taken first, so nothing it
 * reads goes stale before it writes. Inside an open transaction, `body` joins it.
 */
export function transaction<T>(db: DatabaseSync, body: () => T): T {
  if (db.isTransaction) return body();
  db.exec("BEGIN IMMEDIATE");
  try {
    const value = body();
    db.exec("COMMIT");
    return value;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
