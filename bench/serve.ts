/** bench:serve — predict latency (µs, HDR histograms) and throughput of RadioLens serve vs FastAPI + PyTorch, PNG/JPEG/DICOM at concurrency 1, 8 and 32, alternated over rounds. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type Histogram } from "hdr-histogram-js";
import jpeg from "jpeg-js";
import { createImage } from "../src/core/image.js";
import { decodeJpeg, encodePng } from "../src/io/image/index.js";
import { DEFAULT_MODEL_DIR } from "../src/serve/server.js";
import { spawnServe } from "../test/support/serve.js";
import { freePort, REPO_ROOT, sharedData } from "../test/support/shared-data.js";

const QUICK = process.argv.includes("--quick");
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? (QUICK ? 1 : 3));
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? (QUICK ? 1 : 5));
const CONCURRENCY = (process.env["BENCH_CONCURRENCY"] ?? "1,8,32").split(",").map(Number);
const INPUTS = (process.env["BENCH_INPUTS"] ?? "png,jpeg,dicom").split(",");
const BACKENDS = (process.env["BENCH_BACKENDS"] ?? "onnx").split(",");
const KEY = "bench-admin-key-0123456789abcdef";

/** A 224×224 grey image from a real chest X-ray (nearest sampling; 224 = 8 × 28 keeps both area resizes exact). */
function benchPixels(): Uint8Array {
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
  return out;
}

/** The three request bodies: the X-ray as PNG and as JPEG (quality 90), and the pydicom CT (128×128, 16-bit). */
function benchInputs(): Record<string, { body: Buffer; type: string }> {
  const grey = benchPixels();
  const rgba = Buffer.alloc(224 * 224 * 4);
  for (let i = 0; i < grey.length; i++) {
    rgba.fill(grey[i] as number, i * 4, i * 4 + 3);
    rgba[i * 4 + 3] = 255;
  }
  return {
    png: { body: Buffer.from(encodePng(createImage(grey, [224, 224, 1]))), type: "image/png" },
    jpeg: {
      body: Buffer.from(jpeg.encode({ data: rgba, width: 224, height: 224 }, 90).data),
      type: "image/jpeg",
    },
    dicom: { body: readFileSync(sharedData("dicom/pydicom/CT_small.dcm")), type: "application/dicom" },
  };
}

async function waitHttp(url: string, child: ChildProcess): Promise<void> {
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${url} did not answer within 60 s`);
}

/** Starts `radiolens serve` (as deployed: a child process) with one runtime/backend; resolves when it answers. */
async function startOurs(work: string, backend: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const config = join(work, `serve-${backend}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      port,
      ...(backend === "onnx" ? { runtime: "onnx" } : { runtime: "tfjs", backend }),
      dataDir: join(work, `data-${backend}`),
      // Admin: the bench's X-ray is outside the reference model's training distribution (PneumoniaMNIST, 28×28),
      // and only an administrator may have it analysed anyway (`force`); the OOD score is still computed.
      auth: { apiKeys: [{ id: "bench", role: "admin", key: KEY }] },
      limits: { rateMax: 100_000_000 },
      dimse: { enabled: false },
      logLevel: "warn",
    }),
  );
  const child = spawnServe(config);
  await waitHttp(`http://127.0.0.1:${port}/healthz`, child);
  return { child, port };
}

