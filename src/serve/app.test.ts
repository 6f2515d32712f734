/** buildApp end to end with app.inject(): predict, auth on every route, audit, STOW/QIDO/WADO, limits, log hygiene. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { withNewUids, writeTestBundle } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { createImage } from "../core/image.js";
import { initEngine, tf } from "../engine/backend.js";
import { encodePng } from "../io/image/png.js";
import { exportBundleOnnx } from "../models/onnx/bundle-runtime.js";
import { buildApp } from "./app.js";
import { signJwt } from "./auth.js";
import { buildMultipart, parseMultipart } from "./multipart.js";

const KEYS = {
  viewer: "viewer-key-0123456789",
  clinician: "clinician-key-0123456789",
  admin: "admin-key-0123456789",
} as const;
const SECRET = "jwt-secret-for-tests-0123456789abcdef";
const work = mkdtempSync(join(tmpdir(), "rl-serve-"));
const modelDir = join(work, "model");
let app: FastifyInstance;
const logs = new PassThrough();
let logText = "";
logs.on("data", (c: Buffer) => {
  logText += c.toString("utf8");
});

const CT = sharedData("dicom/pydicom/CT_small.dcm");
const MR = sharedData("dicom/pydicom/MR_small.dcm");

function png(): Buffer {
  const data = new Uint8Array(64 * 64);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
  return Buffer.from(encodePng(createImage(data, [64, 64, 1])));
}

async function make(extra: Partial<Parameters<typeof buildApp>[0]> = {}): Promise<FastifyInstance> {
  return buildApp({
    models: [{ dir: modelDir, id: "default" }],
    dataDir: join(work, `data-${Math.random().toString(36).slice(2)}`),
    auth: {
      apiKeys: [
        { id: "v1", role: "viewer", key: KEYS.viewer },
        { id: "c1", role: "clinician", key: KEYS.clinician },
        { id: "a1", role: "admin", key: KEYS.admin },
      ],
      jwtSecret: SECRET,
    },
    log: { level: "info", stream: logs },
    ...extra,
  });
}

before(async () => {
  await initEngine({ backend: "wasm" });
  await writeTestBundle(modelDir);
  app = await make();
  await app.ready();
});

after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

test("predict accepts PNG, JPEG-less octet-stream, DICOM and multipart, and frees its tensors", async () => {
  const before = tf.memory().numTensors;
  const h = { "x-api-key": KEYS.clinician };
  const a = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict",
    headers: { ...h, "content-type": "image/png" },
    payload: png(),
  });
  assert.equal(a.statusCode, 200, a.body);
  const pa = a.json();
  assert.deepEqual(Object.keys(pa.probabilities), ["normal", "pneumonia"]);
  const sum = (pa.probabilities.normal as number) + (pa.probabilities.pneumonia as number);
  assert.ok(Math.abs(sum - 1) < 1e-5, `softmax sums to ${sum}`);
  assert.equal(pa.model.version, "0.0.1-test");
  assert.equal(pa.input.format, "png");
  assert.equal(a.headers["cache-control"], "no-store", "results are never cached");
  assert.equal(a.headers["x-content-type-options"], "nosniff");
  assert.ok(pa.timings.totalMs >= pa.timings.inferenceMs);

  const d = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict",
    headers: { ...h, "content-type": "application/dicom" },
    payload: readFileSync(CT),
  });
  assert.equal(d.statusCode, 200, d.body);
  assert.equal(d.json().input.format, "dicom");
  assert.equal(d.json().input.rows, 128);

  const form = buildMultipart([png()], "image/png", "xyz");
  const formBody = Buffer.from(
    form.body
      .toString("latin1")
      .replace(
        "Content-Type: image/png",
        'Content-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png',
      ),
    "latin1",
  );
  const m = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict",
    headers: { ...h, "content-type": "multipart/form-data; boundary=xyz" },
    payload: formBody,
  });
  assert.equal(m.statusCode, 200, m.body);
  assert.deepEqual(m.json().probabilities, pa.probabilities, "same image, same answer through the form");
  assert.equal(tf.memory().numTensors, before);
});

test("concurrent predictions each get their own answer, the same as alone", async () => {
  const imgs = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => {
    const data = new Uint8Array(28 * 28).fill(k * 30);
    return Buffer.from(encodePng(createImage(data, [28, 28, 1])));
  });
  const one = async (b: Buffer): Promise<Record<string, number>> => {
    const r = await app.inject({
      method: "POST",
      url: "/v1/models/default/predict",
      headers: { "x-api-key": KEYS.clinician, "content-type": "image/png" },
      payload: b,
    });
    assert.equal(r.statusCode, 200, r.body);
    return r.json().probabilities;
  };
  const together = await Promise.all(imgs.map(one));
  const alone: Record<string, number>[] = [];
  for (const b of imgs) alone.push(await one(b));
  together.forEach((p, i) => {
    for (const k of Object.keys(p)) assert.ok(Math.abs((p[k] as number) - (alone[i]?.[k] as number)) < 1e-5);
  });
  const metrics = await app.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": KEYS.admin } });
  const count = /radiolens_batch_size_count\{model="default"\} (\d+)/.exec(metrics.body);
  assert.ok(count && Number(count[1]) > 0, "batch sizes are exported");
});

test("every route: 401 without credentials, 403 with a role below the one it declares; /healthz is open", async () => {
  const routes = app.radiolens.routes;
  assert.ok(routes.length >= 18, `routes: ${routes.length}`);
  const fill = (url: string): string =>
    url.replace(/:study|:series|:instance|:sopInstanceUid/g, "1.2.3").replace(":id", "default");
  const below: Record<string, string> = { admin: KEYS.clinician, clinician: KEYS.viewer };
  const guest = signJwt({ sub: "guest-user", role: "guest" }, SECRET);
  for (const r of routes) {
    const url = fill(r.url);
    const open = await app.inject({ method: r.method as "GET", url });
    if (r.url === "/healthz") {
      assert.equal(r.auth, "public");
      assert.equal(open.statusCode, 200);
      continue;
    }
    assert.ok(r.auth && r.auth !== "public", `${r.method} ${r.url} declares a role`);
    assert.equal(open.statusCode, 401, `${r.method} ${r.url} without credentials`);
    assert.equal(open.json().error.code, "RL_ERR_AUTH");
    const wrongKey = await app.inject({
      method: r.method as "GET",
      url,
      headers: { "x-api-key": "not-a-valid-key-123456" },
    });
    assert.equal(wrongKey.statusCode, 401, `${r.method} ${r.url} with a wrong key`);
    const cred = below[r.auth as string];
    const wrong = await app.inject({
      method: r.method as "GET",
      url,
      headers: cred ? { "x-api-key": cred } : { authorization: `Bearer ${guest}` },
    });
    assert.equal(wrong.statusCode, 403, `${r.method} ${r.url} with a lower role`);
    assert.equal(wrong.json().error.code, "RL_ERR_FORBIDDEN");
  }
  const unknown = await app.inject({ method: "GET", url: "/no/such/route" });
  assert.equal(unknown.statusCode, 401, "unknown URLs are not a way around authentication");
});

test("JWTs: a valid HS256 token works; expired, alg=none and wrongly signed tokens are refused", async () => {
  const ok = signJwt({ sub: "dr-a", role: "viewer" }, SECRET);
  assert.equal(
    (await app.inject({ url: "/v1/models", headers: { authorization: `Bearer ${ok}` } })).statusCode,
    200,
  );
  const expired = signJwt({ sub: "dr-a", role: "viewer" }, SECRET, 60, Math.floor(Date.now() / 1000) - 3600);
  const forged = signJwt({ sub: "dr-a", role: "admin" }, "another-secret-0123456789abcdefghij");
  const [, body] = ok.split(".");
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${body}.`;
  for (const t of [expired, forged, none]) {
    const r = await app.inject({ url: "/v1/models", headers: { authorization: `Bearer ${t}` } });
    assert.equal(r.statusCode, 401);
  }
});

test("STOW-RS of the CT and MR files → analysed once each, SR stored, QIDO and WADO serve both, logs hold no identifiers", async () => {
  const files = [CT, MR].map((f) => new Uint8Array(readFileSync(f)));
  const { body, contentType } = buildMultipart(files, "application/dicom");
  const r = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
    payload: body,
  });
  assert.equal(r.statusCode, 200, r.body);
  const stored = r.json()["00081199"].Value as Record<string, { Value: string[] }>[];
  assert.equal(stored.length, 2);
  const uids = stored.map((s) => s["00081155"]?.Value[0] as string);

  // The worker analyses them; bounded wait.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await app.radiolens.repo.countPredictions()) < 2)
    await new Promise((res) => setTimeout(res, 50));
  for (const uid of uids) {
    const p = await app.inject({ url: `/v1/predictions/${uid}`, headers: { "x-api-key": KEYS.viewer } });
    assert.equal(p.statusCode, 200);
    const preds = p.json().predictions;
    assert.equal(preds.length, 1, "analysed exactly once");
    assert.ok(preds[0].resultSopInstanceUid, "an SR was written");
  }
  // Storing the same instances again is idempotent: no new job.
  const again = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
    payload: body,
  });
  assert.equal(again.statusCode, 200);
  assert.equal((await app.radiolens.repo.listJobs(100)).length, 2);

  const ctStudy = stored[0]?.["00081190"]?.Value[0]?.split("/studies/")[1]?.split("/")[0] as string;
  const q = await app.inject({
    url: `/dicomweb/studies?StudyInstanceUID=${ctStudy}`,
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.equal(q.statusCode, 200);
  const study = q.json()[0];
  assert.deepEqual(
    [...study["00080061"].Value].sort(),
    ["CT", "OT", "SR"],
    "the SR and the heatmap Secondary Capture sit in the source study",
  );

  const series = await app.inject({
    url: `/dicomweb/studies/${ctStudy}/series`,
    headers: { "x-api-key": KEYS.viewer },
  });
  const srSeries = series
    .json()
    .find((s: Record<string, { Value: string[] }>) => s["00080060"]?.Value[0] === "SR");
  const srUid = srSeries["0020000E"].Value[0] as string;
  const inst = await app.inject({
    url: `/dicomweb/studies/${ctStudy}/series/${srUid}/instances`,
    headers: { "x-api-key": KEYS.viewer },
  });
  const srSop = inst.json()[0]["00080018"].Value[0] as string;
  const w = await app.inject({
    url: `/dicomweb/studies/${ctStudy}/series/${srUid}/instances/${srSop}`,
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.equal(w.statusCode, 200);
  const boundary = /boundary=([^;]+)/.exec(w.headers["content-type"] as string)?.[1] as string;
  const [part] = parseMultipart(w.rawPayload, boundary);
  assert.ok(part);
  const srPath = join(work, "sr.dcm");
  writeFileSync(srPath, part.body);
  const dump = execFileSync("dsrdump", ["-Ee", "+Pl", srPath], { encoding: "utf8" });
  assert.match(dump, /Comprehensive SR/);
  assert.match(dump, /Model output .pneumonia.: probability 0\.\d{4}/);
  assert.match(dump, /Algorithm Version"\)="0\.0\.1-test"/);

  const ctUid = uids[0] as string;
  const ctSeries = (
    await app.inject({
      url: `/dicomweb/instances?SOPInstanceUID=${ctUid}`,
      headers: { "x-api-key": KEYS.viewer },
    })
  ).json()[0]["0020000E"].Value[0];
  const wc = await app.inject({
    url: `/dicomweb/studies/${ctStudy}/series/${ctSeries}/instances/${ctUid}`,
    headers: { "x-api-key": KEYS.viewer },
  });
  const [ctPart] = parseMultipart(
    wc.rawPayload,
    /boundary=([^;]+)/.exec(wc.headers["content-type"] as string)?.[1] as string,
  );
  assert.deepEqual(new Uint8Array(ctPart?.body ?? []), files[0], "WADO returns the bytes received");
  const received = await app.inject({
    url: "/dicomweb/instances?origin=received",
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.deepEqual(
    received
      .json()
      .map((x: Record<string, { Value: string[] }>) => x["00080060"]?.Value[0])
      .sort(),
    ["CT", "MR"],
    "origin=received lists what was sent, not the results",
  );
  const rendered = await app.inject({
    url: `/dicomweb/studies/${ctStudy}/series/${ctSeries}/instances/${ctUid}/rendered`,
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.equal(rendered.headers["content-type"], "image/png");

  // No file name is a UID; the patient's identifiers never reach the log.
  const names = readdirSync(join(app.radiolens.store.root), { recursive: true }).map(String);
  assert.ok(names.every((n) => !n.includes(ctUid)));
  const patient = (
    await app.inject({ url: "/dicomweb/studies", headers: { "x-api-key": KEYS.viewer } })
  ).json();
  for (const s of patient) {
    for (const v of [
      s["00100020"]?.Value?.[0],
      s["00100010"]?.Value?.[0]?.Alphabetic,
      s["0020000D"]?.Value?.[0],
    ]) {
      if (typeof v === "string" && v.length > 2)
        assert.ok(!logText.includes(v), "log holds a patient attribute");
    }
  }
  assert.ok(logText.includes('"route":"/dicomweb/studies"'), "requests are logged by route pattern");
});

test("malformed DICOM → 4xx with the DicomError code and nothing written", async () => {
  const bytes = new Uint8Array(readFileSync(MR));
  const truncated = bytes.subarray(0, 900);
  const before = readdirSync(app.radiolens.store.root, { recursive: true }).length;
  const p = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict",
    headers: { "x-api-key": KEYS.clinician, "content-type": "application/dicom" },
    payload: Buffer.from(truncated),
  });
  assert.equal(p.statusCode, 422);
  assert.match(p.json().error.code, /^DICOM_/);
  const { body, contentType } = buildMultipart([truncated], "application/dicom");
  const s = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
    payload: body,
  });
  assert.equal(s.statusCode, 409);
  assert.match(s.headers["warning"] as string, /DICOM_[A-Z_]+/);
  assert.equal(
    readdirSync(app.radiolens.store.root, { recursive: true }).length,
    before,
    "nothing half-written",
  );
  const dup = withNewUids(bytes, { SOPInstanceUID: "1.2.3.4.5.6.7" });
  const dup2 = withNewUids(bytes, { SOPInstanceUID: "1.2.3.4.5.6.7" });
  const mp = buildMultipart([dup, dup2], "application/dicom");
  const d = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": mp.contentType },
    payload: mp.body,
  });
  assert.equal(d.statusCode, 200, "the same UID with other bytes is a new version");
  const versions = (await app.radiolens.repo.listJobs(1000)).filter(
    (j) => j.sopInstanceUid === "1.2.3.4.5.6.7",
  );
  assert.equal(versions.length, 2, "each version is analysed once");
});

test("STOW-RS stores an instance with zero padding after its last element and audits the warning", async () => {
  const padded = Buffer.concat([
    Buffer.from(withNewUids(readFileSync(CT), { SOPInstanceUID: "1.2.3.4.5.6.8" })),
    Buffer.alloc(1000),
  ]);
  const { body, contentType } = buildMultipart([new Uint8Array(padded)], "application/dicom");
  const s = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
    payload: body,
  });
  assert.equal(s.statusCode, 200, s.body);
  const jobs = (await app.radiolens.repo.listJobs(1000)).filter((j) => j.sopInstanceUid === "1.2.3.4.5.6.8");
  assert.equal(jobs.length, 1, "stored and queued for analysis");
  const stored = (await app.radiolens.repo.listAudit(10_000, "110104")).filter((r) =>
    r.detail.includes("DICOM_TRAILING_PADDING"),
  );
  assert.equal(stored.length, 1);
  assert.match(
    stored[0]?.detail ?? "",
    /^stored; warnings: DICOM_TRAILING_PADDING: 1000 byte\(s\) of zero padding/,
  );
  assert.equal(stored[0]?.outcome, 0);
});

test("audit: one record per store, predict, access and failed authentication, with PS3.15 event IDs", async () => {
  const r = await app.inject({ url: "/v1/audit?limit=10000", headers: { "x-api-key": KEYS.admin } });
  assert.equal(r.statusCode, 200);
  const recs = r.json().records as { eventId: string; outcome: number; user: string; object: string }[];
  const by = (id: string): typeof recs => recs.filter((x) => x.eventId === id);
  assert.ok(by("110114").length > 0, "failed authentications");
  assert.ok(by("110114").every((x) => x.outcome === 4 && x.user === "anonymous"));
  assert.ok(by("110113").length > 0, "forbidden attempts");
  assert.ok(
    by("110104").some((x) => x.outcome === 0),
    "stores",
  );
  assert.ok(
    by("110104").some((x) => x.outcome === 4),
    "refused stores",
  );
  assert.ok(
    by("110103").some((x) => x.object.startsWith("predict:default:")),
    "predictions",
  );
  assert.ok(by("110112").length > 0, "queries");
  assert.ok(
    recs.every((x) => !/\d+\.\d+\.\d+\.\d+\.\d+/.test(x.object)),
    "no UID as the audited object",
  );
});

test("a 100 MB upload is refused with 413 while streaming, without the server's memory growing", async (t) => {
  await app.listen({ port: 0, host: "127.0.0.1" });
  const port = (app.server.address() as { port: number }).port;
  const total = 100 * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/v1/models/default/predict",
      headers: { "x-api-key": KEYS.clinician, "content-type": "image/png", "content-length": total },
    });
    let sent = 0;
    let done = false;
    req.on("response", (res) => {
      done = true;
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", (e) => (done ? undefined : reject(e)));
    const pump = (): void => {
      while (!done && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      if (!done) req.end();
    };
    pump();
  });
  const grew = process.memoryUsage().rss - rss0;
  assert.equal(status, 413);
  assert.ok(grew < 40 * 1024 * 1024, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB`);
  t.diagnostic(`RSS change during the refused 100 MB upload: ${(grew / 1048576).toFixed(1)} MiB`);
});

test("rate limit: the limit answers 429 with the catalogue code", async () => {
  const small = await make({ limits: { rateMax: 3, rateWindowMs: 60_000 } });
  try {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await small.inject({ url: "/healthz" })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    const r = await small.inject({ url: "/healthz" });
    assert.equal(r.json().error.code, "RL_ERR_RATE_LIMITED");
  } finally {
    await small.close();
  }
});

test("explain=gradcam adds the Grad-CAM map and its PNG on the image grid; OpenAPI lists every route", async () => {
  const before = tf.memory().numTensors;
  const r = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict?explain=gradcam",
    headers: { "x-api-key": KEYS.clinician, "content-type": "image/png" },
    payload: png(),
  });
  assert.equal(r.statusCode, 200, r.body);
  const e = r.json().explanation;
  assert.equal(e.method, "gradcam");
  assert.equal(e.values.length, e.rows * e.cols);
  assert.ok(e.values.every((v: number) => v >= 0 && v <= 1));
  assert.equal(e.label, r.json().label.split("|")[0] ?? e.label);
  const heat = Buffer.from(e.heatmapPng, "base64");
  assert.equal(heat.readUInt32BE(16), 64, "heatmap PNG has the image's width");
  assert.equal(tf.memory().numTensors, before);
  const bad = await app.inject({
    method: "POST",
    url: "/v1/models/default/predict?explain=shap",
    headers: { "x-api-key": KEYS.clinician, "content-type": "image/png" },
    payload: png(),
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, "RL_ERR_BAD_REQUEST");
  const doc = (await app.inject({ url: "/openapi.json", headers: { "x-api-key": KEYS.viewer } })).json();
  for (const route of app.radiolens.routes) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    assert.ok(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path} documented`);
  }
  const docs = await app.inject({ url: "/docs", headers: { "x-api-key": KEYS.viewer } });
  assert.match(docs.body, /\/dicomweb\/studies/);
});

test("results are sent after the commit, retried when the destination fails once, and each send audited", async () => {
  const calls: string[] = [];
  const flaky = await make({
    sendResult: async (path) => {
      calls.push(path);
      if (calls.length === 1) throw new Error("connection refused");
      return 0;
    },
  });
  try {
    await flaky.ready();
    const { body, contentType } = buildMultipart([withNewUids(readFileSync(CT))], "application/dicom");
    const r = await flaky.inject({
      method: "POST",
      url: "/dicomweb/studies",
      headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
      payload: body,
    });
    assert.equal(r.statusCode, 200);
    const deadline = Date.now() + 15_000;
    const exports = async (): Promise<number> =>
      (await flaky.radiolens.repo.listAudit(100, "110106")).filter((x) => x.outcome === 0).length;
    while (Date.now() < deadline && (await exports()) < 2) await new Promise((res) => setTimeout(res, 50));
    const recs = await flaky.radiolens.repo.listAudit(100, "110106");
    assert.equal(recs.filter((x) => x.outcome === 0).length, 2, "one successful Export per result object");
    assert.equal(recs.filter((x) => x.outcome === 8).length, 1, "the failed first try is audited too");
    assert.equal(await flaky.radiolens.repo.countSends("pending"), 0, "nothing left in the outbox");
    assert.equal(calls.length, 3, "SR twice (one failure), SC once");
    assert.ok(calls.every((p) => p.startsWith(flaky.radiolens.store.root) && /[0-9a-f]{64}\.dcm$/.test(p)));
  } finally {
    await flaky.close();
  }
});

test("an internal error answers RL_ERR_INTERNAL and logs stack frames, not its message", async () => {
  const [inst] = await app.radiolens.repo.findInstances({ origin: "received", modality: "CT" });
  assert.ok(inst);
  rmSync(app.radiolens.store.pathOf(inst.fileKey));
  const r = await app.inject({
    url: `/dicomweb/studies/${inst.studyInstanceUid}/series/${inst.seriesInstanceUid}/instances/${inst.sopInstanceUid}`,
    headers: { "x-api-key": KEYS.viewer },
  });
  assert.equal(r.statusCode, 500);
  assert.equal(r.json().error.code, "RL_ERR_INTERNAL");
  assert.doesNotMatch(r.body, /ENOENT|instances\//, "no internals in the answer");
  await new Promise((res) => setImmediate(res));
  assert.match(logText, /"msg":"internal error"/);
  assert.doesNotMatch(logText, /ENOENT/, "the error's message (here a path) is not logged");
});

test("a bundle exported to ONNX is served by ONNX Runtime, agrees with tfjs, and keeps Grad-CAM", async () => {
  const onnxDir = join(work, "model-onnx");
  await writeTestBundle(onnxDir);
  await exportBundleOnnx(onnxDir);
  const both = await buildApp({
    models: [
      { dir: onnxDir, id: "onnx" },
      { dir: onnxDir, id: "tfjs", runtime: "tfjs" },
    ],
    dataDir: join(work, "data-onnx"),
    auth: { apiKeys: [{ id: "c1", role: "clinician", key: KEYS.clinician }] },
  });
  try {
    const list = await both.inject({ url: "/v1/models", headers: { "x-api-key": KEYS.clinician } });
    assert.deepEqual(
      list.json().models.map((m: { id: string; runtime: string }) => [m.id, m.runtime]),
      [
        ["onnx", "onnx"],
        ["tfjs", "tfjs"],
      ],
    );
    const ask = (id: string, q = "") =>
      both.inject({
        method: "POST",
        url: `/v1/models/${id}/predict${q}`,
        headers: { "x-api-key": KEYS.clinician, "content-type": "application/dicom" },
        payload: readFileSync(CT),
      });
    const a = (await ask("onnx", "?explain=gradcam")).json();
    const b = (await ask("tfjs")).json();
    assert.equal(a.model.runtime, "onnx");
    for (const k of Object.keys(b.probabilities))
      assert.ok(Math.abs(a.probabilities[k] - b.probabilities[k]) < 1e-4, `${k}: onnx vs tfjs`);
    assert.equal(a.explanation.method, "gradcam", "Grad-CAM from the bundle's tfjs weights");
  } finally {
    await both.close();
  }
});

test("STOW-RS of every CT and MR file of the pydicom set (as curl would send them): all stored, each analysed once", async () => {
  const dir = sharedData("dicom/pydicom");
  const files = readdirSync(dir)
    .filter((f) => /^(CT|MR)_.*\.dcm$/.test(f) && f !== "MR_truncated.dcm")
    .sort();
  assert.ok(files.length >= 9, files.join(", "));
  const fresh = await make();
  try {
    await fresh.ready();
    const { body, contentType } = buildMultipart(
      files.map((f) => new Uint8Array(readFileSync(join(dir, f)))),
      "application/dicom",
    );
    const r = await fresh.inject({
      method: "POST",
      url: "/dicomweb/studies",
      headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
      payload: body,
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json()["00081199"].Value.length, files.length);
    // The MR files are one SOP instance in several encodings: each encoding is a version, analysed once.
    const deadline = Date.now() + 30_000;
    const repo = fresh.radiolens.repo;
    while (Date.now() < deadline && (await repo.countJobs("pending")) + (await repo.countJobs("running")) > 0)
      await new Promise((res) => setTimeout(res, 50));
    const jobs = await repo.listJobs(100);
    assert.equal(jobs.length, files.length);
    assert.deepEqual(
      jobs.filter((j) => j.status !== "done").map((j) => j.error),
      [],
      "every encoding decoded and analysed",
    );
    assert.equal(await repo.countPredictions(), files.length);
  } finally {
    await fresh.close();
  }
});
