/** Tests of the PS3.3 pixel pipeline, DICOM → MedicalImage, series → volume, and the info/convert commands. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { runCli } from "../../cli/main.js";
import { decodePng } from "../image/png.js";
import { readNifti } from "../nifti/read.js";
import { DicomDataset, DicomError, parseDicom, readDicomFile, writeDicom } from "./index.js";
import {
  applyModalityLut,
  applyPalette,
  applyVoiLut,
  interleavePlanes,
  invertDisplay,
  maskStoredValues,
  ybrFullToRgb,
} from "./pipeline.js";
import { decodeStoredPixels } from "./pixels.js";
import { seriesToVolume } from "./series.js";
import { dicomToImage } from "./to-image.js";

const work = mkdtempSync(join(tmpdir(), "rl-dicom-pipe-"));
after(() => rmSync(work, { recursive: true, force: true }));

describe("pixel pipeline (PS3.3 C.7.6.3, C.11)", () => {
  it("masks Bits Stored at High Bit and sign-extends (C.7.6.3.1.1)", () => {
    // 12 bits stored in bits 11..0 with garbage in the top nibble.
    assert.deepEqual(
      [...maskStoredValues(Uint16Array.of(0xf800, 0x07ff, 0x1000), 12, 11, 1)],
      [-2048, 2047, 0],
    );
    assert.deepEqual([...maskStoredValues(Uint16Array.of(0xf800, 0x07ff), 12, 11, 0)], [2048, 2047]);
    // High Bit above Bits Stored - 1: values sit in the upper bits.
    assert.deepEqual([...maskStoredValues(Uint16Array.of(0x0ff0), 8, 11, 0)], [0xff]);
    assert.deepEqual([...maskStoredValues(Int16Array.of(-1), 16, 15, 1)], [-1]);
    assert.deepEqual([...maskStoredValues(Uint32Array.of(0xffffffff), 32, 31, 0)], [4294967295]);
  });

  it("applies Rescale Slope/Intercept and Modality LUTs with clamping (C.11.1)", () => {
    assert.deepEqual(
      [...applyModalityLut(Int32Array.of(0, 1024, 2000), { kind: "rescale", slope: 1, intercept: -1024 })],
      [-1024, 0, 976],
    );
    const lut = { firstMapped: 10, bits: 16, data: [100, 200, 300] };
    assert.deepEqual(
      [...applyModalityLut(Int32Array.of(0, 10, 11, 12, 99), { kind: "lut", lut })],
      [100, 100, 200, 300, 300],
    );
  });

  it("implements LINEAR, LINEAR_EXACT and SIGMOID exactly as C.11.2.1.2/C.11.2.1.3 define them", () => {
    const x = Float32Array.of(-1000, 39.5 - 199.5, 40, 39.5 + 199.5 + 0.01, 1000);
    const lin = applyVoiLut(x, { kind: "window", center: 40, width: 400 });
    assert.equal(lin[0], 0);
    assert.equal(lin[1], 0); // x <= c - 0.5 - (w-1)/2 → ymin
    assert.ok(Math.abs((lin[2] as number) - ((40 - 39.5) / 399 + 0.5)) < 1e-6);
    assert.equal(lin[3], 1);
    const exact = applyVoiLut(Float32Array.of(-160, 40, 240, 140), {
      kind: "window",
      center: 40,
      width: 400,
      fn: "LINEAR_EXACT",
    });
    assert.deepEqual([...exact], [0, 0.5, 1, 0.75]);
    const sig = applyVoiLut(Float32Array.of(40, 140), {
      kind: "window",
      center: 40,
      width: 400,
      fn: "SIGMOID",
    });
    assert.equal(sig[0], 0.5);
    assert.ok(Math.abs((sig[1] as number) - 1 / (1 + Math.exp(-1))) < 1e-6);
    assert.throws(() => applyVoiLut(x, { kind: "window", center: 0, width: 0.5 }), DicomError);
    const voiLut = applyVoiLut(Int32Array.of(-5, 0, 1, 9), {
      kind: "lut",
      lut: { firstMapped: 0, bits: 8, data: [0, 255] },
    });
    assert.deepEqual([...voiLut], [0, 0, 1, 1]);
  });

  it("inverts MONOCHROME1, converts YBR_FULL to RGB, interleaves planes, looks up palettes safely", () => {
    assert.deepEqual([...invertDisplay(Float32Array.of(0, 0.25, 1))], [1, 0.75, 0]);
    assert.deepEqual(
      [...ybrFullToRgb(Uint8Array.of(128, 128, 128, 255, 128, 128, 76, 85, 255))],
      [128, 128, 128, 255, 255, 255, 254, 0, 0],
    );
    assert.deepEqual([...interleavePlanes(Uint8Array.of(1, 2, 3, 4, 5, 6), 3)], [1, 3, 5, 2, 4, 6]);
    const lut = (v: number[]) => ({ firstMapped: 1, bits: 8, data: v });
    // Indices outside the LUT take its ends (a hostile index cannot read past the table).
    const rgb = applyPalette(Int32Array.of(0, 1, 2, 60000), {
      red: lut([10, 20]),
      green: lut([30, 40]),
      blue: lut([50, 60]),
    });
    assert.deepEqual([...rgb], [10, 30, 50, 10, 30, 50, 20, 40, 60, 20, 40, 60]);
  });
});

describe("dicomToImage", () => {
  it("gives CT in HU with Pixel Spacing as geometry", async () => {
    const img = await dicomToImage(readDicomFile(sharedData("dicom/pydicom/CT_small.dcm")));
    assert.deepEqual(img.shape, [128, 128, 1]);
    assert.ok(img.data instanceof Float32Array);
    assert.deepEqual(
      img.spacing.map((v) => Number(v.toFixed(6))),
      [0.661468, 0.661468],
    );
    const px = await decodeStoredPixels(readDicomFile(sharedData("dicom/pydicom/CT_small.dcm")));
    assert.equal(img.data[0], (px.data[0] as number) - 1024);
    assert.equal(img.meta["units"], "HU");
  });

  it("renders display values with a preset, PALETTE COLOR and YBR_FULL_422 as RGB", async () => {
    const lung = await dicomToImage(readDicomFile(sharedData("dicom/pydicom/CT_small.dcm")), {
      output: "display",
      voi: "lung",
    });
    assert.ok(lung.data instanceof Uint8Array);
    assert.deepEqual(lung.meta["voi"], { center: -600, width: 1500, fn: "LINEAR" });
    const pal = await dicomToImage(readDicomFile(sharedData("dicom/pydicom/examples_palette.dcm")), {
      output: "display",
    });
    assert.deepEqual(pal.shape, [350, 800, 3]);
    const ybr = await dicomToImage(
      readDicomFile(sharedData("dicom/pydicom/SC_ybr_full_422_uncompressed.dcm")),
    );
    const rgb = await dicomToImage(readDicomFile(sharedData("dicom/pydicom/SC_rgb_small_odd.dcm")));
    assert.equal(ybr.shape[2], 3);
    assert.equal(rgb.shape[2], 3);
    // The YBR test image is colour bars: after conversion the first pixel is pure red (within rounding).
    assert.ok((ybr.data[0] as number) > 250 && (ybr.data[1] as number) < 5 && (ybr.data[2] as number) < 5);
  });

  it("reads enhanced multi-frame geometry and rescale from functional groups (PS3.3 C.7.6.16)", async () => {
    const p = readDicomFile(sharedData("dicom/pydicom/CT_small.dcm"));
    const ds = p.dataset;
    const px = ds.get("PixelData");
    assert.ok(px);
    const two = new Uint8Array(px.value.length * 2);
    two.set(px.value);
    two.set(px.value, px.value.length);
    ds.set({ ...px, value: two });
    ds.setString("NumberOfFrames", "2");
    for (const k of [
      "RescaleIntercept",
      "RescaleSlope",
      "ImagePositionPatient",
      "ImageOrientationPatient",
      "PixelSpacing",
      "SliceThickness",
    ])
      ds.delete(k);
    const item = (fill: (d: DicomDataset) => void) => {
      const d = new DicomDataset(true);
      fill(d);
      return d;
    };
    const shared = item((d) => {
      d.setItems("PixelMeasuresSequence", [
        item((m) => {
          m.setNumbers("PixelSpacing", [0.5, 0.6]);
          m.setNumbers("SliceThickness", [2]);
        }),
      ]);
      d.setItems("PlaneOrientationSequence", [
        item((o) => o.setNumbers("ImageOrientationPatient", [1, 0, 0, 0, 1, 0])),
      ]);
      d.setItems("PixelValueTransformationSequence", [
        item((t) => {
          t.setNumbers("RescaleSlope", [1]);
          t.setNumbers("RescaleIntercept", [-1024]);
        }),
      ]);
    });
    const frame = (z: number) =>
      item((d) =>
        d.setItems("PlanePositionSequence", [item((pp) => pp.setNumbers("ImagePositionPatient", [0, 0, z]))]),
      );
    ds.setItems("SharedFunctionalGroupsSequence", [shared]);
    ds.setItems("PerFrameFunctionalGroupsSequence", [frame(10), frame(7.5)]);
    const again = parseDicom(writeDicom(p));
    const img = await dicomToImage(again);
    const stored = await decodeStoredPixels(again);
    assert.deepEqual(img.shape, [2, 128, 128, 1]);
    assert.deepEqual(img.spacing, [0.6, 0.5, 2.5]);
    assert.deepEqual(img.origin, [0, 0, 10]);
    assert.deepEqual(img.direction, [1, 0, 0, 0, 1, 0, 0, 0, -1]);
    assert.equal(img.data[5], (stored.data[5] as number) - 1024);
  });

  it("unpacks 1-bit pixels across frames that are not byte-aligned (PS3.5 8.1.1)", async () => {
    const p = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm"));
    const ds = p.dataset;
    ds.setNumbers("Rows", [3]);
    ds.setNumbers("Columns", [3]);
    ds.setNumbers("BitsAllocated", [1]);
    ds.setNumbers("BitsStored", [1]);
    ds.setNumbers("HighBit", [0]);
    ds.setNumbers("PixelRepresentation", [0]);
    ds.setString("NumberOfFrames", "2");
    const bits = Array.from({ length: 18 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const packed = new Uint8Array(4);
    bits.forEach((b, i) => {
      packed[i >> 3] = (packed[i >> 3] as number) | (b << (i & 7));
    });
    ds.set({ tag: 0x7fe00010, vr: "OB", value: packed, undefinedLength: false });
    const px = await decodeStoredPixels(p);
    assert.deepEqual(px.shape, [2, 3, 3, 1]);
    assert.deepEqual([...px.data], bits);
  });

  it("times out a slow codec, restarts its worker, and keeps decoding", async () => {
    const j2k = readDicomFile(sharedData("dicom/pydicom/693_J2KI.dcm"));
    await assert.rejects(
      decodeStoredPixels(j2k, { timeLimitMs: 0 }),
      (e: unknown) => e instanceof DicomError && e.code === "DICOM_TIMEOUT",
    );
    await assert.rejects(
      decodeStoredPixels(j2k, { frameTimeLimitMs: 1 }),
      (e: unknown) => e instanceof DicomError && e.code === "DICOM_TIMEOUT",
    );
    const ok = await decodeStoredPixels(j2k);
    assert.deepEqual(ok.shape, [1, 512, 512, 1]);
  });

  it("decodes HTJ2K (OpenJPH) frames", async () => {
    const { createRequire } = await import("node:module");
    const req = createRequire(import.meta.url);
    const factory = req("@cornerstonejs/codec-openjph/wasmjs") as (o: object) => Promise<
      Record<
        string,
        new () => {
          getDecodedBuffer(f: object): Uint8Array;
          encode(): void;
          getEncodedBuffer(): Uint8Array;
          setQuality(lossless: boolean, q: number): void;
          delete(): void;
        }
      >
    >;
    const mod = await factory({ print: () => {}, printErr: () => {} });
    const Enc = mod["HTJ2KEncoder"] as NonNullable<(typeof mod)[string]>;
    const enc = new Enc();
    const src = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm"));
    const stored = await decodeStoredPixels(src);
    const raw = enc.getDecodedBuffer({
      width: 64,
      height: 64,
      bitsPerSample: 16,
      componentCount: 1,
      isSigned: true,
      isUsingColorTransform: false,
    });
    raw.set(new Uint8Array(stored.data.buffer, stored.data.byteOffset, stored.data.byteLength));
    enc.setQuality(true, 0);
    enc.encode();
    const code = enc.getEncodedBuffer().slice();
    enc.delete();
    src.dataset.set({
      tag: 0x7fe00010,
      vr: "OB",
      value: new Uint8Array(0),
      offsetTable: new Uint8Array(0),
      fragments: [code],
      undefinedLength: true,
    });
    const ht = parseDicom(
      writeDicom(
        { ...src, transferSyntaxUID: "1.2.840.10008.1.2.4.201" },
        { transferSyntaxUID: "1.2.840.10008.1.2.4.201" },
      ),
    );
    const back = await decodeStoredPixels(ht);
    assert.deepEqual([...back.data], [...stored.data]);
  });
});

async function writeSeries(
  dir: string,
  zs: number[],
  edit?: (i: number, ds: ReturnType<typeof readDicomFile>["dataset"]) => void,
) {
  const base = readFileSync(sharedData("dicom/pydicom/CT_small.dcm"));
  zs.forEach((z, i) => {
    const p = parseDicom(new Uint8Array(base));
    p.dataset.setNumbers("ImagePositionPatient", [-158.135803, -179.035797, z]);
    p.dataset.setString("SeriesInstanceUID", "1.2.3.4.5");
    edit?.(i, p.dataset);
    writeFileSync(join(dir, `s${i}.dcm`), writeDicom(p));
  });
}

describe("series → volume", () => {
  it("sorts slices along the normal, derives spacing/origin/direction, flags gaps", async () => {
    const files = [10, 0, 2.5, 5, 7.5].map((z) => {
      const p = readDicomFile(sharedData("dicom/pydicom/CT_small.dcm"));
      p.dataset.setNumbers("ImagePositionPatient", [-158.135803, -179.035797, z]);
      p.dataset.setNumbers("ImageOrientationPatient", [1, 0, 0, 0, 1, 0]);
      p.dataset.setNumbers("InstanceNumber", [Math.round(z)]);
      return p;
    });
    const vol = await seriesToVolume(files);
    assert.deepEqual(vol.image.shape, [5, 128, 128, 1]);
    assert.equal(vol.sliceSpacing, 2.5);
    assert.deepEqual(
      vol.image.origin.map((v) => Number(v.toFixed(4))),
      [-158.1358, -179.0358, 0],
    );
    assert.deepEqual(vol.image.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.equal(vol.warnings.length, 0);
    const gappy = await seriesToVolume(files.filter((_, i) => i !== 3));
    assert.equal(gappy.missingSlices, 1);
    assert.ok(gappy.warnings.some((w) => w.code === "SLICE_GAP"));
  });

  it("refuses mixed sizes and several series with DICOM_SERIES", async () => {
    const a = readDicomFile(sharedData("dicom/pydicom/CT_small.dcm"));
    const b = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm"));
    b.dataset.setString("SeriesInstanceUID", a.dataset.uid("SeriesInstanceUID") ?? "");
    await assert.rejects(
      seriesToVolume([a, b]),
      (e: unknown) => e instanceof DicomError && e.code === "DICOM_SERIES" && /mixed sizes/.test(e.message),
    );
    const c = readDicomFile(sharedData("dicom/pydicom/MR_small.dcm"));
    await assert.rejects(
      seriesToVolume([a, c]),
      (e: unknown) => e instanceof DicomError && e.code === "DICOM_SERIES",
    );
  });
});

describe("info and convert commands", () => {
  async function cli(argv: string[]) {
    let out = "";
    let err = "";
    const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
    return { code, out, err };
  }

  it("info --json reports syntax, frames and HU statistics without patient identifiers", async () => {
    const r = await cli(["info", sharedData("dicom/pydicom/CT_small.dcm"), "--json"]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assert.equal(info.transferSyntax.uid, "1.2.840.10008.1.2.1");
    assert.equal(info.frames, 1);
    assert.equal(info.rows, 128);
    assert.ok(info.pixelStats.min < -500 && info.pixelStats.max > 500);
    assert.ok(!r.out.includes("CompressedSamples"), "no patient name");
    const text = await cli(["info", sharedData("dicom/pydicom/MR_small_RLE.dcm")]);
    assert.match(text.out, /transfer syntax: RLE Lossless/);
    const bad = await cli(["info", sharedData("dicom/pydicom/MR_truncated.dcm")]);
    assert.equal(bad.code, 3);
    assert.match(bad.err, /^error: DICOM_TRUNCATED: /);
  });

  it("info and dicom pixels read an MR with zero padding after its last element, with the warning; --strict refuses", async () => {
    const padded = join(work, "mr-padded.dcm");
    writeFileSync(
      padded,
      Buffer.concat([readFileSync(sharedData("dicom/pydicom/MR_small.dcm")), Buffer.alloc(1000)]),
    );
    const r = await cli(["info", padded, "--json"]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out);
    assert.deepEqual(info.warnings, [
      "DICOM_TRAILING_PADDING: 1000 byte(s) of zero padding after the last element",
    ]);
    assert.equal(info.pixelStats.max > 0, true);
    const px = await cli(["dicom", "pixels", padded, "--out", join(work, "mr-padded")]);
    assert.equal(px.code, 0, px.err);
    assert.match(px.err, /^warning: DICOM_TRAILING_PADDING: /m);
    const plain = await cli([
      "dicom",
      "pixels",
      sharedData("dicom/pydicom/MR_small.dcm"),
      "--out",
      join(work, "mr-plain"),
    ]);
    assert.equal(plain.code, 0, plain.err);
    assert.deepEqual(readFileSync(join(work, "mr-padded.bin")), readFileSync(join(work, "mr-plain.bin")));
    const strict = await cli(["info", padded, "--strict"]);
    assert.equal(strict.code, 3);
    assert.match(strict.err, /^error: DICOM_TRAILING_PADDING: /);
  });

  it("convert writes a windowed PNG and a NIfTI volume from a series folder", async () => {
    const png = join(work, "ct.png");
    const r = await cli(["convert", sharedData("dicom/pydicom/CT_small.dcm"), png, "--preset", "lung"]);
    assert.equal(r.code, 0, r.err);
    const img = decodePng(new Uint8Array(readFileSync(png)));
    assert.deepEqual(img.shape, [128, 128, 1]);
    const w = await cli([
      "convert",
      sharedData("dicom/pydicom/CT_small.dcm"),
      join(work, "w.png"),
      "--window",
      "40,400",
    ]);
    assert.equal(w.code, 0, w.err);
    assert.notDeepEqual(readFileSync(join(work, "w.png")), readFileSync(png));
    const dir = mkdtempSync(join(work, "series-"));
    await writeSeries(dir, [0, 5, 10]);
    const nii = join(work, "vol.nii.gz");
    const v = await cli(["convert", dir, nii]);
    assert.equal(v.code, 0, v.err);
    const vol = readNifti(nii);
    assert.deepEqual(vol.shape, [3, 128, 128, 1]);
    assert.ok(Math.abs((vol.spacing[2] as number) - 5) < 1e-4);
    const usage = await cli(["convert", sharedData("dicom/pydicom/CT_small.dcm"), png, "--preset", "liver"]);
    assert.equal(usage.code, 2);
  });
});
