/** The result outbox with dcmtk: destination down → results stay pending and each failure is audited; destination up → the SR arrives, also after a restart; SQLite and PostgreSQL. */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { type PostgresCluster, startPostgresCluster } from "../../test/support/postgres.js";
import { withNewUids, writeTestBundle } from "../../test/support/serve.js";
import { freePort, sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { buildApp } from "./app.js";
import { createResultSender } from "./dimse.js";
import { buildMultipart } from "./multipart.js";
import { retryDelay } from "./outbox.js";
import { openRepository } from "./repository/open.js";

const work = mkdtempSync(join(tmpdir(), "rl-outbox-"));
const KEY = "outbox-admin-key-0123456789";
const CT = sharedData("dicom/pydicom/CT_small.dcm");
let cluster: PostgresCluster | undefined;
const pacsProcesses: ChildProcess[] = [];

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  cluster = startPostgresCluster();
});

after(() => {
  for (const p of pacsProcesses) if (p.exitCode === null) p.kill("SIGKILL");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Starts a dcmtk storescp (the PACS) and resolves once it accepts connections. */
async function startPacs(port: number, outDir: string): Promise<ChildProcess> {
  mkdirSync(outDir, { recursive: true });
  const p = spawn("storescp", ["-aet", "PACS", "-od", outDir, String(port)], { stdio: "ignore" });
  pacsProcesses.push(p);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((res) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        res(true);
      });
      s.on("error", () => res(false));
    });
    if (up) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("storescp did not start");
}

async function stopPacs(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await gone;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("retry delays double from the base up to the cap", () => {
  const o = { baseDelayMs: 500, maxDelayMs: 60_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 8, 50].map((n) => retryDelay(n, o)),
    [500, 1000, 2000, 4000, 60_000, 60_000],
  );
  assert.equal(retryDelay(0), 500);
});

for (const kind of ["SQLite", "PostgreSQL"] as const) {
  describe(`result outbox on ${kind}`, () => {
    test("destination down: results stay pending, each failure audited, /metrics counts them; up: the SR arrives; after a restart too", {
      timeout: 120_000,
    }, async () => {
      const dir = join(work, kind);
      const outDir = join(dir, "pacs");
      const store = kind === "PostgreSQL" ? await cluster?.createDatabase("outbox") : undefined;
      const pacsPort = await freePort();
      const make = (): Promise<FastifyInstance> =>
        buildApp({
          models: [{ dir: join(work, "model"), id: "default" }],
          dataDir: join(dir, "data"),
          ...(store ? { store } : {}),
          auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
          decodeWorkers: 0,
          sendResult: createResultSender(
            "RADIOLENS",
            { aeTitle: "PACS", host: "127.0.0.1", port: pacsPort },
            3000,
          ),
          outbox: { baseDelayMs: 100, maxDelayMs: 400 },
        });
      const stow = async (app: FastifyInstance): Promise<void> => {
        const { body, contentType } = buildMultipart([withNewUids(CT)], "application/dicom");
        const r = await app.inject({
          method: "POST",
          url: "/dicomweb/studies",
          headers: { "x-api-key": KEY, "content-type": contentType },
          payload: body,
        });
        assert.equal(r.statusCode, 200, r.body);
      };
      const pendingMetric = async (app: FastifyInstance): Promise<number> => {
        const r = await app.inject({ url: "/metrics", headers: { "x-api-key": KEY } });
        const m = /^radiolens_result_sends_pending (\d+)$/m.exec(r.body);
        assert.ok(m, "the metric is exposed");
        return Number(m[1]);
      };
      const srs = (): string[] =>
        existsSync(outDir) ? readdirSync(outDir).filter((f) => f.startsWith("SR")) : [];

      let app = await make();
      await app.ready();
      try {
        // 1. Nothing listens on the destination port: the SR and the SC stay in the outbox.
        await stow(app);
        const repo = app.radiolens.repo;
        await until("the analysis", async () => (await repo.countPredictions()) === 1);
        await until(
          "two failed tries per result",
          async () => (await repo.listAudit(100, "110106")).filter((a) => a.outcome === 8).length >= 4,
        );
        assert.equal((await repo.listAudit(100, "110106")).filter((a) => a.outcome === 0).length, 0);
        assert.equal(await pendingMetric(app), 2, "SR and SC pending");
        const failed = (await repo.listAudit(100, "110106")).find((a) => a.outcome === 8);
        assert.match(failed?.detail ?? "", /SR not sent \(try \d+, network\); retry in/);
        const [row] = await repo.listSends(10);
        assert.ok((row?.attempts ?? 0) >= 2 && /ECONNREFUSED/.test(row?.error ?? ""), JSON.stringify(row));

        // 2. The destination comes up: the pending results are delivered without any new request.
        const pacs = await startPacs(pacsPort, outDir);
        await until("the SR at the destination", () => srs().length === 1);
        await until("both sends acknowledged", async () => (await pendingMetric(app)) === 0);
        assert.equal((await repo.listAudit(100, "110106")).filter((a) => a.outcome === 0).length, 2);
        await stopPacs(pacs);

        // 3. Down again; the server stops with results unsent.
        await stow(app);
        await until("the second analysis", async () => (await repo.countPredictions()) === 2);
        await until(
          "the second SR failed",
          async () =>
            (await repo.countSends("sent")) === 2 && (await repo.listSends(10, "pending")).length === 2,
        );
        await app.close();
        // A process that died in the middle of a send: the row is left "sending" under a claim nobody holds.
        const crashed = await openRepository(store ?? join(dir, "data", "radiolens.db"));
        await new Promise((r) => setTimeout(r, 450)); // past the 400 ms backoff cap: due
        const cut = await crashed.claimSend();
        assert.equal(cut?.status, "sending");
        await crashed.close();

        // 4. Destination up, then a restart on the same store: what was not acknowledged is sent.
        const pacs2 = await startPacs(pacsPort, outDir);
        app = await make();
        await app.ready();
        await until("the second SR after the restart", () => srs().length === 2);
        await until("nothing pending after the restart", async () => (await pendingMetric(app)) === 0);
        assert.equal(await app.radiolens.repo.countSends("sent"), 4, "the cut send was recovered and sent");
        await stopPacs(pacs2);
        const exported = (await app.radiolens.repo.listAudit(1000, "110106")).filter((a) => a.outcome === 0);
        assert.equal(exported.length, 4, "each of the 4 result objects acknowledged once");
        for (const f of srs()) {
          const dump = execFileSync("dsrdump", ["-Ee", join(outDir, f)], { encoding: "utf8" });
          assert.match(dump, /Comprehensive SR Document/);
        }
        assert.ok(readFileSync(join(outDir, srs()[0] as string)).length > 0);
      } finally {
        await app.close();
      }
    });
  });
}
