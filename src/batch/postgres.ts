/** The batch store on PostgreSQL: runs, inputs and results in tables, the work queue in pg-boss (retries, expiry, dead-letter). */
import { hostname } from "node:os";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { RadioLensError } from "../core/errors.js";
import { redactDsn } from "../serve/repository/postgres.js";
import type { BatchInput } from "./inputs.js";
import {
  BATCH_SCHEMA,
  type BatchStore,
  type ClaimedInput,
  checkSameModel,
  mustRun,
  progressOf,
  resultValues,
  toResult,
  toRun,
} from "./store.js";

/** The pg-boss queue of batch inputs, and where inputs go after their last try. */
export const BATCH_QUEUE = "radiolens-batch";
/** Dead-letter queue: inputs whose every try ended without a result (e.g. each worker holding it died). */
export const BATCH_DEAD_QUEUE = "radiolens-batch-dead";

/** Options of {@link openPostgresBatchStore}. */
export interface PostgresBatchOptions {
  /** Tries per input before the queue dead-letters it (default 3). */
  readonly tries?: number;
  /**
   * Seconds an input submitted by this store may stay claimed before pg-boss takes it back for another worker
   * (default 300): how long a killed worker's inputs wait. Far above one micro-batch's time.
   */
  readonly expireInSeconds?: number;
  /** How often pg-boss looks for expired claims, in seconds (default 2). */
  readonly monitorIntervalSeconds?: number;
}

type Job = { id: string; retryCount: number; data: { run: string; id: string; source: string } };

/**
 * Opens the batch store in the PostgreSQL database at `dsn` and starts pg-boss on it (schema `pgboss`, created
 * or migrated by pg-boss under its own advisory lock). `submit` inserts the new inputs and their pg-boss jobs in
 * one transaction (pg-boss `insert` with the transaction as `db`), so an input is queued once however often a run
 * is submitted. `claim` is pg-boss `fetch` (`SKIP LOCKED`); `commit` writes the results and completes the jobs in
 * one transaction; an input whose worker dies is taken back by pg-boss after `expireInSeconds` and, after `tries`
 * tries, dead-lettered to {@link BATCH_DEAD_QUEUE} (shown as failed in status and export).
 *
 * @example
 * ```ts
 * const store = await openPostgresBatchStore("postgres://radiolens@db/radiolens");
 * const claims = await store.claim(64);
 * ```
 */
