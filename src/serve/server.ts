/** Runs the whole service from one configuration: HTTP (REST + DICOMweb), the DIMSE SCP, the result SCU, the console. */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { RadioLensError } from "../core/errors.js";
import { initEngine } from "../engine/backend.js";
import { buildApp } from "./app.js";
import { ROLES } from "./auth.js";
import { createResultSender, type DimseServer, startDimseServer } from "./dimse.js";
import { tuneGarbageCollection } from "./gc-tuning.js";
import type { ResultSender } from "./outbox.js";
import { redactDsn } from "./repository/postgres.js";
import { webConsoleRoutes } from "./routes/web.js";
import { RoutingRuleSchema, type RuleDestination } from "./routing.js";
import { RESULT_KINDS } from "./served-models.js";
import { createStowSender } from "./stow-client.js";

/**
 * One sender for several destinations: each result goes to every one, and counts as sent (0) only when all
 * acknowledged it; otherwise the outbox tries again, and a destination that had it already treats the resend as
 * a retransmission of the same SOP Instance UID.
 *
 * @example
 * ```ts
 * const send = allOf([createResultSender("RADIOLENS", pacs), createStowSender({ url })]);
 * ```
 */
export function allOf(senders: readonly ResultSender[]): ResultSender {
  if (senders.length === 1) return senders[0] as ResultSender;
  return async (path) => {
    const statuses = await Promise.all(senders.map((s) => s(path)));
    return statuses.find((st) => st !== 0) ?? 0;
  };
}

/**
 * The bundled reference model's folder (written by `npm run build:model`).
 *
 * @example
 * ```ts
 * existsSync(join(DEFAULT_MODEL_DIR, "radiolens.json"));
 * ```
 */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../models/default", import.meta.url));

const Dest = z.object({
  aeTitle: z.string().min(1).max(16),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

/**
 * The schema of `serve.json`.
 *
 * @example
 * ```ts
 * const cfg = ServeConfigSchema.parse({ port: 8080, dimse: { allowedCallingAeTitles: ["CT1"] } });
 * ```
 */
export const ServeConfigSchema = z
  .object({
    models: z
      .array(
        z.object({
          dir: z.string().min(1),
          id: z.string().optional(),
          runtime: z.enum(["tfjs", "onnx"]).optional(),
          /** The result objects of each analysis (default: report-sr and secondary-capture). */
          results: z.array(z.enum(RESULT_KINDS)).min(1).optional(),
        }),
      )
      .default([]),
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().default("radiolens-data"),
    /**
     * The repository: a PostgreSQL DSN (postgres://user@host:5432/db, several instances sharing one database and
     * one dataDir) or a SQLite file path; default <dataDir>/radiolens.db.
     */
    store: z.string().min(1).optional(),
    /**
     * PostgreSQL: after how long without a heartbeat an instance's claimed work returns to the queue (pg-boss: at
     * least 10 s), and how many tries a result send gets before it is dead-lettered.
     */
    postgres: z
      .object({
        leaseMs: z.number().int().min(1000).max(3_600_000),
        poolSize: z.number().int().min(1).max(100),
        maxSendAttempts: z.number().int().min(1).max(1_000_000),
      })
      .partial()
      .default({}),
    /** Result outbox: retry delays (doubling from baseDelayMs up to maxDelayMs, without a limit on tries). */
    outbox: z
      .object({
        baseDelayMs: z.number().int().min(10).max(3_600_000),
        maxDelayMs: z.number().int().min(10).max(86_400_000),
      })
      .partial()
      .default({}),
    auth: z
      .object({
        apiKeys: z
          .array(z.object({ id: z.string().min(1), role: z.enum(ROLES), key: z.string().min(16) }))
          .default([]),
        jwtSecret: z.string().min(32).optional(),
        jwtIssuer: z.string().optional(),
      })
      .default({ apiKeys: [] }),
    limits: z
      .object({
        predictBytes: z.number().int().positive(),
        stowBytes: z.number().int().positive(),
        rateMax: z.number().int().positive(),
        rateWindowMs: z.number().int().positive(),
        requestTimeoutMs: z.number().int().positive(),
        predictTimeoutMs: z.number().int().positive(),
      })
      .partial()
      .default({}),
    batching: z
      .object({ maxBatchSize: z.number().int().min(1).max(1024), maxWaitMs: z.number().min(0).max(1000) })
      .partial()
      .default({}),
    dimse: z
      .object({
        enabled: z.boolean().default(true),
        aeTitle: z.string().min(1).max(16).default("RADIOLENS"),
        port: z.number().int().min(0).max(65535).default(11112),
        allowedCallingAeTitles: z.array(z.string().min(1).max(16)).default([]),
        destination: Dest.optional(),
      })
      .default({ enabled: true, aeTitle: "RADIOLENS", port: 11112, allowedCallingAeTitles: [] }),
    /** Results also (or only) go to this DICOMweb origin server by STOW-RS (PS3.18 10.5). */
    stow: z
      .object({
        url: z.string().url(),
        username: z.string().optional(),
        password: z.string().optional(),
        bearerToken: z.string().optional(),
      })
      .strict()
      .optional(),
    /**
     * Routing rules (src/serve/routing.ts, ADR 125): the first rule whose conditions match a received instance
     * decides which models analyse it, at which level, and where the results go. None: every model analyses
     * every instance. An instance no rule matches is stored and audited "not routed".
     */
    routing: z.array(RoutingRuleSchema).default([]),
    webRoot: z.string().optional(),
    logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
    /** Runtime of every model without its own (default: ONNX Runtime when the bundle has model.onnx, else tfjs). */
    runtime: z.enum(["tfjs", "onnx"]).optional(),
    /** tfjs backend (default: RADIOLENS_BACKEND, else onednn when built, else wasm). */
    backend: z.enum(["onednn", "wasm", "cpu"]).optional(),
    /** Threads decoding uploads (default: cores − 1). */
    decodeWorkers: z.number().int().min(0).max(64).optional(),
    /** Uploads of at most this many pixels are decoded on the event loop (default 512 × 512; 0 sends all to workers). */
    decodeInlinePixels: z.number().int().min(0).optional(),
  })
  .strict();

/** A validated configuration. */
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

/**
 * Reads and validates `serve.json` (or `{}` when no path), naming the bad field in the error.
 *
 * @example
 * ```ts
 * const cfg = loadServeConfig("serve.json");
 * ```
 */
export function loadServeConfig(path?: string, overrides: Record<string, unknown> = {}): ServeConfig {
  let raw: Record<string, unknown> = {};
  if (path) {
    if (!existsSync(path)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    try {
      raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `${path} is not JSON: ${(e as Error).message}` });
    }
  }
  const merged: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    const cur = merged[k];
    merged[k] =
      typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object"
        ? { ...(cur as object), ...v }
        : v;
  }
  const r = ServeConfigSchema.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `serve configuration: ${i?.path.join(".") || "(root)"}: ${i?.message ?? "invalid"}`,
    });
  }
  return r.data;
}

