/** buildApp: the Fastify inference service assembled from route plugins, with auth, audit, limits, metrics and the job worker. */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { RadioLensError } from "../core/errors.js";
import { VERSION } from "../version.js";
import { type AnalysisContext, JobWorker } from "./analysis.js";
import { recordAudit, setAuditSiblings } from "./audit.js";
import { type AuthConfig, authenticate, roleAllows, validateAuthConfig } from "./auth.js";
import type { ServeLimits, ServeMetrics, ServiceContext } from "./context.js";
import { createUploadDecoder } from "./decode-pool.js";
import { toHttpError } from "./errors.js";
import { InstanceStore } from "./instances.js";
import { type OutboxOptions, ResultOutbox, type ResultSender } from "./outbox.js";
import { openRepository } from "./repository/open.js";
import type { PostgresOptions } from "./repository/postgres.js";
import type { Repository } from "./repository/sqlite.js";
import { dicomwebRoutes } from "./routes/dicomweb.js";
import { modelRoutes } from "./routes/model-api.js";
import { systemRoutes } from "./routes/system.js";
import { worklistRoutes } from "./routes/worklist.js";
import { type CompiledRule, compileRules, type RoutingRule } from "./routing.js";
import { type BatchingOptions, loadServedModels, type ModelSource } from "./served-models.js";

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** Bundles to serve. */
  readonly models: readonly ModelSource[];
  /** Folder for received instances and, unless `store` says otherwise, the SQLite store. */
  readonly dataDir: string;
  /**
   * The repository: a PostgreSQL DSN (`postgres://user@host:5432/db`, for several instances sharing one database
   * and one instance folder) or a SQLite file path; default `<dataDir>/radiolens.db`.
   */
  readonly store?: string;
  /** PostgreSQL tuning (lease of a crashed instance's claims, pool size). */
  readonly postgres?: PostgresOptions;
  readonly auth: AuthConfig;
  readonly limits?: Partial<ServeLimits>;
  readonly batching?: Partial<BatchingOptions>;
  /** Threads decoding predict uploads (default: one per core beyond the first; 0 decodes on the event loop). */
  readonly decodeWorkers?: number;
  /** Uploads of at most this many pixels are decoded on the event loop, not in a worker (default 512 × 512). */
  readonly decodeInlinePixels?: number;
  /** Analysis worker: concurrent jobs (default 4); `enabled: false` leaves jobs queued (tests of durability). */
  readonly worker?: { readonly concurrency?: number; readonly enabled?: boolean };
  /** Where results go (the DIMSE C-STORE SCU), if anywhere; results wait in the outbox until it acknowledges them. */
  readonly sendResult?: ResultSender;
  /** Retry timing of the result outbox. */
  readonly outbox?: OutboxOptions;
  /**
   * Routing rules (src/serve/routing.ts) and the senders of the rules that name destinations, by rule name; a
   * rule without its own sender uses `sendResult`. No rules: every model analyses every received instance.
   */
  readonly routing?: {
    readonly rules: readonly RoutingRule[];
    readonly senders?: ReadonlyMap<string, ResultSender>;
    /** How often completed series and studies are looked for (default 1000 ms). */
    readonly pollMs?: number;
  };
  /** Logging: level and an optional stream (tests capture it); default: no logging. */
  readonly log?: { readonly level: string; readonly stream?: NodeJS.WritableStream };
  /** Use this repository instead of opening SQLite in `dataDir` (another implementation of the interface). */
  readonly repository?: Repository;
  /** Also serve the web console's built files from this folder at `/` (the console handles sign-in). */
  readonly webRoot?: string;
}

/**
 * Default limits.
 *
 * @example
 * ```ts
 * buildApp({ ...opts, limits: { ...DEFAULT_LIMITS, predictBytes: 8 << 20 } });
 * ```
 */
export const DEFAULT_LIMITS: ServeLimits = {
  predictBytes: 32 * 1024 * 1024,
  stowBytes: 64 * 1024 * 1024,
  rateMax: 600,
  rateWindowMs: 60_000,
  requestTimeoutMs: 30_000,
  predictTimeoutMs: 10_000,
};

