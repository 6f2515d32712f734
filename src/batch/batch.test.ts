/** Batch runs: local resumable runs with recorded failures, manifests, a DICOMweb archive of 500 instances, and PostgreSQL workers surviving kill -9. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { PNG } from "pngjs";
import { type PostgresCluster, startPostgresCluster } from "../../test/support/postgres.js";
import { withNewUids, writeTestBundle } from "../../test/support/serve.js";
import { REPO_ROOT, sharedData } from "../../test/support/shared-data.js";
import { runCli } from "../cli/main.js";
import { Rng } from "../core/rng.js";
import { initEngine } from "../engine/backend.js";
import { exportBundleOnnx } from "../models/onnx/bundle-runtime.js";
import { buildApp } from "../serve/app.js";
import { buildMultipart } from "../serve/multipart.js";
import { listInputs } from "./inputs.js";
import { openPostgresBatchStore } from "./postgres.js";
import { submitRun } from "./run.js";
import { type BatchResult, type ClaimedInput, openSqliteBatchStore } from "./store.js";
import { workBatch } from "./worker.js";

const work = mkdtempSync(join(tmpdir(), "rl-batch-"));
const model = join(work, "model");
const imgs = join(work, "imgs");
const N = 120;
let cluster: PostgresCluster | undefined;
const children: ChildProcess[] = [];

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

/** `radiolens batch run` of the test model over `input` as run `name` in the SQLite store `db`, then `more` options. */
const batchRun = (input: string, name: string, db: string, ...more: string[]) =>
  cli(["batch", "run", "--model", model, "--input", input, "--name", name, "--db", db, ...more]);

