/** kill -9 while a series is arriving and again once it is queued, then restart: the series is analysed exactly once, on SQLite and on PostgreSQL. */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type PostgresCluster, startPostgresCluster } from "../../test/support/postgres.js";
import { servedUrl, spawnServe } from "../../test/support/serve.js";
import { ctSeries } from "../../test/support/synthetic-ct.js";
import { trainTinyUnet } from "../../test/support/tiny-unet.js";
import { initEngine } from "../engine/backend.js";
import { buildMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-group-durable-"));
const KEY = "group-durability-key-0123456789";
const children: ChildProcess[] = [];
let cluster: PostgresCluster | undefined;
let bundle = "";

before(async () => {
  cluster = startPostgresCluster();
  await initEngine();
  bundle = await trainTinyUnet(work, 8, 24);
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

function serve(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnServe(config, { stderr: "pipe" });
  children.push(child);
  return servedUrl(child).then((url) => ({ child, url }));
}

async function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((res) => c.once("exit", () => res()));
  c.kill("SIGKILL");
  await exited;
}

const api = (url: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { ...init, headers: { "x-api-key": KEY, ...(init.headers ?? {}) } });

async function stow(url: string, file: Uint8Array): Promise<void> {
  const { body, contentType } = buildMultipart([file], "application/dicom");
  const r = await api(`${url}/dicomweb/studies`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
  assert.equal(r.status, 200);
}

interface JobView {
  readonly status: string;
  readonly scope: string | null;
}

async function jobs(url: string): Promise<JobView[]> {
  return ((await (await api(`${url}/v1/jobs?limit=100`)).json()) as { jobs: JobView[] }).jobs;
}

for (const kind of ["SQLite", "PostgreSQL"] as const)
  test(`kill -9 mid-series and mid-analysis, restart: the series is analysed once (${kind})`, {
    timeout: 240_000,
  }, async () => {
    const config = join(work, `serve-${kind}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        models: [{ dir: bundle, id: "unet" }],
        port: 0,
        dataDir: join(work, `data-${kind}`),
        ...(kind === "PostgreSQL"
          ? { store: await cluster?.createDatabase("groups_durability"), postgres: { leaseMs: 1000 } }
          : {}),
        auth: { apiKeys: [{ id: "ops", role: "admin", key: KEY }] },
        dimse: { enabled: false },
        routing: [
          {
            name: "ct",
            match: { modalities: ["CT"] },
            models: ["unet"],
            level: "series",
            completionTimeoutSeconds: 1.5,
          },
        ],
        logLevel: "warn",
      }),
    );
    const { files } = ctSeries(8, 24, 41);
    // The first process receives half the series and is killed before its completion timeout.
    const first = await serve(config);
    for (const f of files.slice(0, 4)) await stow(first.url, f);
    await kill(first.child);
    // The second receives the rest, and is killed as soon as the series is queued (its analysis is pending or
    // running, or just committed).
    const second = await serve(config);
    for (const f of files.slice(4)) await stow(second.url, f);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await jobs(second.url)).length === 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await kill(second.child);
    const third = await serve(config);
    try {
      let all: JobView[] = [];
      const end = Date.now() + 90_000;
      while (Date.now() < end) {
        all = await jobs(third.url);
        if (all.length > 0 && all.every((j) => j.status === "done")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(all.length, 1, "one analysis of the series, whichever process ran it");
      assert.equal(all[0]?.status, "done");
      assert.ok(all[0]?.scope?.startsWith("series:"));
      // One prediction, whose result SEG and SR were indexed once.
      const groups = (await (await api(`${third.url}/readyz`)).json()) as { jobs: { pending: number } };
      assert.equal(groups.jobs.pending, 0);
      const results = (await (
        await api(`${third.url}/dicomweb/instances?Modality=SEG`, {
          headers: { accept: "application/dicom+json" },
        })
      ).json()) as unknown[];
      assert.equal(results.length, 1, "one SEG");
    } finally {
      await kill(third.child);
    }
  });