/** One HTTP/1.1 request as bytes, sent again and again on keep-alive connections. */
function rawRequest(port: number, path: string, body: Buffer, headers: Record<string, string>): Buffer {
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Content-Length: ${body.length}`,
    "Connection: keep-alive",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join("\r\n");
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);
}

/** Latencies of one load run in µs, with request and error counts. */
interface Run {
  readonly hist: Histogram;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
}

/** Length of a complete response at the start of `buf` (Content-Length or chunked), or -1 while incomplete. */
function responseLength(buf: Buffer): { length: number; status: number } {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return { length: -1, status: 0 };
  const head = buf.subarray(0, end).toString("latin1");
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const total = end + 4 + Number(cl[1]);
    return { length: buf.length >= total ? total : -1, status };
  }
  const term = buf.indexOf("\r\n0\r\n\r\n", end);
  return { length: term < 0 ? -1 : term + 7, status };
}

/**
 * Closed-loop load: `connections` keep-alive sockets, each sending the next request as soon as the previous answer
 * is complete, for `ms`; every latency is recorded in µs (process.hrtime) in an HDR histogram. Raw sockets keep the
 * client's own cost per request small and equal for both servers.
 */
function drive(port: number, request: Buffer, connections: number, ms: number): Promise<Run> {
  const hist = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let requests = 0;
  let errors = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const sock = connect(port, "127.0.0.1");
      sock.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let t0 = 0n;
      const send = (): void => {
        if (process.hrtime.bigint() >= deadline) {
          sock.end();
          resolve();
          return;
        }
        t0 = process.hrtime.bigint();
        sock.write(request);
      };
      sock.on("connect", send);
      sock.on("data", (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        const { length, status } = responseLength(buf);
        if (length < 0) return;
        hist.recordValue(Number((process.hrtime.bigint() - t0) / 1000n));
        requests++;
        if (status !== 200) errors++;
        buf = buf.subarray(length);
        send();
      });
      sock.on("error", () => {
        errors++;
        resolve();
      });
      sock.on("close", () => resolve());
    });
  return Promise.all(Array.from({ length: connections }, one)).then(() => ({
    hist,
    requests,
    errors,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  }));
}

/** The figures of one run (µs, req/s). */
interface Figures {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly rps: number;
  readonly errors: number;
  readonly requests: number;
}

async function measure(port: number, request: Buffer, connections: number): Promise<Figures> {
  await drive(port, request, connections, 500); // warm-up
  const r = await drive(port, request, connections, SECONDS * 1000);
  const f: Figures = {
    p50: r.hist.getValueAtPercentile(50),
    p90: r.hist.getValueAtPercentile(90),
    p99: r.hist.getValueAtPercentile(99),
    p999: r.hist.getValueAtPercentile(99.9),
    rps: r.requests / r.seconds,
    errors: r.errors,
    requests: r.requests,
  };
  r.hist.destroy();
  return f;
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (v: readonly number[], digits = 0): string =>
  `${median(v).toFixed(digits)} (${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)})`;

/** The server's own stage timings (the `timings` of its answers) over `n` sequential requests: medians in µs. */
async function serverStages(url: string, input: { body: Buffer; type: string }, n: number): Promise<string> {
  const acc: Record<string, number[]> = {};
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, {
      method: "POST",
      body: input.body,
      headers: { "x-api-key": KEY, "content-type": input.type },
    });
    const t = ((await r.json()) as { timings?: Record<string, number> }).timings ?? {};
    for (const [k, v] of Object.entries(t)) (acc[k] ??= []).push(k.endsWith("Ms") ? v * 1000 : v);
  }
  return Object.entries(acc)
    .filter(([k]) => k.endsWith("Ms"))
    .map(([k, v]) => `${k.replace(/Ms$/, "")} ${median(v).toFixed(0)}`)
    .join(", ");
}

async function agreement(
  ours: string,
  theirs: string,
  input: { body: Buffer; type: string },
): Promise<string> {
  const a = (await (
    await fetch(ours, {
      method: "POST",
      body: input.body,
      headers: { "x-api-key": KEY, "content-type": input.type },
    })
  ).json()) as { probabilities: Record<string, number> };
  const b = (await (
    await fetch(theirs, { method: "POST", body: input.body, headers: { "content-type": input.type } })
  ).json()) as { probabilities: Record<string, number> };
  if (!a.probabilities || !b.probabilities)
    throw new Error(`no probabilities: ours ${JSON.stringify(a)}, peer ${JSON.stringify(b)}`);
  const diff = Math.max(
    ...Object.keys(a.probabilities).map((k) =>
      Math.abs((a.probabilities[k] ?? 0) - (b.probabilities[k] ?? 0)),
    ),
  );
  return `${diff.toExponential(2)} (${JSON.stringify(a.probabilities)})`;
}

async function main(): Promise<void> {
  if (!existsSync(join(DEFAULT_MODEL_DIR, "radiolens.json"))) {
    process.stderr.write("The bundled model is missing: run `npm run build:model` first.\n");
    process.exitCode = 2;
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "rl-bench-serve-"));
  const inputs = benchInputs();
  const children: ChildProcess[] = [];
  const began = Date.now();
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
    const stages: string[] = [];
    let errors = 0;
    for (const backend of BACKENDS) {
      const node = await startOurs(work, backend);
      children.push(node.child);
      const path = "/v1/models/default/predict?force=true";
      const ours = `http://127.0.0.1:${node.port}${path}`;
      for (const name of INPUTS) {
        const input = inputs[name];
        if (!input) throw new Error(`unknown input '${name}' (png, jpeg, dicom)`);
        // Same architecture and weights: the two must agree before their speed is compared.
        process.stdout.write(
          `${backend} ${name}: max |p_radiolens - p_torch| = ${await agreement(ours, theirs, input)}\n`,
        );
        const reqOurs = rawRequest(node.port, path, input.body, {
          "X-API-Key": KEY,
          "Content-Type": input.type,
        });
        const reqPeer = rawRequest(peerPort, "/predict", input.body, { "Content-Type": input.type });
        for (const c of CONCURRENCY) {
          const a: Figures[] = [];
          const b: Figures[] = [];
          // Alternated: ours first in even rounds, the peer first in odd ones, so drifting load hits both alike.
          for (let round = 0; round < ROUNDS; round++) {
            if (round % 2 === 0) {
              a.push(await measure(node.port, reqOurs, c));
              b.push(await measure(peerPort, reqPeer, c));
            } else {
              b.push(await measure(peerPort, reqPeer, c));
              a.push(await measure(node.port, reqOurs, c));
            }
          }
          const e = (f: Figures[]): number => f.reduce((s, x) => s + x.errors, 0);
          const n = (f: Figures[]): number => f.reduce((s, x) => s + x.requests, 0);
          errors += e(a) + e(b);
          const col = (f: Figures[], k: keyof Figures): number[] => f.map((x) => x[k]);
          const ratio = (k: keyof Figures): number[] => a.map((x, i) => x[k] / (b[i] as Figures)[k]);
          rows.push(
            `| ${backend} | ${name} | ${c} | ${fmt(col(a, "p50"))} | ${fmt(col(b, "p50"))} | ${fmt(col(a, "p90"))} | ${fmt(col(b, "p90"))} | ${fmt(col(a, "p99"))} | ${fmt(col(b, "p99"))} | ${fmt(col(a, "p999"))} | ${fmt(col(b, "p999"))} | ${fmt(col(a, "rps"))} | ${fmt(col(b, "rps"))} | ${fmt(ratio("rps"), 2)}× | ${e(a)}/${n(a)}, ${e(b)}/${n(b)} |`,
          );
          process.stdout.write(`${rows.at(-1)}\n`);
        }
        stages.push(`| ${backend} | ${name} | ${await serverStages(ours, input, QUICK ? 50 : 300)} |`);
      }
      node.child.kill("SIGTERM");
    }
    process.stdout.write(
      `\nPredict over loopback, closed loop; ${ROUNDS} round(s) per cell alternating RadioLens and FastAPI+PyTorch, ${SECONDS} s each after 0.5 s warm-up; latencies in µs, median (range) over the rounds\n` +
        "| runtime | input | conc. | ours p50 | peer p50 | ours p90 | peer p90 | ours p99 | peer p99 | ours p99.9 | peer p99.9 | ours req/s | peer req/s | req/s ours/peer | errors (ours, peer) |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" +
        `${rows.join("\n")}\n\n` +
        "RadioLens' own stage timings (µs, medians of sequential requests, from its answers)\n" +
        "| runtime | input | stages |\n|---|---|---|\n" +
        `${stages.join("\n")}\n\nwall time ${((Date.now() - began) / 1000).toFixed(0)} s\n`,
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