declare module "fastify" {
  interface FastifyInstance {
    radiolens: ServiceContext;
  }
}

function createMetrics(): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: "radiolens_http_request_duration_seconds",
      help: "HTTP request duration by route pattern",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "radiolens_batch_size",
      help: "Images per micro-batch",
      labelNames: ["model"] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: "radiolens_inference_seconds",
      help: "Time to run one micro-batch",
      labelNames: ["model"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    instances: new Counter({
      name: "radiolens_instances_received_total",
      help: "DICOM instances received",
      labelNames: ["via", "outcome"] as const,
      registers: [registry],
    }),
    jobs: new Counter({
      name: "radiolens_jobs_total",
      help: "Analysis jobs finished",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
  };
}

/**
 * Route pattern of a request (never the URL: paths and queries can carry UIDs and patient IDs).
 *
 * @example
 * ```ts
 * routeOf(req); // "/dicomweb/studies/:study/series"
 * ```
 */
export function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? "(unmatched)";
}

/**
 * Builds the service: loads the models, opens the store, registers the route plugins, and starts the analysis
 * worker when the app is ready. Every route but `/healthz` requires a role; errors map to catalogue codes in one
 * handler; logs carry route patterns and status codes, never URLs, headers or DICOM values.
 *
 * @example
 * ```ts
 * const app = await buildApp({ models: [{ dir: "models/default", id: "default" }], dataDir: "/tmp/rl", auth: { apiKeys: [{ id: "ops", role: "admin", key: "0123456789abcdef" }] } });
 * const res = await app.inject({ method: "GET", url: "/v1/models", headers: { "x-api-key": "0123456789abcdef" } });
 * ```
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  validateAuthConfig(opts.auth);
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const batching: BatchingOptions = { maxBatchSize: 16, maxWaitMs: 0, ...opts.batching };
  const metrics = createMetrics();
  const models = await loadServedModels(opts.models, batching, (model, size, seconds) => {
    metrics.batchSize.observe({ model }, size);
    metrics.inferenceSeconds.observe({ model }, seconds);
  });
  const rules: CompiledRule[] = compileRules(
    opts.routing?.rules ?? [],
    new Map([...models].map(([id, m]) => [id, { volumetric: m.segmentation !== undefined }])),
  );
  const ruleSenders = opts.routing?.senders ?? new Map<string, ResultSender>();
  const senderOf = (rule: string | null): ResultSender | undefined =>
    (rule !== null ? ruleSenders.get(rule) : undefined) ?? opts.sendResult;
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const repo =
    opts.repository ?? (await openRepository(opts.store ?? join(dataDir, "radiolens.db"), opts.postgres));
  const store = new InstanceStore(join(dataDir, "instances"), repo);
  const leftovers = store.removeTemporaryFiles();

  const app = Fastify({
    logger: opts.log
      ? {
          level: opts.log.level,
          ...(opts.log.stream ? { stream: opts.log.stream } : {}),
          // Only the request id, method and route pattern: URLs, headers and bodies can hold patient data.
          serializers: {
            req: (req: FastifyRequest) => ({ id: req.id, method: req.method, route: routeOf(req) }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
        }
      : false,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.requestTimeoutMs,
    bodyLimit: limits.predictBytes,
    return503OnClosing: true,
    trustProxy: false,
    exposeHeadRoutes: false,
  });

  const onError = (e: unknown): void => {
    app.log.error({ code: (e as { code?: string })?.code ?? "error" }, "store unavailable; retrying");
  };
  const outbox =
    opts.sendResult || ruleSenders.size > 0
      ? new ResultOutbox(
          repo,
          store,
          async (path, send) => {
            const sender = senderOf(send?.rule ?? null);
            // Rows are written only for jobs with a destination; one whose rule lost it in a new serve.json fails
            // (and is retried) until a destination is configured again.
            return sender ? sender(path, send) : 0xa700;
          },
          async (o) => {
            metrics.jobs.inc({ outcome: o.ok ? "sent" : "send-failed" });
            // One Export record per try: a destination that keeps failing shows in the audit log, not only in logs.
            await recordAudit(repo, {
              event: "export",
              action: "R",
              outcome: o.ok ? 0 : 8,
              user: "radiolens",
              role: "system",
              source: "dimse-scu",
              object: `job:${o.send.jobId}`,
              detail: o.ok
                ? `SR sent (try ${o.send.attempts})`
                : `SR not sent (try ${o.send.attempts}, ${typeof o.why === "number" ? `status ${o.why}` : "network"}); retry in ${Math.round(o.delayMs / 100) / 10} s`,
            });
          },
          opts.outbox,
          onError,
        )
      : undefined;
  const analysis: AnalysisContext = {
    repo,
    store,
    models,
    sendResults: (rule) => outbox !== undefined && senderOf(rule) !== undefined,
    onError,
    onResult: (job, outcome, err) => {
      metrics.jobs.inc({ outcome });
      if (outcome === "done") outbox?.notify();
      if (outcome === "failed")
        app.log.warn({ job: job.id, code: (err as { code?: string })?.code ?? "error" }, "analysis failed");
    },
  };
  const worker = new JobWorker(analysis, opts.worker?.concurrency ?? 4);
  // Requests in flight: a lone request decodes a small image inline and commits its audit record at once;
  // concurrent ones leave decoding to idle workers and share a group commit.
  let inflight = 0;
  const ctx: ServiceContext = {
    models,
    rules,
    repo,
    store,
    worker,
    ...(outbox ? { outbox } : {}),
    decoder: createUploadDecoder(
      opts.decodeWorkers ?? Math.max(0, availableParallelism() - 1),
      opts.decodeInlinePixels,
      () => inflight > 1,
    ),
    auth: opts.auth,
    limits,
    metrics,
    ready: false,
    routes: [],
  };
  app.decorate("radiolens", ctx);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) {
      if (method === "HEAD" || method === "OPTIONS") continue;
      ctx.routes.push({ method, url: r.url, auth: (r.config as { auth?: string } | undefined)?.auth });
    }
  });

  setAuditSiblings(repo, () => inflight > 1);
  app.addHook("onRequest", async () => {
    inflight++;
  });
  // Counted down when the answer is handed over, not when it has left: a keep-alive client's next request may
  // start before the previous response's "finish" event.
  app.addHook("onSend", async (_req, _reply, payload) => {
    inflight--;
    return payload;
  });

  // Authentication for every route, including unknown URLs: only routes that declare auth "public" skip it.
  app.addHook("onRequest", async (req) => {
    const need = req.routeOptions.config?.auth;
    if (need === "public") return;
    const who = authenticate(req.headers, opts.auth);
    const source = req.ip;
    if (!who) {
      await recordAudit(repo, {
        event: "userAuthentication",
        action: "E",
        outcome: 4,
        user: "anonymous",
        role: "",
        source,
        object: routeOf(req),
        detail:
          req.headers.authorization || req.headers["x-api-key"] ? "invalid credentials" : "no credentials",
      });
      throw new RadioLensError("RL_ERR_AUTH");
    }
    req.principal = who;
    // A route without a declared role is refused: a new route cannot be public by omission.
    if (!need || !roleAllows(who.role, need)) {
      await recordAudit(repo, {
        event: "securityAlert",
        action: "E",
        outcome: 4,
        user: who.id,
        role: who.role,
        source,
        object: routeOf(req),
        detail: `role '${who.role}' lacks '${need ?? "a declared role"}'`,
      });
      throw new RadioLensError("RL_ERR_FORBIDDEN", { action: `${req.method} ${routeOf(req)}` });
    }
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = routeOf(req);
    metrics.httpDuration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    const kind = req.routeOptions.config?.audit;
    if (kind && req.principal) {
      await recordAudit(repo, {
        event: kind === "query" ? "query" : kind === "auditLog" ? "auditLogUsed" : "instancesAccessed",
        action: kind === "query" ? "E" : "R",
        outcome: reply.statusCode < 400 ? 0 : reply.statusCode < 500 ? 4 : 8,
        user: req.principal.id,
        role: req.principal.role,
        source: req.ip,
        object: route,
        detail: `HTTP ${reply.statusCode}`,
      });
    }
  });

  // Responses carry patient data: no caching anywhere on the way, no content sniffing, no framing.
  app.addHook("onSend", async (_req, reply, payload) => {
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toHttpError(err);
    if (internal) {
      // The stack's frames, not its message line: a message can quote input values.
      const frames = ((err as Error).stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
      req.log.error(
        { route: routeOf(req), err: { name: (err as Error).name, frames: frames.join("\n") } },
        "internal error",
      );
    }
    if (status === 429 || status === 503) reply.header("retry-after", "1");
    void reply.code(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new RadioLensError("RL_ERR_NOT_FOUND", { what: `route ${req.method}` });
    void reply.code(404).send({ error: { code: e.code, message: e.message, fix: e.fix } });
  });

  // Bodies are read as bytes for these media types; the route's bodyLimit is checked against Content-Length
  // first and then while streaming, so an oversized upload is refused without being held in memory.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    [
      "application/dicom",
      "image/png",
      "image/jpeg",
      "application/octet-stream",
      "multipart/related",
      "multipart/form-data",
    ],
    { parseAs: "buffer" },
    (_req, body, done) => done(null, body),
  );

  await app.register(rateLimit, {
    global: true,
    max: limits.rateMax,
    timeWindow: limits.rateWindowMs,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, c) =>
      new RadioLensError("RL_ERR_RATE_LIMITED", { limit: c.max, window: `${Math.round(c.ttl / 1000)} s` }),
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "RadioLens inference service",
        version: VERSION,
        description:
          "Model inference (REST), DICOMweb (STOW-RS, QIDO-RS, WADO-RS) and results as DICOM SR. Every route but /healthz needs an API key (X-API-Key) or a bearer token with a role: viewer < clinician < admin.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });
  await app.register(systemRoutes, { ctx });
  await app.register(modelRoutes, { ctx });
  await app.register(dicomwebRoutes, { ctx });
  await app.register(worklistRoutes, { ctx });

  // Series and studies complete when no instance arrived for their rule's timeout: queued here, analysed by the
  // worker. The queueing is a transaction per pass, so any number of processes may run this timer.
  let groupTimer: NodeJS.Timeout | undefined;
  const queueGroups = async (): Promise<void> => {
    try {
      if ((await repo.queueDueGroups()) > 0) worker.notify();
    } catch (e) {
      onError(e);
    }
  };

  app.addHook("onReady", async () => {
    ctx.ready = true;
    if (opts.worker?.enabled !== false) await worker.start();
    if (opts.worker?.enabled !== false && rules.some((r) => r.rule.level !== "instance")) {
      await queueGroups();
      groupTimer = setInterval(() => void queueGroups(), opts.routing?.pollMs ?? 1000);
      groupTimer.unref();
    }
    await outbox?.start();
    await recordAudit(repo, {
      event: "applicationActivity",
      action: "E",
      outcome: 0,
      user: "radiolens",
      role: "system",
      source: "local",
      object: "service",
      detail: `started with models ${[...models.keys()].join(", ")}; ${leftovers} unacknowledged temporary file(s) removed`,
    });
  });
  app.addHook("onClose", async () => {
    ctx.ready = false;
    if (groupTimer) clearInterval(groupTimer);
    await worker.stop();
    await outbox?.stop();
    await ctx.decoder.close();
    for (const m of models.values()) await m.close();
    await recordAudit(repo, {
      event: "applicationActivity",
      action: "E",
      outcome: 0,
      user: "radiolens",
      role: "system",
      source: "local",
      object: "service",
      detail: "stopped",
    });
    if (!opts.repository) await repo.close();
  });
  return app;
}
