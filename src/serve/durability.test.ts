/** kill -9 during a STOW-RS of 50 instances, then restart: every acknowledged instance is stored and analysed exactly once, on SQLite and on PostgreSQL. */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type PostgresCluster, startPostgresCluster } from "../../test/support/postgres.js";
import { servedUrl, spawnServe, withNewUids, writeTestBundle } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { buildMultipart, parseMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-durable-"));
const KEY = "durability-admin-key-0123456789";
const children: ChildProcess[] = [];
let cluster: PostgresCluster | undefined;

before(() => {
  cluster = startPostgresCluster();
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Starts `radiolens serve --config` in a child process and resolves with its base URL. */
function serve(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnServe(config, { stderr: "pipe", env: { ...process.env, RADIOLENS_BACKEND: "wasm" } });
  children.push(child);
  return servedUrl(child).then((url) => ({ child, url }));
}

function exited(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((res) => c.once("exit", () => res()));
}

async function api(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { "x-api-key": KEY, ...(init.headers ?? {}) } });
}

for (const kind of ["SQLite", "PostgreSQL"] as const)
  test(`kill -9 mid-STOW then restart: acknowledged instances stored once, analysed exactly once (${kind})`, {
    timeout: 180_000,
  }, async () => {
    await initEngine({ backend: "wasm" });
    await writeTestBundle(join(work, "model"));
    const config = join(work, `serve-${kind}.json`);
    const dataDir = join(work, `data-${kind}`);
    writeFileSync(
      config,
      JSON.stringify({
        models: [{ dir: join(work, "model"), id: "default" }],
        port: 0,
        dataDir,
        // The restarted process has a new identity: the killed one's claims return once its 1 s lease is over.
        ...(kind === "PostgreSQL"
          ? { store: await cluster?.createDatabase("durability"), postgres: { leaseMs: 1000 } }
          : {}),
        auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
        dimse: { enabled: false },
        logLevel: "warn",
      }),
    );
    const ct = sharedData("dicom/pydicom/CT_small.dcm");
    const instances = Array.from({ length: 50 }, () => withNewUids(ct));
    const first = await serve(config);
    const acked = new Map<string, Uint8Array>();
    let killed = false;
    const sendOne = async (i: number): Promise<void> => {
      const { body, contentType } = buildMultipart([instances[i] as Uint8Array], "application/dicom");
      const r = await api(`${first.url}/dicomweb/studies`, {
        method: "POST",
        headers: { "content-type": contentType },
        body,
      });
      const json = (await r.json()) as Record<string, { Value?: Record<string, { Value?: string[] }>[] }>;
      assert.equal(r.status, 200);
      const uid = json["00081199"]?.Value?.[0]?.["00081155"]?.Value?.[0] as string;
      acked.set(uid, instances[i] as Uint8Array);
    };
    // Two senders at once; the server is killed while requests are in flight and analyses are queued or running.
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < instances.length && !killed) {
        const i = next++;
        try {
          await sendOne(i);
        } catch {
          return; // the connection died with the server: not acknowledged
        }
        if (acked.size >= 25 && !killed) {
          killed = true;
          first.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all([sender(), sender()]);
    assert.ok(killed, "the server was killed mid-transfer");
    await exited(first.child);
    assert.ok(acked.size >= 25 && acked.size < 50, `${acked.size} acknowledged before the kill`);

    const restartedAt = new Date().toISOString();
    const second = await serve(config);
    try {
      // Bounded wait for the recovered queue to drain.
      const deadline = Date.now() + 90_000;
      let ready: { jobs: { pending: number; running: number } } | undefined;
      while (Date.now() < deadline) {
        ready = (await (await api(`${second.url}/readyz`)).json()) as typeof ready;
        if (ready && ready.jobs.pending === 0 && ready.jobs.running === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.deepEqual(ready?.jobs, { pending: 0, running: 0 });
      const jobs = (
        (await (await api(`${second.url}/v1/jobs?limit=1000`)).json()) as {
          jobs: { status: string; sopInstanceUid: string }[];
        }
      ).jobs;
      assert.ok(
        jobs.every((j) => j.status === "done"),
        "every queued analysis finished",
      );
      let afterRestart = 0;
      for (const [uid, bytes] of acked) {
        const p = (await (await api(`${second.url}/v1/predictions/${uid}`)).json()) as {
          predictions: { createdAt: string }[];
        };
        assert.equal(p.predictions.length, 1, "analysed exactly once");
        if ((p.predictions[0]?.createdAt ?? "") >= restartedAt) afterRestart++;
        assert.equal(jobs.filter((j) => j.sopInstanceUid === uid).length, 1, "queued exactly once");
        const q = (await (
          await api(`${second.url}/dicomweb/instances?SOPInstanceUID=${uid}`)
        ).json()) as Record<string, { Value: string[] }>[];
        const url = q[0]?.["00081190"]?.Value[0] as string;
        const w = await api(url.replace(/^http:\/\/[^/]+/, second.url));
        const boundary = /boundary=([^;]+)/.exec(w.headers.get("content-type") ?? "")?.[1] as string;
        const [part] = parseMultipart(new Uint8Array(await w.arrayBuffer()), boundary);
        assert.deepEqual(
          new Uint8Array(part?.body ?? []),
          bytes,
          "the stored bytes are the bytes acknowledged",
        );
      }
      const tmp = readdirSync(join(dataDir, "instances"), { recursive: true })
        .map(String)
        .filter((n) => n.endsWith(".tmp"));
      assert.deepEqual(tmp, [], "no half-written file is left after the restart");
      assert.ok(
        afterRestart > 0,
        "some acknowledged instances were analysed only after the restart (recovered queue)",
      );
    } finally {
      second.child.kill("SIGTERM");
      await exited(second.child);
    }
  });
