/** The batch store on PostgreSQL: runs, inputs and results in tables, the work queue in pg-boss (retries, expiry, dead-letter). */
import { hostname } from "node:os";
import pg from "pg";
import { PgBoss } from "pg-boss";
import { RadioLensError } from "../core/errors.js";
import { redactDsn } from "../serve/repository/postgres.js";
import type { BatchInput } from "./inputs.js";
import {
  BATCH_SCHEMA,
  type BatchResult,
  type BatchStore,
  type ClaimedInput,
  checkSameModel,
  mustRun,
  progressOf,
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
  /**
   * Inputs per pg-boss job (default 32; ADR 143): `submit` queues one job per this many new inputs and `claim`
   * fetches `max / chunk` jobs per round trip. A job whose worker died is split into one job per input before it
   * is scored again, so an input that kills workers is dead-lettered alone.
   */
  readonly chunk?: number;
}

/** The data of one pg-boss job: inputs of one run as `[id, source]`, and the tries they already had in earlier jobs. */
interface JobData {
  readonly run: string;
  readonly items: readonly (readonly [string, string])[];
  readonly tried?: number;
  /** Why the inputs are tried again (a transient failure of the previous try). */
  readonly lastError?: string;
}

type Job = { id: string; retryCount: number; data: JobData };

/** The settle token of a claimed input: its pg-boss job, fenced to the attempt fetched. */
type Token = { readonly id: string; readonly retryCount: number };

