/** bench:serve — PNG predict over loopback with autocannon at concurrency 1 and 8: RadioLens serve vs FastAPI + PyTorch (same architecture and weights). */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { createImage } from "../src/core/image.js";
import { decodeJpeg, encodePng } from "../src/io/image/index.js";
import { DEFAULT_MODEL_DIR } from "../src/serve/server.js";
import { spawnServe } from "../test/support/serve.js";
import { freePort, REPO_ROOT, sharedData } from "../test/support/shared-data.js";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 5);
const KEY = "bench-admin-key-0123456789abcdef";

/** A 224×224 grayscale PNG from a real chest X-ray (nearest sampling; 224 = 8 × 28 keeps both area resizes exact). */
async function benchPng(): Promise<Buffer> {
  const img = decodeJpeg(readFileSync(sharedData("xray/COVID-00001.jpg")));
  const [rows, cols, ch] = img.shape as [number, number, number];
  const out = new Uint8Array(224 * 224);
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      const sy = Math.floor(((y + 0.5) * rows) / 224);
      const sx = Math.floor(((x + 0.5) * cols) / 224);
      out[y * 224 + x] = img.data[(sy * cols + sx) * ch] as number;
    }
  }
  return Buffer.from(encodePng(createImage(out, [224, 224, 1])));
}

async function waitHttp(
  url: string,
  child: ChildProcess,
  headers: Record<string, string> = {},
): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { headers });
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${url} did not answer within 60 s`);
}

/** Starts `radiolens serve` (as deployed: a child process) with one runtime/backend; resolves when it answers. */
async function startOurs(work: string, backend: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const config = join(work, `serve-${backend}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      port,
      ...(backend === "onnx" ? { runtime: "onnx" } : { runtime: "tfjs", backend }),
      dataDir: join(work, `data-${backend}`),
      auth: { apiKeys: [{ id: "bench", role: "clinician", key: KEY }] },
      limits: { rateMax: 100_000_000 },
      dimse: { enabled: false },
      logLevel: "warn",
    }),
  );
  const child = spawnServe(config);
  await waitHttp(`http://127.0.0.1:${port}/healthz`, child);
  return { child, url: `http://127.0.0.1:${port}` };
}

interface Figures {
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  readonly errors: number;
  readonly requests: number;
}

async function load(
  url: string,
  body: Buffer,
  connections: number,
  headers: Record<string, string>,
): Promise<Figures> {
  // Warm-up, then the measured run.
  await autocannon({ url, method: "POST", body, headers, connections, duration: 1 });
  const r = await autocannon({ url, method: "POST", body, headers, connections, duration: SECONDS });
  return {
    p50: r.latency.p50,
    p99: r.latency.p99,
    rps: r.requests.average,
    errors: r.errors + r.timeouts + r.non2xx,
    requests: r.requests.total,
  };
}

async function main(): Promise<void> {
  if (!existsSync(join(DEFAULT_MODEL_DIR, "radiolens.json"))) {
    process.stderr.write("The bundled model is missing: run `npm run build:model` first.\n");
    process.exitCode = 2;
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "rl-bench-serve-"));
  const png = await benchPng();
  const children: ChildProcess[] = [];
  try {
    const peerPort = await freePort();
    const peer = spawn(
      existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3",
      [join(REPO_ROOT, "bench/serve_peer.py"), "--model", DEFAULT_MODEL_DIR, "--port", String(peerPort)],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(peer);
    const theirs = `http://127.0.0.1:${peerPort}/predict`;
    await waitHttp(`http://127.0.0.1:${peerPort}/docs`, peer);
    const rows: string[] = [];
    let errors = 0;
    // RadioLens once per tfjs backend the machine has; the peer is measured right after each, in the same run.
    // "onnx" is ONNX Runtime (the bundle's model.onnx); the others are tfjs backends.
    for (const backend of (process.env["BENCH_BACKENDS"] ?? "onnx,onednn,wasm").split(",")) {
      const node = await startOurs(work, backend);
      children.push(node.child);
      const ours = `${node.url}/v1/models/default/predict`;
      // Same architecture and weights: the two must agree before their speed is compared.
      const a = (await (
        await fetch(ours, {
          method: "POST",
          body: png,
          headers: { "x-api-key": KEY, "content-type": "image/png" },
        })
      ).json()) as { probabilities: Record<string, number> };
      const b = (await (
        await fetch(theirs, { method: "POST", body: png, headers: { "content-type": "image/png" } })
      ).json()) as { probabilities: Record<string, number> };
      const diff = Math.max(
        ...Object.keys(a.probabilities).map((k) =>
          Math.abs((a.probabilities[k] ?? 0) - (b.probabilities[k] ?? 0)),
        ),
      );
      process.stdout.write(
        `${backend}: agreement max |p_radiolens - p_torch| = ${diff.toExponential(2)} (${JSON.stringify(a.probabilities)})\n`,
      );
      for (const c of [1, 8]) {
        const r = await load(ours, png, c, { "x-api-key": KEY, "content-type": "image/png" });
        const p = await load(theirs, png, c, { "content-type": "image/png" });
        errors += r.errors + p.errors;
        rows.push(
          `| ${backend} | ${c} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rps.toFixed(0)} | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} | ${p.rps.toFixed(0)} | ${(p.p50 / r.p50).toFixed(2)}× | ${(r.rps / p.rps).toFixed(2)}× | ${r.errors}/${r.requests}, ${p.errors}/${p.requests} |`,
        );
      }
      node.child.kill("SIGTERM");
    }
    process.stdout.write(
      `\nPNG predict (224×224 grey → seed-cnn 28×28), loopback, ${SECONDS} s per run after 1 s warm-up\n` +
        "| runtime | conc. | RadioLens p50 ms | p99 ms | req/s | FastAPI+PyTorch p50 ms | p99 ms | req/s | p50 ratio (peer/ours) | req/s ratio (ours/peer) | errors (ours, peer) |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|\n" +
        `${rows.join("\n")}\n`,
    );
    if (errors > 0) {
      process.stderr.write(`${errors} failed requests\n`);
      process.exitCode = 1;
    }
  } finally {
    for (const c of children) c.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
