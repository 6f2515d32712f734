/** Unit tests of the service's building blocks: multipart, auth, configuration, Part 10 wrapping, the banner, the upload decoder, audit group commit. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeTestBundle } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { RadioLensError } from "../core/errors.js";
import { createImage } from "../core/image.js";
import { initEngine } from "../engine/backend.js";
import { parseDicom } from "../io/dicom/index.js";
import { decodePng, encodePng } from "../io/image/index.js";
import { loadBundle } from "../models/bundle.js";
import { predictImages } from "../models/predict.js";
import { recordAudit, setAuditSiblings } from "./audit.js";
import { authenticate, roleAllows, signJwt, validateAuthConfig } from "./auth.js";
import { decodedPixels } from "./decode.js";
import { createUploadDecoder } from "./decode-pool.js";
import { part10 } from "./dimse.js";
import { InstanceStore } from "./instances.js";
import { buildMultipart, contentTypeParams, parseMultipart } from "./multipart.js";
import { openSqliteRepository, type Repository } from "./repository/sqlite.js";
import { burnBanner, DERIVED_BANNER } from "./secondary-capture.js";
import { MicroBatcher } from "./served-models.js";
import { allOf, loadServeConfig } from "./server.js";

test("multipart: round trip, quoted parameters, truncated bodies refused", () => {
  const a = new Uint8Array([1, 2, 3, 13, 10, 45, 45]);
  const b = new Uint8Array(1000).fill(7);
  const { body, contentType } = buildMultipart([a, b], "application/dicom", "bnd");
  const params = contentTypeParams(contentType);
  assert.deepEqual(params, { type: "application/dicom", boundary: "bnd" });
  const parts = parseMultipart(body, "bnd");
  assert.deepEqual(
    parts.map((p) => Array.from(p.body)),
    [Array.from(a), Array.from(b)],
  );
  assert.equal(parts[0]?.headers["content-type"], "application/dicom");
  assert.throws(
    () => parseMultipart(body.subarray(0, body.length - 20), "bnd"),
    (e: unknown) => e instanceof RadioLensError && e.code === "RL_ERR_BAD_REQUEST",
  );
  assert.throws(() => parseMultipart(body, ""), RadioLensError);
});

test("auth: roles are ordered, unknown roles grant nothing, hashed keys match, bad configurations are refused", () => {
  assert.ok(roleAllows("admin", "viewer"));
  assert.ok(roleAllows("clinician", "clinician"));
  assert.ok(!roleAllows("viewer", "clinician"));
  assert.ok(!roleAllows("root", "viewer"));
  const key = "a-long-enough-api-key-123";
  const hashed = `sha256:${createHash("sha256").update(key).digest("hex")}`;
  const cfg = { apiKeys: [{ id: "k", role: "clinician" as const, key: hashed }] };
  assert.deepEqual(authenticate({ "x-api-key": key }, cfg), { id: "k", role: "clinician", via: "api-key" });
  assert.deepEqual(authenticate({ authorization: `Bearer ${key}` }, cfg)?.id, "k");
  assert.equal(authenticate({ "x-api-key": `${key}x` }, cfg), undefined);
  assert.equal(authenticate({}, cfg), undefined);
  const secret = "s".repeat(32);
  const jwt = signJwt({ sub: "u", role: "viewer", iss: "hospital" }, secret, 60, 1000);
  assert.equal(authenticate({ authorization: `Bearer ${jwt}` }, { jwtSecret: secret }, 1030)?.role, "viewer");
  assert.equal(
    authenticate({ authorization: `Bearer ${jwt}` }, { jwtSecret: secret }, 1061),
    undefined,
    "expired",
  );
  assert.equal(
    authenticate({ authorization: `Bearer ${jwt}` }, { jwtSecret: secret, jwtIssuer: "other" }, 1030),
    undefined,
    "wrong issuer",
  );
  assert.throws(
    () => validateAuthConfig({ apiKeys: [{ id: "x", role: "viewer", key: "short" }] }),
    RadioLensError,
  );
  assert.throws(() => validateAuthConfig({ jwtSecret: "too-short" }), RadioLensError);
});

test("serve configuration: defaults, overrides and a named bad field", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-cfg-"));
  try {
    const d = loadServeConfig();
    assert.equal(d.port, 8080);
    assert.equal(d.dimse.port, 11112);
    assert.equal(d.dimse.aeTitle, "RADIOLENS");
    assert.deepEqual(d.dimse.allowedCallingAeTitles, []);
    const p = join(dir, "serve.json");
    writeFileSync(p, JSON.stringify({ port: 9000, dimse: { allowedCallingAeTitles: ["CT1"] } }));
    const c = loadServeConfig(p, { port: 9100, dimse: { port: 104 } });
    assert.equal(c.port, 9100, "command-line flags win over the file");
    assert.equal(c.dimse.port, 104);
    assert.deepEqual(c.dimse.allowedCallingAeTitles, ["CT1"], "nested settings merge");
    assert.equal(d.store, undefined, "SQLite in dataDir by default");
    writeFileSync(
      p,
      JSON.stringify({
        store: "postgres://rl@db/rl",
        postgres: { leaseMs: 5000 },
        outbox: { maxDelayMs: 30_000 },
      }),
    );
    const pgc = loadServeConfig(p, { store: "postgresql://rl@db2/rl" });
    assert.equal(pgc.store, "postgresql://rl@db2/rl", "--store wins over the file");
    assert.equal(pgc.postgres.leaseMs, 5000);
    assert.equal(pgc.outbox.maxDelayMs, 30_000);
    writeFileSync(p, JSON.stringify({ postgres: { leaseMs: 10 } }));
    assert.throws(
      () => loadServeConfig(p),
      (e: unknown) => e instanceof RadioLensError && /postgres\.leaseMs/.test(e.message),
    );
    writeFileSync(p, JSON.stringify({ auth: { apiKeys: [{ id: "a", role: "root", key: "x".repeat(20) }] } }));
    assert.throws(
      () => loadServeConfig(p),
      (e: unknown) => e instanceof RadioLensError && /auth\.apiKeys\.0\.role/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("part10 wraps a network dataset so that the parser reads it with the negotiated transfer syntax", () => {
  const file = new Uint8Array(readFileSync(sharedData("dicom/pydicom/CT_small.dcm")));
  const parsed = parseDicom(file);
  // The dataset starts after the File Meta group: skip 132 bytes and the group's length.
  const metaLen = parsed.meta.number(0x00020000) as number;
  const datasetStart = 132 + 12 + metaLen;
  const wrapped = part10(
    file.subarray(datasetStart),
    parsed.meta.string("MediaStorageSOPClassUID") as string,
    parsed.meta.string("MediaStorageSOPInstanceUID") as string,
    parsed.transferSyntaxUID,
    "MODALITY",
  );
  const again = parseDicom(wrapped);
  assert.equal(again.transferSyntaxUID, parsed.transferSyntaxUID);
  assert.equal(again.meta.string("SourceApplicationEntityTitle"), "MODALITY");
  assert.equal(again.dataset.string("SOPInstanceUID"), parsed.dataset.string("SOPInstanceUID"));
  assert.deepEqual(again.dataset.get(0x7fe00010)?.value, parsed.dataset.get(0x7fe00010)?.value);
});

test("the DERIVED banner is burned into the top rows only, in white on black, wrapped on narrow images", () => {
  const rows = 64;
  const cols = 300;
  const rgb = new Uint8Array(rows * cols * 3).fill(100);
  burnBanner(rgb, rows, cols, "DERIVED");
  // 6 pixels per glyph column plus margins: 300 / (7 × 6 + 4) → scale 6, a band of 9 × 6 rows.
  const bandRows = 9 * 6;
  const band = rgb.subarray(0, bandRows * cols * 3);
  assert.ok(band.some((v) => v === 255) && band.some((v) => v === 0), "white glyphs on a black band");
  assert.ok(band.every((v) => v === 0 || v === 255));
  assert.ok(
    rgb.subarray(bandRows * cols * 3).every((v) => v === 100),
    "the image below is untouched",
  );
  // 128 pixels hold 20 characters a line: the 41-character banner takes 3 lines of 9 rows, every word whole.
  const small = new Uint8Array(128 * 128 * 3).fill(100);
  burnBanner(small, 128, 128, DERIVED_BANNER);
  assert.ok(small.subarray(0, 27 * 128 * 3).every((v) => v === 0 || v === 255));
  assert.ok(small.subarray(27 * 128 * 3).every((v) => v === 100));
  const litInRows = (y0: number, y1: number): boolean =>
    small.subarray(y0 * 128 * 3, y1 * 128 * 3).some((v) => v === 255);
  assert.ok(litInRows(0, 9) && litInRows(9, 18) && litInRows(18, 27), "three lines of text");
});

test("the micro-batcher runs requests that arrive together as one batch of the real model, answers in order", async () => {
  await initEngine({ backend: "wasm" });
  const dir = mkdtempSync(join(tmpdir(), "rl-batch-"));
  try {
    await writeTestBundle(dir);
    const { model, card } = await loadBundle(dir);
    const sizes: number[] = [];
    const batcher = new MicroBatcher(
      "m",
      (imgs) => {
        sizes.push(imgs.length);
        return predictImages(model, card, imgs);
      },
      { maxBatchSize: 4, maxWaitMs: 0 },
    );
    const imgs = [0, 40, 80, 120, 160, 200].map((v) =>
      createImage(new Uint8Array(28 * 28).fill(v), [28, 28, 1]),
    );
    const together = await Promise.all(imgs.map((im) => batcher.predict(im)));
    assert.deepEqual(sizes, [4, 2], "full batches of maxBatchSize, then the rest");
    const alone = predictImages(model, card, imgs);
    together.forEach((p, i) => {
      for (const k of card.labels)
        assert.ok(Math.abs((p.probabilities[k] as number) - (alone[i]?.probabilities[k] as number)) < 1e-5);
    });
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("leftover temporary files of a crashed write are removed at start; stored files are kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-inst-"));
  const repo = openSqliteRepository(":memory:");
  try {
    const store = new InstanceStore(dir, repo);
    const { record } = await store.put(
      new Uint8Array(readFileSync(sharedData("dicom/pydicom/CT_small.dcm"))),
      ["m"],
    );
    mkdirSync(join(dir, "ab"), { recursive: true });
    writeFileSync(join(dir, "ab", ".0123456789abcdef.tmp"), "partial");
    assert.equal(store.removeTemporaryFiles(), 1);
    assert.equal(store.removeTemporaryFiles(), 0);
    assert.equal(store.read(record).length, record.size, "the stored instance is untouched");
    assert.equal((await repo.listJobs(10)).length, 1, "one job queued for the one model");
  } finally {
    await repo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the upload decoder keeps small images on the event loop and sends large ones to a worker, same pixels", async () => {
  const xray = readFileSync(sharedData("xray/COVID-00003a.jpg")); // 1502×1192: over the inline limit
  const small = encodePng(
    createImage(
      new Uint8Array(224 * 224).map((_, i) => i % 251),
      [224, 224, 1],
    ),
  );
  assert.equal(decodedPixels(small), 224 * 224);
  assert.equal(decodedPixels(xray), 1502 * 1192);
  const dec = createUploadDecoder(1);
  const inlineRef = createUploadDecoder(0);
  try {
    const a = await dec.decode(small, "image/png");
    assert.deepEqual(dec.counts, { inline: 1, pooled: 0 });
    const b = await dec.decode(xray, "image/jpeg");
    assert.deepEqual(dec.counts, { inline: 1, pooled: 1 });
    const ref = await inlineRef.decode(xray, "image/jpeg");
    assert.deepEqual(b.image.shape, [1192, 1502, 1]);
    assert.deepEqual(Buffer.from(b.image.data as Uint8Array), Buffer.from(ref.image.data as Uint8Array));
    assert.deepEqual(Array.from(a.image.data), Array.from(decodePng(small).data));
    // While other requests are in flight, an idle worker takes small images too, sparing the event loop.
    const busy = createUploadDecoder(1, undefined, () => true);
    try {
      await busy.decode(xray, "image/jpeg"); // the worker is up once it has answered
      const c = await busy.decode(small, "image/png");
      assert.deepEqual(busy.counts, { inline: 0, pooled: 2 });
      assert.deepEqual(Array.from(c.image.data), Array.from(a.image.data));
    } finally {
      await busy.close();
    }
    // A damaged large upload fails in the worker with the same catalogue error as inline.
    await assert.rejects(
      dec.decode(xray.subarray(0, xray.length >> 1), "image/jpeg"),
      (e: unknown) => e instanceof RadioLensError && e.code === "RL_ERR_IMAGE_DECODE",
    );
  } finally {
    await dec.close();
  }
});

test("audit records of one event-loop turn commit as one group, in order, and each writer waits for its commit", async () => {
  const repo = openSqliteRepository(":memory:");
  const groups: number[] = [];
  const counted: Repository = {
    ...repo,
    auditMany: (recs) => {
      groups.push(recs.length);
      return repo.auditMany(recs);
    },
  };
  const entry = (i: number) =>
    ({
      event: "instancesAccessed",
      action: "E",
      outcome: 0,
      user: "u",
      role: "clinician",
      source: "s",
      object: `o${i}`,
    }) as const;
  const writes = Array.from({ length: 10 }, (_, i) => recordAudit(counted, entry(i)));
  // Nothing is answered before the group is in the store.
  assert.equal((await repo.listAudit(100)).length, 0);
  await Promise.all(writes);
  assert.equal((await repo.listAudit(100)).length, 10);
  await recordAudit(counted, entry(10));
  assert.deepEqual(groups, [10, 1]);
  assert.deepEqual(
    (await repo.listAudit(100)).map((r) => r.object).reverse(),
    Array.from({ length: 11 }, (_, i) => `o${i}`),
  );
  // With no other request in flight a record commits at once, without waiting for the end of the turn.
  setAuditSiblings(counted, () => false);
  const alone = recordAudit(counted, entry(11));
  assert.equal((await repo.listAudit(100)).length, 12);
  await alone;
  assert.deepEqual(groups, [10, 1, 1]);
  setAuditSiblings(counted, () => true);
  // A group that cannot be written fails every writer in it.
  await repo.close();
  const failed = await Promise.allSettled([recordAudit(counted, entry(12)), recordAudit(counted, entry(13))]);
  assert.deepEqual(
    failed.map((f) => f.status),
    ["rejected", "rejected"],
  );
});

test("serve configuration: result objects per model and a STOW-RS destination; one send to several destinations", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-cfg-"));
  try {
    const p = join(dir, "serve.json");
    writeFileSync(
      p,
      JSON.stringify({
        models: [{ dir: "m", results: ["measurement-report", "parametric-map"] }],
        stow: { url: "http://pacs.example/dicom-web", username: "rl", password: "secret" },
      }),
    );
    const c = loadServeConfig(p);
    assert.deepEqual(c.models[0]?.results, ["measurement-report", "parametric-map"]);
    assert.equal(c.stow?.url, "http://pacs.example/dicom-web");
    writeFileSync(p, JSON.stringify({ models: [{ dir: "m", results: ["burned-in-sr"] }] }));
    assert.throws(
      () => loadServeConfig(p),
      (e: unknown) => e instanceof RadioLensError && /models\.0\.results/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const tried: string[] = [];
  const ok = async (path: string) => {
    tried.push(`ok:${path}`);
    return 0;
  };
  const busy = async (path: string) => {
    tried.push(`busy:${path}`);
    return 0xa700;
  };
  assert.equal(await allOf([ok])("a"), 0);
  assert.equal(await allOf([ok, busy])("b"), 0xa700, "not sent until every destination has it");
  assert.equal(await allOf([ok, ok])("c"), 0);
  assert.deepEqual(tried, ["ok:a", "ok:b", "busy:b", "ok:c", "ok:c"]);
});
