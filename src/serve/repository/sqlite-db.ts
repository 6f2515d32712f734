/** Opening an embedded SQLite file (better-sqlite3) with the settings the service's and the batch stores share. */
import { createRequire } from "node:module";
import { RadioLensError } from "../../core/errors.js";

/** The part of a better-sqlite3 connection the stores use. */
export interface SqliteDb {
  pragma(s: string): unknown;
  exec(s: string): void;
  prepare(s: string): {
    run(...a: unknown[]): { changes: number; lastInsertRowid: number | bigint };
    get(...a: unknown[]): unknown;
    all(...a: unknown[]): unknown[];
  };
  transaction<T extends (...a: never[]) => unknown>(fn: T): T;
  function(name: string, opts: { deterministic: boolean }, fn: (...a: unknown[]) => unknown): void;
  close(): void;
}

/**
 * Opens (creating if needed) the SQLite file at `path`: WAL journal with `synchronous=NORMAL` (a committed
 * transaction survives `kill -9`), foreign keys on, and a 5 s busy timeout for a second connection's writes.
 * Throws RL_ERR_IO naming `what` ("the SQLite store", "the batch store") when the file cannot be opened.
 *
 * @example
 * ```ts
 * const db = openSqliteDb("radiolens-batch.db", "the batch store");
 * db.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)");
 * ```
 */
export function openSqliteDb(path: string, what: string): SqliteDb {
  const require = createRequire(import.meta.url);
  let db: SqliteDb;
  try {
    const Database = require("better-sqlite3") as new (p: string) => SqliteDb;
    db = new Database(path);
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", { path, detail: `cannot open ${what}: ${(e as Error).message}` });
  }
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return db;
}
