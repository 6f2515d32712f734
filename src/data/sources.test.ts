/** Sources: MedMNIST .npz (real PneumoniaMNIST), verified downloads from a local HTTP server, folders and manifests. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PNG } from "pngjs";
import { sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { labelCounts } from "./balance.js";
import { parseCsv } from "./csv.js";
import { downloadFile, downloadMedmnist, md5File } from "./download.js";
import { folderSource, readManifest } from "./files.js";
import { DataLoader } from "./loader.js";
import { openMedmnist } from "./medmnist.js";
import { MEDMNIST } from "./medmnist-catalogue.js";

const NPZ = sharedData("medmnist/pneumoniamnist.npz");

describe("MedMNIST npz source", () => {
  test("PneumoniaMNIST splits, class counts and pixels match the release", async () => {
    const train = openMedmnist(NPZ, "train");
    const val = openMedmnist(NPZ, "val");
    const testSplit = openMedmnist(NPZ, "test");
    assert.deepEqual([train.size, val.size, testSplit.size], [4708, 524, 624]);
    assert.deepEqual(train.task, { type: "binary", classNames: ["normal", "pneumonia"] });
    const counts = (s: typeof train) =>
      Array.from(
        labelCounts(
          Array.from({ length: s.size }, (_, i) => s.label(i)),
          2,
        ),
      );
    assert.deepEqual(counts(train), [1214, 3494]);
    assert.deepEqual(counts(val), [135, 389]);
    assert.deepEqual(counts(testSplit), [234, 390]);
    const s = await train.load(17);
    assert.deepEqual(s.image.shape, [28, 28, 1]);
    assert.ok(s.image.data instanceof Uint8Array);
    assert.ok(Math.max(...s.image.data) > 100, "real pixels, not zeros");
    const batches = new DataLoader(testSplit, { batchSize: 256, seed: 1 });
    let n = 0;
    for await (const b of batches.epoch()) n += b.xShape[0] as number;
    assert.equal(n, 624);
  });

  test("a missing split names the keys present", () => {
    assert.throws(
      () => openMedmnist(NPZ, "tran" as "train"),
      (e) => isRadioLensError(e, "RL_ERR_NPZ_MISSING_KEY") && e.message.includes("train_images"),
    );
  });
});

describe("verified download (local HTTP server)", () => {
  const good = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 255));
  const goodMd5 = createHash("md5").update(good).digest("hex");
  let server: Server;
  let base = "";
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "rl-dl-"));
    server = createServer((req, res) => {
      const url = req.url ?? "";
      if (url.startsWith("/files/pneumoniamnist.npz") || url === "/good.bin") {
        res.writeHead(200, { "content-length": good.length });
        res.end(good);
      } else if (url === "/tampered.bin") {
        const bad = Buffer.from(good);
        bad[1000] = (bad[1000] as number) ^ 1;
        res.writeHead(200, { "content-length": bad.length });
        res.end(bad);
      } else if (url === "/truncated.bin") {
        res.writeHead(200, { "content-length": good.length });
        res.write(good.subarray(0, 50_000), () => res.destroy());
      } else if (url === "/redirect") {
        res.writeHead(302, { location: "/good.bin" });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const listing = () => readdirSync(dir).sort();

  test("a matching MD5 is written atomically (redirects followed)", async () => {
    const dest = join(dir, "ok.bin");
    await downloadFile(`${base}/redirect`, dest, { md5: goodMd5 });
    assert.ok(readFileSync(dest).equals(good));
    assert.equal(await md5File(dest), goodMd5);
    assert.deepEqual(listing(), ["ok.bin"]);
    rmSync(dest);
  });

  test("an MD5 mismatch is refused and leaves nothing, and keeps a previous file intact", async () => {
    const dest = join(dir, "data.npz");
    await assert.rejects(downloadFile(`${base}/tampered.bin`, dest, { md5: goodMd5 }), (e) => {
      assert.ok(isRadioLensError(e, "RL_ERR_DOWNLOAD_CHECKSUM"));
      assert.ok(e.message.includes(goodMd5) && e.message.includes("nothing was written"));
      return true;
    });
    assert.deepEqual(listing(), []);
    writeFileSync(dest, "previous");
    await assert.rejects(downloadFile(`${base}/tampered.bin`, dest, { md5: goodMd5 }));
    assert.equal(readFileSync(dest, "utf8"), "previous");
    assert.deepEqual(listing(), ["data.npz"]);
    rmSync(dest);
  });

  test("a broken transfer and an HTTP error leave nothing", async () => {
    const dest = join(dir, "t.bin");
    await assert.rejects(downloadFile(`${base}/truncated.bin`, dest, { md5: goodMd5 }), (e) =>
      isRadioLensError(e, "RL_ERR_DOWNLOAD"),
    );
    await assert.rejects(
      downloadFile(`${base}/missing.bin`, dest, { md5: goodMd5 }),
      (e) => isRadioLensError(e, "RL_ERR_DOWNLOAD") && e.message.includes("404"),
    );
    assert.deepEqual(listing(), []);
  });

  test("downloadMedmnist checks the release MD5 from the catalogue", async () => {
    assert.equal(MEDMNIST["pneumoniamnist"]?.md5, "28209eda62fecd6e6a2d98b1501bb15f");
    // The local server's file is not the release, so the catalogue MD5 refuses it.
    await assert.rejects(downloadMedmnist("pneumoniamnist", dir, { baseUrl: `${base}/files` }), (e) =>
      isRadioLensError(e, "RL_ERR_DOWNLOAD_CHECKSUM"),
    );
    assert.deepEqual(listing(), []);
    await assert.rejects(downloadMedmnist("nosuchmnist", dir), (e) => isRadioLensError(e, "RL_ERR_USAGE"));
  });
});

function png(path: string, value: number, size = 4): void {
  const p = new PNG({ width: size, height: size, colorType: 0, inputColorType: 0, bitDepth: 8 });
  p.data = Buffer.alloc(size * size, value);
  writeFileSync(path, PNG.sync.write(p, { colorType: 0, inputColorType: 0 }));
}

describe("folder and manifest sources", () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rl-files-"));
    for (const [cls, files] of [
      ["normal", ["P1_a.png", "P1_b.png", "P2_a.png"]],
      ["pneumonia", ["P3_a.png", "sub/P4_a.png"]],
    ] as const) {
      for (const f of files) {
        mkdirSync(join(dir, cls, f, ".."), { recursive: true });
        png(join(dir, cls, f), cls === "normal" ? 10 : 200);
      }
    }
    writeFileSync(join(dir, "normal", "notes.txt"), "not an image");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("folder per class: sorted classes, nested files, patient ids from names, lazy PNG reads", async () => {
    const src = folderSource(dir, { patientPattern: /(P\d+)_/ });
    assert.deepEqual(src.task, { type: "binary", classNames: ["normal", "pneumonia"] });
    assert.equal(src.size, 5);
    assert.deepEqual(
      Array.from({ length: 5 }, (_, i) => [src.label(i), src.group(i)]),
      [
        [0, "P1"],
        [0, "P1"],
        [0, "P2"],
        [1, "P3"],
        [1, "P4"],
      ],
    );
    const s = await src.load(4);
    assert.deepEqual(s.image.shape, [4, 4, 1]);
    assert.equal(s.image.data[0], 200);
  });

  test("manifest: relative paths, multi-label via '|' and via 0/1 columns with uncertain cells, tabular columns", async () => {
    const csv = join(dir, "m.csv");
    writeFileSync(
      csv,
      [
        "path,label,age,sex_f,effusion,edema",
        'normal/P1_a.png,"effusion|edema",63,1,1,',
        "pneumonia/P3_a.png,edema,41,0,0,-1",
      ].join("\r\n"),
    );
    const a = readManifest(csv, { tabularColumns: ["age", "sex_f"] });
    assert.deepEqual(a.source.task, { type: "multilabel", classNames: ["edema", "effusion"] });
    assert.deepEqual(a.source.label(0), [1, 1]);
    assert.deepEqual(a.source.label(1), [1, 0]);
    assert.equal(a.patientColumn, undefined);
    const s = await a.source.load(1);
    assert.equal(s.image.data[0], 200);
    assert.deepEqual(Array.from(s.tabular ?? []), [41, 0]);
    const b = readManifest(csv, { labelColumns: ["effusion", "edema"], uncertain: 1 });
    assert.deepEqual(
      [b.source.label(0), b.source.label(1)],
      [
        [1, 1],
        [0, 1],
      ],
    );
    const batch = await new DataLoader(b.source, { batchSize: 2, seed: 1, shuffle: false }).epoch().next();
    assert.deepEqual(batch.value && Array.from(batch.value.y), [1, 1, 0, 1]);
    writeFileSync(csv, "path,label\nx.png,a\ny.png,b\nz.png,c\n");
    assert.equal(readManifest(csv).source.task.type, "multiclass");
    assert.throws(() => readManifest(csv, { classNames: ["a", "b"] }), /label 'c' is not one of a, b/);
    assert.throws(() => readManifest(csv, { labelColumns: ["finding"] }), /no column 'finding'/);
  });

  test("CSV: quotes, doubled quotes, CRLF, BOM, ragged rows refused with the line", () => {
    const t = parseCsv('\ufeffa,b\r\n"x, ""y""",2\r\n"multi\nline",3\n');
    assert.deepEqual(t.columns, ["a", "b"]);
    assert.deepEqual(t.rows, [
      { a: 'x, "y"', b: "2" },
      { a: "multi\nline", b: "3" },
    ]);
    assert.throws(() => parseCsv("a,b\n1,2\n3\n", "m.csv"), /m.csv line 3 has 1 fields/);
  });
});
