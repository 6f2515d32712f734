/** A RadioLens service used as a DICOMweb archive in tests: stored instances are served, not analysed. */
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { initEngine } from "../../src/engine/backend.js";
import { buildApp } from "../../src/serve/app.js";
import { writeTestBundle } from "./bundle.js";

/**
 * Builds the service with the test bundle under `work/model`, data under `work/data`, one admin key, no analysis
 * worker and a rate limit no test reaches.
 */
export async function archiveApp(work: string, adminKey: string): Promise<FastifyInstance> {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  return buildApp({
    models: [{ dir: join(work, "model"), id: "default" }],
    dataDir: join(work, "data"),
    auth: { apiKeys: [{ id: "admin", role: "admin", key: adminKey }] },
    limits: { rateMax: 100_000 },
    worker: { enabled: false },
  });
}
