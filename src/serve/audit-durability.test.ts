/** kill -9 under concurrent predict load: every answered request's audit record is in the store after the crash (group commit is write-ahead). */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { servedUrl, spawnServe, writeTestBundle } from "../../test/support/serve.js";
import { createImage } from "../core/image.js";
import { initEngine } from "../engine/backend.js";
import { encodePng } from "../io/image/index.js";
import { shortHash } from "./hash.js";
import { openSqliteRepository } from "./repository/sqlite.js";

const work = mkdtempSync(join(tmpdir(), "rl-audit-durable-"));
const KEY = "audit-durability-key-0123456789";
let child: ChildProcess | undefined;

after(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

test("kill -9 during 8 concurrent predict clients: each answered request has its committed audit record", {
  timeout: 120_000,
}, async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  const dataDir = join(work, "data");
  const config = join(work, "serve.json");
  writeFileSync(
    config,
    JSON.stringify({
      models: [{ dir: join(work, "model"), id: "default" }],
      port: 0,
      dataDir,
      auth: { apiKeys: [{ id: "ops", role: "clinician", key: KEY }] },
      limits: { rateMax: 1_000_000 },
      dimse: { enabled: false },
      logLevel: "warn",
    }),
  );
  child = spawnServe(config, { stderr: "pipe", env: { ...process.env, RADIOLENS_BACKEND: "wasm" } });
  const server = child;
  const url = await servedUrl(server);
  const exited = new Promise<void>((res) => server.once("exit", () => res()));
  // Every request a different image, so each audit record names its own body hash.
  const body = (i: number): Uint8Array =>
    encodePng(
      createImage(
        new Uint8Array(56 * 56).map((_, k) => (k * 7 + i * 13) % 256),
        [56, 56, 1],
      ),
    );
  const answered: string[] = [];
  let next = 0;
  let killed = false;
  const client = async (): Promise<void> => {
    while (!killed) {
      const b = body(next++);
      try {
        const r = await fetch(`${url}/v1/models/default/predict`, {
          method: "POST",
          body: b,
          headers: { "x-api-key": KEY, "content-type": "image/png" },
        });
        await r.arrayBuffer();
        if (r.status === 200) answered.push(shortHash(b));
      } catch {
        return; // the server died with this request in flight: not answered
      }
      if (answered.length >= 150 && !killed) {
        killed = true;
        server.kill("SIGKILL");
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  await exited;
  assert.ok(answered.length >= 150, `${answered.length} answered before the kill`);
  const repo = openSqliteRepository(join(dataDir, "radiolens.db"));
  try {
    const objects = new Set(
      (await repo.listAudit(100_000, "110103")).filter((r) => r.outcome === 0).map((r) => r.object),
    );
    const missing = answered.filter((h) => !objects.has(`predict:default:${h}`));
    assert.deepEqual(missing, [], "every answered predict has its audit record");
  } finally {
    await repo.close();
  }
});
