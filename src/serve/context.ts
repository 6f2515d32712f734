/** The service context every route plugin receives: options, models, store, worker, metrics, and the route role declaration. */
import type { Counter, Histogram, Registry } from "prom-client";
import type { JobWorker } from "./analysis.js";
import type { AuthConfig, Principal, Role } from "./auth.js";
import type { UploadDecoder } from "./decode-pool.js";
import type { InstanceStore } from "./instances.js";
import type { ResultOutbox } from "./outbox.js";
import type { Repository } from "./repository/sqlite.js";
import type { CompiledRule } from "./routing.js";
import type { ServedModel } from "./served-models.js";

/** Limits applied to every request. */
export interface ServeLimits {
  /** Largest predict body in bytes (default 32 MiB). */
  readonly predictBytes: number;
  /** Largest STOW-RS body in bytes (default 64 MiB). */
  readonly stowBytes: number;
  /** Requests per IP per window (default 600 per minute). */
  readonly rateMax: number;
  readonly rateWindowMs: number;
  /** Whole-request time budget in ms, receiving included (default 30 s). */
  readonly requestTimeoutMs: number;
  /** Time a prediction may take including queueing (default 10 s). */
  readonly predictTimeoutMs: number;
}

/** Prometheus instruments. */
export interface ServeMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly batchSize: Histogram<"model">;
  readonly inferenceSeconds: Histogram<"model">;
  readonly instances: Counter<"via" | "outcome">;
  readonly jobs: Counter<"outcome">;
}

/** Everything the routes share. */
export interface ServiceContext {
  readonly models: ReadonlyMap<string, ServedModel>;
  /** Routing rules of serve.json (empty: every model analyses every received instance). */
  readonly rules: readonly CompiledRule[];
  readonly repo: Repository;
  readonly store: InstanceStore;
  readonly worker: JobWorker;
  /** Delivers committed results to the C-STORE destination, when one is configured. */
  readonly outbox?: ResultOutbox;
  /** Decodes predict uploads (worker threads). */
  readonly decoder: UploadDecoder;
  readonly auth: AuthConfig;
  readonly limits: ServeLimits;
  readonly metrics: ServeMetrics;
  /** True once models are loaded and the store is open. */
  ready: boolean;
  /** Every registered route with the role it declares (route-enumeration tests and the docs page). */
  readonly routes: { readonly method: string; readonly url: string; readonly auth: string | undefined }[];
}

/** What a route declares in `config`: who may call it. "public" is only /healthz. */
export interface RouteAuth {
  readonly auth: Role | "public";
  /** Audit event for a successful call, if the route is an access to patient data. */
  readonly audit?: "query" | "access" | "auditLog";
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    auth?: Role | "public";
    audit?: "query" | "access" | "auditLog";
  }
}