export async function openPostgresBatchStore(
  dsn: string,
  opts: PostgresBatchOptions = {},
): Promise<BatchStore> {
  const where = redactDsn(dsn);
  const unavailable = (e: unknown): RadioLensError =>
    new RadioLensError(
      "RL_ERR_STORE_UNAVAILABLE",
      { kind: "PostgreSQL", where, detail: redactDsn((e as Error)?.message || "connection failed") },
      { cause: e },
    );
  const pool = new pg.Pool({ connectionString: dsn, max: 4, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {});
  const tries = opts.tries ?? 3;
  const boss = new PgBoss({
    connectionString: dsn,
    max: 4,
    schedule: false,
    monitorIntervalSeconds: opts.monitorIntervalSeconds ?? 2,
    superviseIntervalSeconds: opts.monitorIntervalSeconds ?? 2,
  });
  boss.on("error", () => {});
  try {
    await pool.query("SELECT pg_advisory_lock(hashtext('radiolens-batch-schema'))");
    try {
      await pool.query(BATCH_SCHEMA);
    } finally {
      await pool.query("SELECT pg_advisory_unlock(hashtext('radiolens-batch-schema'))");
    }
    await boss.start();
    for (const [name, options] of [
      [BATCH_DEAD_QUEUE, {}],
      [
        BATCH_QUEUE,
        {
          retryLimit: tries - 1,
          retryDelay: 1,
          retryBackoff: true,
          retryDelayMax: 60,
          expireInSeconds: 300,
          deadLetter: BATCH_DEAD_QUEUE,
        },
      ],
    ] as const) {
      if (await boss.getQueue(name)) continue;
      // Two workers starting together may both find it missing; the loser's duplicate is harmless.
      await boss.createQueue(name, options).catch(async (e: unknown) => {
        if (!(await boss.getQueue(name))) throw e;
      });
    }
  } catch (e) {
    await boss.stop({ graceful: false }).catch(() => {});
    await pool.end().catch(() => {});
    throw e instanceof RadioLensError ? e : unavailable(e);
  }
  const now = (): string => new Date().toISOString();
  const q = async (sql: string, args: unknown[] = []): Promise<Record<string, unknown>[]> =>
    (await pool.query(sql, args)).rows as Record<string, unknown>[];
  const tx = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      const out = await fn(c);
      await c.query("COMMIT");
      return out;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  };
  const asDb = (c: pg.PoolClient) => ({
    executeSql: async (text: string, values?: unknown[]) => ({ rows: (await c.query(text, values)).rows }),
  });
  const getRun = async (name: string) => {
    const r = (await q("SELECT * FROM batch_runs WHERE name = $1", [name]))[0];
    return r ? toRun(r) : undefined;
  };
  const deadFor = async (run: string): Promise<Map<string, string>> => {
    const jobs = (await boss.findJobs(BATCH_DEAD_QUEUE, {
      data: { run },
      limit: 100_000,
    })) as unknown as Job[];
    return new Map(jobs.map((j) => [j.data.id, `dead-lettered: none of ${tries} tries ended with a result`]));
  };

  return {
    kind: "postgres",
    createRun: async (run) => {
      const t = now();
      await q(`INSERT INTO batch_runs VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`, [
        run.name,
        run.modelDir,
        run.modelId,
        run.modelVersion,
        t,
      ]);
      return checkSameModel(mustRun(await getRun(run.name), run.name), run);
    },
    getRun,
    submit: async (run, inputs) => {
      let added = 0;
      const CHUNK = 1000;
      for (let s = 0; s < inputs.length; s += CHUNK) {
        const part: readonly BatchInput[] = inputs.slice(s, s + CHUNK);
        added += await tx(async (c) => {
          // Serializes submits of one run, so the sequence numbers stay in submission order.
          await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`radiolens-batch:${run}`]);
          const base =
            ((await c.query("SELECT MAX(seq) AS m FROM batch_items WHERE run = $1", [run])).rows[0]?.m as
              | number
              | null) ?? 0;
          const fresh = (
            await c.query(
              `INSERT INTO batch_items (run, input_id, source, seq)
               SELECT $1, u.id, u.source, $4 + u.n FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(id, source, n)
               ON CONFLICT (run, input_id) DO NOTHING RETURNING input_id, source`,
              [run, part.map((i) => i.id), part.map((i) => i.source), base],
            )
          ).rows as { input_id: string; source: string }[];
          if (fresh.length > 0)
            await boss.insert(
              BATCH_QUEUE,
              fresh.map((f) => ({
                data: { run, id: f.input_id, source: f.source },
                ...(opts.expireInSeconds ? { expireInSeconds: opts.expireInSeconds } : {}),
              })),
              { db: asDb(c) },
            );
          return fresh.length;
        });
      }
      const total = (await q("SELECT COUNT(*)::int AS n FROM batch_items WHERE run = $1", [run]))[0]?.["n"];
      return { added, total: Number(total ?? 0) };
    },
    claim: async (max) => {
      const jobs = (await boss.fetch(BATCH_QUEUE, { batchSize: max })) as unknown as Job[];
      return jobs.map(
        (j): ClaimedInput => ({
          run: j.data.run,
          id: j.data.id,
          source: j.data.source,
          attempt: j.retryCount + 1,
          last: j.retryCount + 1 >= tries,
          token: { id: j.id, retryCount: j.retryCount },
        }),
      );
    },
    commit: async (claims, results) => {
      if (claims.length === 0 && results.length === 0) return;
      const t = now();
      await tx(async (c) => {
        if (results.length > 0) {
          const cols = 10;
          const values = results.map(
            (_, i) => `(${Array.from({ length: cols }, (_, j) => `$${i * cols + j + 1}`).join(", ")})`,
          );
          await c.query(
            `INSERT INTO batch_results VALUES ${values.join(", ")} ON CONFLICT (run, input_id) DO NOTHING`,
            results.flatMap((r) => resultValues(r, t)),
          );
        }
        if (claims.length > 0)
          await boss.complete(
            BATCH_QUEUE,
            claims.map((cl) => cl.token as { id: string; retryCount: number }),
            null,
            { db: asDb(c) },
          );
      });
    },
    release: async (claims, error) => {
      if (claims.length === 0) return;
      await boss.fail(
        BATCH_QUEUE,
        claims.map((cl) => cl.token as { id: string; retryCount: number }),
        { error },
      );
    },
    outstanding: async () => {
      const open = await q(
        `SELECT i.run, i.input_id FROM batch_items i WHERE NOT EXISTS
           (SELECT 1 FROM batch_results r WHERE r.run = i.run AND r.input_id = i.input_id) LIMIT 100001`,
      );
      if (open.length === 0) return 0;
      const dead = (await boss.findJobs(BATCH_DEAD_QUEUE, { limit: 100_000 })) as unknown as Job[];
      const gone = new Set(dead.map((j) => `${j.data.run}\u0000${j.data.id}`));
      return open.filter((r) => !gone.has(`${r["run"]}\u0000${r["input_id"]}`)).length;
    },
    status: async (name) => {
      const run = mustRun(await getRun(name), name);
      const since = new Date(Date.now() - 60_000).toISOString();
      const r = (
        await q(
          `SELECT (SELECT COUNT(*) FROM batch_items WHERE run = $1)::int AS total,
             COUNT(*) FILTER (WHERE error IS NULL)::int AS done,
             COUNT(*) FILTER (WHERE error IS NOT NULL)::int AS failed,
             COUNT(*) FILTER (WHERE scored_at >= $2)::int AS recent
           FROM batch_results WHERE run = $1`,
          [name, since],
        )
      )[0] as { total: number; done: number; failed: number; recent: number };
      const scored = new Set(
        (await q("SELECT input_id FROM batch_results WHERE run = $1", [name])).map((x) => x["input_id"]),
      );
      const dead = [...(await deadFor(name)).keys()].filter((id) => !scored.has(id)).length;
      return progressOf(run, { ...r, failed: r.failed + dead, windowS: 60 });
    },
    exportRows: async (name) => {
      mustRun(await getRun(name), name);
      const dead = await deadFor(name);
      const rows = await q(
        `SELECT i.input_id AS item_id, i.source AS item_source, r.* FROM batch_items i
         LEFT JOIN batch_results r ON r.run = i.run AND r.input_id = i.input_id
         WHERE i.run = $1 ORDER BY i.seq`,
        [name],
      );
      return rows.map((r) => {
        const id = r["item_id"] as string;
        const missing = r["scored_at"] ? undefined : dead.get(id);
        return {
          inputId: id,
          source: r["item_source"] as string,
          result: r["scored_at"] ? toResult(r) : undefined,
          ...(missing ? { missing } : {}),
        };
      });
    },
    close: async () => {
      await boss.stop({ graceful: true, timeout: 5000 }).catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

/** The worker id recorded with each result: host and process. */
export const workerId = (): string => `${hostname()}:${process.pid}`;
