/** Opens the service's repository from one setting: a PostgreSQL DSN, or else the path of a SQLite file. */

import { isPostgresDsn, openPostgresRepository, type PostgresOptions } from "./postgres.js";
import { openSqliteRepository, type Repository } from "./sqlite.js";

/**
 * Opens the repository `store` names: `postgres://…` or `postgresql://…` opens PostgreSQL (several service
 * instances may share it), anything else is the path of a SQLite file (one instance, no database server).
 *
 * @example
 * ```ts
 * const repo = await openRepository("radiolens-data/radiolens.db");
 * const shared = await openRepository("postgres://radiolens@db:5432/radiolens");
 * ```
 */
export async function openRepository(store: string, pgOptions: PostgresOptions = {}): Promise<Repository> {
  return isPostgresDsn(store) ? openPostgresRepository(store, pgOptions) : openSqliteRepository(store);
}