function csv(path: string): Record<string, string>[] {
  return parse(readFileSync(path, "utf8"), { columns: true }) as Record<string, string>[];
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(model, 5);
  await exportBundleOnnx(model);
  mkdirSync(join(imgs, "sub"), { recursive: true });
  const rng = new Rng(20);
  for (let k = 0; k < N; k++) {
    const png = new PNG({ width: 28 + (k % 3), height: 28 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : rng.int(0, 255);
    writeFileSync(
      join(imgs, k % 10 === 0 ? "sub" : "", `${String(k).padStart(4, "0")}.png`),
      PNG.sync.write(png),
    );
  }
  writeFileSync(join(imgs, "broken.png"), "not an image");
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("batch on the embedded store", () => {
  it("records unreadable inputs, resumes after an interruption without rescoring, exports one row per input", async () => {
    const db = join(work, "local.db");
    const store = openSqliteBatchStore(db);
    const sub = await submitRun(store, { name: "r1", modelDir: model, input: imgs });
    assert.deepEqual([sub.added, sub.total], [N + 1, N + 1]);
    // Interrupted after the first committed micro-batch.
    const stop = new AbortController();
    const first = await workBatch(store, {
      batchSize: 16,
      exitWhenIdle: true,
      signal: stop.signal,
      onProgress: () => stop.abort(),
    });
    assert.ok(first.scored + first.failed >= 16 && first.scored + first.failed < N, "stopped mid-run");
    const partial = await store.exportRows("r1");
    const early = new Map(partial.filter((r) => r.result).map((r) => [r.inputId, r.result?.scoredAt]));
    await store.close();

    const r = await batchRun(imgs, "r1", db, "--out", join(work, "r1.csv"));
    assert.equal(r.code, 3, `one input failed: ${r.err}`);
    assert.match(r.err, /0 new/);
    const rows = csv(join(work, "r1.csv"));
    assert.equal(rows.length, N + 1);
    assert.equal(new Set(rows.map((x) => x["input_id"])).size, N + 1, "one row per input");
    const broken = rows.find((x) => x["input_id"] === "broken.png");
    assert.equal(broken?.["status"], "failed");
    assert.match(broken?.["error"] ?? "", /RL_ERR_UNKNOWN_FORMAT/);
    const done = rows.filter((x) => x["status"] === "done");
    assert.equal(done.length, N);
    for (const x of done) {
      const p = Number(x["p_normal"]) + Number(x["p_pneumonia"]);
      assert.ok(Math.abs(p - 1) < 1e-5, "softmax probabilities");
      assert.equal(x["label"], Number(x["p_pneumonia"]) >= 0.5 ? "pneumonia" : "normal");
      assert.equal(x["model_id"], "seed-cnn-test");
      assert.equal(x["model_version"], "0.0.1-test");
    }
    assert.ok(
      rows.some((x) => x["input_id"] === "sub/0010.png"),
      "sub-folders are walked",
    );
    // Results committed before the interruption were kept, not scored again.
    const store2 = openSqliteBatchStore(db);
    for (const row of await store2.exportRows("r1"))
      if (early.has(row.inputId)) assert.equal(row.result?.scoredAt, early.get(row.inputId));
    const s = await store2.status("r1");
    assert.deepEqual([s.done, s.failed, s.pending], [N, 1, 0]);
    await store2.close();
    // The same predictions as `radiolens predict` on ONNX Runtime.
    const one = await cli(["predict", "--model", model, "--json", join(imgs, "0001.png")]);
    const p = JSON.parse(one.out).predictions[0].probabilities as Record<string, number>;
    const row = rows.find((x) => x["input_id"] === "0001.png");
    assert.ok(Math.abs(Number(row?.["p_pneumonia"]) - (p["pneumonia"] as number)) < 1e-6);
  });

  it("reads a manifest.csv (ids, relative paths) and refuses a duplicate id", async () => {
    const manifest = join(work, "manifest.csv");
    writeFileSync(manifest, "id,path\na,imgs/0001.png\nb,imgs/0002.png\nmissing,imgs/none.png\n");
    const db = join(work, "manifest.db");
    const r = await batchRun(manifest, "m", db, "--out", join(work, "m.csv"));
    assert.equal(r.code, 3, r.err);
    const rows = csv(join(work, "m.csv"));
    assert.deepEqual(
      rows.map((x) => [x["input_id"], x["status"]]),
      [
        ["a", "done"],
        ["b", "done"],
        ["missing", "failed"],
      ],
    );
    writeFileSync(manifest, "id,path\na,imgs/0001.png\na,imgs/0002.png\n");
    await assert.rejects(listInputs(manifest), /appears twice/);
  });

  it("scores a DICOMweb archive of 500 instances through QIDO-RS paging and WADO-RS", {
    timeout: 240_000,
  }, async () => {
    const KEY = "batch-test-admin-key-0123456789";
    const app = await buildApp({
      models: [{ dir: model, id: "default" }],
      dataDir: join(work, "pacs"),
      auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
      decodeWorkers: 0,
      worker: { enabled: false },
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const ct = readFileSync(sharedData("dicom/pydicom/CT_small.dcm"));
      const M = 500;
      for (let s = 0; s < M; s += 50) {
        const { body, contentType } = buildMultipart(
          Array.from({ length: 50 }, () => withNewUids(ct)),
          "application/dicom",
        );
        const r = await fetch(`${url}/dicomweb/studies`, {
          method: "POST",
          headers: { "x-api-key": KEY, "content-type": contentType },
          body,
        });
        assert.equal(r.status, 200);
      }
      const db = join(work, "dicomweb.db");
      const out = join(work, "dicomweb.csv");
      const input = `${url}/dicomweb/instances`;
      const r = await batchRun(
        input,
        "pacs",
        db,
        "--header",
        `x-api-key: ${KEY}`,
        "--out",
        out,
        "--batch-size",
        "100",
      );
      assert.equal(r.code, 0, r.err);
      assert.doesNotMatch(r.err + r.out, new RegExp(KEY), "the API key is never printed");
      const rows = csv(out);
      assert.equal(rows.length, M, "one row per instance");
      assert.equal(new Set(rows.map((x) => x["input_id"])).size, M);
      assert.ok(rows.every((x) => x["status"] === "done" && /^[0-9.]+$/.test(x["input_id"] ?? "")));
      // Without the key every retrieval is refused (401): recorded per input, the run still completes.
      const denied = await batchRun(input, "x", join(work, "denied.db"));
      assert.notEqual(denied.code, 0);
    } finally {
      await app.close();
    }
  });
});

function spawnWorker(dsn: string): ChildProcess {
  const code = `const { runCli } = await import("./src/cli/main.ts"); process.exitCode = await runCli(${JSON.stringify(
    ["batch", "work", "--store", dsn, "--batch-size", "8", "--exit-when-idle"],
  )});`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

const exited = (c: ChildProcess): Promise<number | null> =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve(c.exitCode)
    : new Promise((res) => c.once("exit", (code) => res(code)));

describe("batch on PostgreSQL (pg-boss)", () => {
  it("settles a job of several inputs as a whole: a repeated commit keeps one row, a transient failure is retried alone, a dead worker's job is split per input", {
    timeout: 120_000,
  }, async () => {
    cluster ??= startPostgresCluster();
    const dsn = await cluster.createDatabase("chunks");
    const manifest = join(work, "chunks.csv");
    writeFileSync(
      manifest,
      `id,path\n${Array.from({ length: 8 }, (_, k) => `c${k},imgs/${String(k + 1).padStart(4, "0")}.png`).join("\n")}\n`,
    );
    const store = await openPostgresBatchStore(dsn, { chunk: 4, monitorIntervalSeconds: 1 });
    const result = (c: ClaimedInput): BatchResult => ({
      run: c.run,
      inputId: c.id,
      label: "a",
      probabilities: { a: 1 },
      oodScore: null,
      modelId: "m",
      modelVersion: "1",
      error: null,
      worker: "test",
    });
    const claimAll = async (want: number): Promise<ClaimedInput[]> => {
      const got: ClaimedInput[] = [];
      const deadline = Date.now() + 20_000;
      while (got.length < want && Date.now() < deadline) {
        got.push(...(await store.claim(8)));
        if (got.length < want) await new Promise((r) => setTimeout(r, 100));
      }
      return got;
    };
    try {
      const sub = await submitRun(store, { name: "c", modelDir: model, input: manifest });
      assert.equal(sub.added, 8);
      const claims = await store.claim(8);
      assert.equal(claims.length, 8, "two jobs of four inputs in one fetch");
      const tokens = (cs: readonly ClaimedInput[]) => new Set(cs.map((c) => (c.token as { id: string }).id));
      assert.equal(tokens(claims).size, 2);
      assert.ok(claims.every((c) => c.attempt === 1 && !c.last));
      const done = claims.slice(0, 6);
      const again = claims.slice(6);
      await store.commit(done, done.map(result), { claims: again, error: "RL_ERR_DOWNLOAD: reset" });
      // Scored again (a claim that expired after its commit): the primary key keeps one row, no error.
      await store.commit([], done.slice(0, 4).map(result));
      assert.equal((await store.exportRows("c")).filter((r) => r.result).length, 6);
      assert.equal((await store.status("c")).pending, 2);

      const retried = await claimAll(2);
      assert.deepEqual(
        retried.map((c) => c.id),
        again.map((c) => c.id),
      );
      assert.equal(tokens(retried).size, 1, "the two inputs to retry went back in one job");
      assert.ok(retried.every((c) => c.attempt === 2 && !c.last));
      // The worker holding them dies (here: gives them back): the job is split, one job per input.
      await store.release(retried, "worker stopped");
      const split = await claimAll(2);
      assert.deepEqual(split.map((c) => c.id).sort(), again.map((c) => c.id).sort());
      assert.equal(tokens(split).size, 2, "one job per input after the split");
      assert.ok(
        split.every((c) => c.attempt === 3 && c.last),
        "tries counted across the jobs",
      );
      await store.commit(split, split.map(result));
      const rows = await store.exportRows("c");
      assert.deepEqual(
        rows.map((r) => [r.inputId, r.result?.worker]),
        Array.from({ length: 8 }, (_, k) => [`c${k}`, "test"]),
      );
      assert.equal(await store.outstanding(), 0);
    } finally {
      await store.close();
    }
  });

  it("submits idempotently; kill -9 of a worker mid-run, then another: exactly one result per input", {
    timeout: 240_000,
  }, async () => {
    cluster ??= startPostgresCluster();
    const dsn = await cluster.createDatabase("batch");
    const submit = ["batch", "submit", "--model", model, "--input", imgs, "--store", dsn, "--name", "pg"];
    const a = await cli([...submit, "--claim-timeout", "2"]);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, new RegExp(`${N + 1} inputs queued`));
    const b = await cli(submit);
    assert.match(b.out, /0 inputs queued/, "submitting the same run again adds nothing");

    const store = await openPostgresBatchStore(dsn);
    try {
      const first = spawnWorker(dsn);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && (await store.status("pg")).done < 20)
        await new Promise((r) => setTimeout(r, 50));
      first.kill("SIGKILL");
      await exited(first);
      const atKill = await store.status("pg");
      assert.ok(atKill.pending > 0, `killed mid-run (${atKill.done} done)`);
      const second = spawnWorker(dsn);
      let err = "";
      second.stderr?.on("data", (c: Buffer) => (err += c.toString()));
      assert.equal(await exited(second), 0, err);
      const out = join(work, "pg.csv");
      const e = await cli(["batch", "export", "pg", "--store", dsn, "--out", out]);
      assert.equal(e.code, 0, e.err);
      const rows = csv(out);
      assert.equal(rows.length, N + 1, "one row per input");
      assert.equal(new Set(rows.map((x) => x["input_id"])).size, N + 1, "nothing scored twice");
      assert.equal(rows.filter((x) => x["status"] === "done").length, N);
      assert.equal(rows.find((x) => x["input_id"] === "broken.png")?.["status"], "failed");
      const s = await cli(["batch", "status", "pg", "--store", dsn, "--json"]);
      const st = JSON.parse(s.out) as { done: number; failed: number; pending: number; total: number };
      assert.deepEqual([st.total, st.done, st.failed, st.pending], [N + 1, N, 1, 0]);
      const workers = new Set((await store.exportRows("pg")).map((r) => r.result?.worker));
      assert.equal(workers.size, 2, "both workers committed results");
    } finally {
      await store.close();
    }
  });
});