/** Drops undefined fields, which zod leaves for absent optional keys and exactOptionalPropertyTypes refuses. */
function clean<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

/** A running service. */
export interface RunningService {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly dimse?: { readonly aeTitle: string; readonly port: number };
  /** Where the repository is: the SQLite path or the DSN without its password. */
  readonly store: string;
  /** An admin key generated because none was configured (shown once). */
  readonly generatedAdminKey?: string;
  close(): Promise<void>;
}

/**
 * Starts the service: engine, models (the bundled reference model as `default` when none is given), HTTP, DIMSE.
 *
 * @example
 * ```ts
 * const svc = await startService(loadServeConfig(undefined, { port: 0 }));
 * await svc.close();
 * ```
 */
export async function startService(cfg: ServeConfig): Promise<RunningService> {
  tuneGarbageCollection();
  await initEngine(cfg.backend ? { backend: cfg.backend } : {});
  let models = cfg.models;
  if (models.length === 0) {
    if (!existsSync(join(DEFAULT_MODEL_DIR, "radiolens.json"))) {
      throw new RadioLensError("RL_ERR_MODEL_NOT_FOUND", {
        path: DEFAULT_MODEL_DIR,
        detail:
          "the bundled reference model is not built yet; run `npm run build:model`, or pass --model DIR",
      });
    }
    models = [{ dir: DEFAULT_MODEL_DIR, id: "default" }];
  }
  let generatedAdminKey: string | undefined;
  let apiKeys = cfg.auth.apiKeys;
  if (apiKeys.length === 0 && !cfg.auth.jwtSecret) {
    generatedAdminKey = randomBytes(24).toString("base64url");
    apiKeys = [{ id: "generated-admin", role: "admin", key: generatedAdminKey }];
  }
  const dest = cfg.dimse.enabled ? cfg.dimse.destination : undefined;
  const senderOf = (d: RuleDestination): ResultSender =>
    "dimse" in d ? createResultSender(cfg.dimse.aeTitle, d.dimse) : createStowSender(clean(d.stow));
  const ruleSenders = new Map(
    cfg.routing
      .filter((r) => r.destinations.length > 0)
      .map((r) => [r.name, allOf(r.destinations.map(senderOf))] as const),
  );
  const app = await buildApp({
    routing: { rules: cfg.routing, senders: ruleSenders },
    models: models.map((m) => {
      const runtime = m.runtime ?? cfg.runtime;
      return {
        dir: resolve(m.dir),
        ...(m.id ? { id: m.id } : {}),
        ...(runtime ? { runtime } : {}),
        ...(m.results ? { results: m.results } : {}),
      };
    }),
    dataDir: cfg.dataDir,
    ...(cfg.store ? { store: cfg.store } : {}),
    postgres: clean(cfg.postgres),
    outbox: clean(cfg.outbox),
    auth: clean({ ...cfg.auth, apiKeys }),
    limits: clean(cfg.limits),
    batching: clean(cfg.batching),
    log: { level: cfg.logLevel },
    ...(cfg.decodeWorkers !== undefined ? { decodeWorkers: cfg.decodeWorkers } : {}),
    ...(cfg.decodeInlinePixels !== undefined ? { decodeInlinePixels: cfg.decodeInlinePixels } : {}),
    ...(dest || cfg.stow
      ? {
          sendResult: allOf([
            ...(dest ? [createResultSender(cfg.dimse.aeTitle, dest)] : []),
            ...(cfg.stow ? [createStowSender(clean(cfg.stow))] : []),
          ]),
        }
      : {}),
  });
  if (cfg.webRoot) await app.register(webConsoleRoutes, { root: resolve(cfg.webRoot) });
  await app.listen({ host: cfg.host, port: cfg.port });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : cfg.port;
  let scp: DimseServer | undefined;
  if (cfg.dimse.enabled) scp = startDimseServer(app.radiolens, clean(cfg.dimse));
  return {
    app,
    url: `http://${cfg.host}:${port}`,
    store: cfg.store ? redactDsn(cfg.store) : join(resolve(cfg.dataDir), "radiolens.db"),
    ...(cfg.dimse.enabled ? { dimse: { aeTitle: cfg.dimse.aeTitle, port: cfg.dimse.port } } : {}),
    ...(generatedAdminKey ? { generatedAdminKey } : {}),
    close: async () => {
      scp?.close();
      await app.close();
    },
  };
}
