/** DICOMweb conformance: QIDO-RS paging over 1,000 instances returns each exactly once; WADO-RS rendered equals the VOI LUT window of PS3.3 C.11.2.1.2. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { archiveApp } from "../../test/support/archive-app.js";
import { withNewUids } from "../../test/support/serve.js";
import { sharedData } from "../../test/support/shared-data.js";
import { parseDicom, writeDicom } from "../io/dicom/index.js";
import { decodePng } from "../io/image/index.js";
import { newUid } from "../radiology-reports/sr.js";
import { buildMultipart } from "./multipart.js";

const work = mkdtempSync(join(tmpdir(), "rl-dicomweb-"));
const KEY = "admin-key-0123456789";
const CT = sharedData("dicom", "pydicom", "CT_small.dcm");
let app: FastifyInstance;

before(async () => {
  app = await archiveApp(work, KEY);
  await app.ready();
});

after(async () => {
  await app.close();
  rmSync(work, { recursive: true, force: true });
});

async function stow(files: Uint8Array[]): Promise<void> {
  const { body, contentType } = buildMultipart(files, "application/dicom");
  const r = await app.inject({
    method: "POST",
    url: "/dicomweb/studies",
    headers: { "x-api-key": KEY, "content-type": contentType },
    payload: body,
  });
  assert.equal(r.statusCode, 200, r.body);
}

test("QIDO-RS limit/offset paging over 1,000 instances of one series returns each exactly once", async () => {
  const study = newUid();
  const series = newUid();
  const source = new Uint8Array(readFileSync(CT));
  const sent: string[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const files = Array.from({ length: 100 }, () => {
      const sop = newUid();
      sent.push(sop);
      return withNewUids(source, { StudyInstanceUID: study, SeriesInstanceUID: series, SOPInstanceUID: sop });
    });
    await stow(files);
  }
  for (const url of ["/dicomweb/instances", `/dicomweb/studies/${study}/series/${series}/instances`]) {
    const seen: string[] = [];
    for (let offset = 0; ; offset += 97) {
      const r = await app.inject({ url: `${url}?limit=97&offset=${offset}`, headers: { "x-api-key": KEY } });
      assert.equal(r.statusCode, 200, r.body);
      const page = r.json() as Record<string, { Value: string[] }>[];
      if (page.length === 0) break;
      assert.ok(page.length <= 97);
      seen.push(...page.map((p) => p["00080018"]?.Value[0] as string));
    }
    assert.equal(seen.length, 1000, url);
    assert.equal(new Set(seen).size, 1000, `${url}: no instance twice`);
    assert.deepEqual([...seen].sort(), [...sent].sort(), `${url}: every instance`);
  }
});

test("WADO-RS rendered equals the linear VOI LUT window (PS3.3 C.11.2.1.2.1) of the stored values", async () => {
  const parsed = parseDicom(new Uint8Array(readFileSync(CT)));
  const center = 40;
  const width = 350;
  parsed.dataset.setNumbers("WindowCenter", [center], "DS");
  parsed.dataset.setNumbers("WindowWidth", [width], "DS");
  const file = withNewUids(writeDicom(parsed));
  const ds = parseDicom(file).dataset;
  await stow([file]);
  const url = `/dicomweb/studies/${ds.uid("StudyInstanceUID")}/series/${ds.uid("SeriesInstanceUID")}/instances/${ds.uid("SOPInstanceUID")}/rendered`;
  const r = await app.inject({ url, headers: { "x-api-key": KEY } });
  assert.equal(r.statusCode, 200, r.body);
  assert.match(String(r.headers["content-type"]), /^image\/png/);
  const png = decodePng(new Uint8Array(r.rawPayload));
  const rows = ds.number("Rows") as number;
  const cols = ds.number("Columns") as number;
  assert.deepEqual(png.shape.slice(0, 2), [rows, cols]);
  const raw = ds.get("PixelData")?.value as Uint8Array;
  const stored = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const slope = ds.number("RescaleSlope") ?? 1;
  const intercept = ds.number("RescaleIntercept") ?? 0;
  const ch = png.shape[2] ?? 1;
  let worst = 0;
  for (let i = 0; i < rows * cols; i++) {
    const x = (stored[i] as number) * slope + intercept;
    const lo = center - 0.5 - (width - 1) / 2;
    const hi = center - 0.5 + (width - 1) / 2;
    const y = x <= lo ? 0 : x > hi ? 255 : ((x - (center - 0.5)) / (width - 1) + 0.5) * 255;
    worst = Math.max(worst, Math.abs(Number(png.data[i * ch]) - Math.round(y)));
  }
  assert.equal(worst, 0, "every rendered pixel is the windowed stored value");
});