/** Distinct job tokens of some claims (the inputs of one job share its token). */
const tokensOf = (claims: readonly ClaimedInput[]): Token[] => [
  ...new Map(claims.map((c) => [(c.token as Token).id, c.token as Token])).values(),
];

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
  const chunk = Math.max(1, opts.chunk ?? 32);
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
      // Stores created before ADR 143 checked each result against its item with a foreign key, whose share lock
      // wrote to the item's row for every result: results are only written for items the queue handed out.
      await pool.query("ALTER TABLE batch_results DROP CONSTRAINT IF EXISTS batch_results_run_input_id_fkey");
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
    return new Map(
      jobs.flatMap((j) =>
        j.data.items.map(
          ([id]) => [id, `dead-lettered: none of ${tries} tries ended with a result`] as const,
        ),
      ),
    );
  };
  /** The pg-boss job of some inputs of `run` that already had `tried` tries, retried up to the rest. */
  const jobOf = (
    run: string,
    items: readonly (readonly [string, string])[],
    tried: number,
    extra: { startAfter?: Date; lastError?: string } = {},
  ) => ({
    data: {
      run,
      items,
      ...(tried > 0 ? { tried } : {}),
      ...(extra.lastError ? { lastError: extra.lastError } : {}),
    } satisfies JobData,
    retryLimit: Math.max(0, tries - 1 - tried),
    ...(opts.expireInSeconds ? { expireInSeconds: opts.expireInSeconds } : {}),
    ...(extra.startAfter ? { startAfter: extra.startAfter } : {}),
  });

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
          if (fresh.length > 0) {
            const jobs = [];
            for (let k = 0; k < fresh.length; k += chunk)
              jobs.push(
                jobOf(
                  run,
                  fresh.slice(k, k + chunk).map((f) => [f.input_id, f.source] as const),
                  0,
                ),
              );
            await boss.insert(BATCH_QUEUE, jobs, { db: asDb(c) });
          }
          return fresh.length;
        });
      }
      const total = (await q("SELECT COUNT(*)::int AS n FROM batch_items WHERE run = $1", [run]))[0]?.["n"];
      return { added, total: Number(total ?? 0) };
    },
    claim: async (max) => {
      const jobs = (await boss.fetch(BATCH_QUEUE, {
        batchSize: Math.max(1, Math.floor(max / chunk)),
      })) as unknown as Job[];
      // A job back from a dead worker is split into one job per input (its deaths count towards each input's
      // tries) and scored later: an input that kills every worker is then dead-lettered alone.
      const split = jobs.filter((j) => j.retryCount > 0 && j.data.items.length > 1);
      if (split.length > 0)
        await tx(async (c) => {
          await boss.insert(
            BATCH_QUEUE,
            split.flatMap((j) =>
              j.data.items.map((item) => jobOf(j.data.run, [item], (j.data.tried ?? 0) + j.retryCount)),
            ),
            { db: asDb(c) },
          );
          await boss.complete(
            BATCH_QUEUE,
            split.map((j) => ({ id: j.id, retryCount: j.retryCount })),
            null,
            { db: asDb(c) },
          );
        });
      const kept = split.length > 0 ? jobs.filter((j) => !split.includes(j)) : jobs;
      return kept.flatMap((j) => {
        const attempt = (j.data.tried ?? 0) + j.retryCount + 1;
        const token: Token = { id: j.id, retryCount: j.retryCount };
        return j.data.items.map(
          ([id, source]): ClaimedInput => ({
            run: j.data.run,
            id,
            source,
            attempt,
            last: attempt >= tries,
            token,
          }),
        );
      });
    },
    commit: async (claims, results, retry) => {
      const again = retry?.claims ?? [];
      if (claims.length === 0 && results.length === 0 && again.length === 0) return;
      const t = now();
      // One statement per run and model (one in practice) for the whole claim: the columns every row shares are
      // parameters, the rest one JSON array that PostgreSQL parses at once, instead of ten bound parameters a row.
      const groups = new Map<string, BatchResult[]>();
      for (const r of results) {
        const k = JSON.stringify([r.run, r.modelId, r.modelVersion, r.worker]);
        const g = groups.get(k);
        if (g) g.push(r);
        else groups.set(k, [r]);
      }
      const inserts = [...groups.values()].map((g) => {
        const [first] = g as [BatchResult];
        const rows = g.map((r) => ({
          i: r.inputId,
          l: r.label,
          p: r.probabilities ? JSON.stringify(r.probabilities) : null,
          o: r.oodScore,
          e: r.error,
        }));
        return [first.run, first.modelId, first.modelVersion, first.worker, t, JSON.stringify(rows)];
      });
      const write = (onConflict: string) =>
        tx(async (c) => {
          for (const values of inserts)
            await c.query(
              `INSERT INTO batch_results (run, input_id, label, probabilities, ood_score, model_id, model_version,
                 error, worker, scored_at)
               SELECT $1, x.i, x.l, x.p, x.o, $2, $3, x.e, $4, $5
               FROM json_to_recordset($6::text::json) AS x(i text, l text, p text, o double precision, e text)
               ${onConflict}`,
              values,
            );
          if (again.length > 0) {
            // Inputs to try again (a transient failure) go into new jobs, due after a backoff, with their tries so far.
            const groups = new Map<string, ClaimedInput[]>();
            for (const a of again) {
              const k = `${a.run}\u0000${a.attempt}`;
              const g = groups.get(k);
              if (g) g.push(a);
              else groups.set(k, [a]);
            }
            await boss.insert(
              BATCH_QUEUE,
              [...groups.values()].map((g) => {
                const first = g[0] as ClaimedInput;
                return jobOf(
                  first.run,
                  g.map((a) => [a.id, a.source] as const),
                  first.attempt,
                  {
                    startAfter: new Date(Date.now() + Math.min(60, 2 ** (first.attempt - 1)) * 1000),
                    lastError: retry?.error ?? "",
                  },
                );
              }),
              { db: asDb(c) },
            );
          }
          const settled = tokensOf([...claims, ...again]);
          if (settled.length > 0) await boss.complete(BATCH_QUEUE, settled, null, { db: asDb(c) });
        });
      // The primary key (run, input id) keeps one row per input either way. A plain INSERT costs PostgreSQL about
      // half of ON CONFLICT's speculative insertion, and a conflict is rare (an input scored again after its
      // worker's claim expired): then the micro-batch is written again, keeping the rows already there.
      try {
        await write("");
      } catch (e) {
        if ((e as { code?: string }).code !== "23505") throw e;
        await write("ON CONFLICT (run, input_id) DO NOTHING");
      }
    },
    release: async (claims, error) => {
      if (claims.length === 0) return;
      await boss.fail(BATCH_QUEUE, tokensOf(claims), { error });
    },
    outstanding: async () => {
      const open = await q(
        `SELECT i.run, i.input_id FROM batch_items i WHERE NOT EXISTS
           (SELECT 1 FROM batch_results r WHERE r.run = i.run AND r.input_id = i.input_id) LIMIT 100001`,
      );
      if (open.length === 0) return 0;
      const dead = (await boss.findJobs(BATCH_DEAD_QUEUE, { limit: 100_000 })) as unknown as Job[];
      const gone = new Set(dead.flatMap((j) => j.data.items.map(([id]) => `${j.data.run}\u0000${id}`)));
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
