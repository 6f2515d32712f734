/** Seeded mutation fuzzer: truncations, huge lengths, invalid VRs, deep nesting and lying pixel sizes must end in DicomError. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { Rng } from "../../core/rng.js";
import { warmUpCodecs } from "./codec-pool.js";
import { DicomError, isVR, parseDicom } from "./index.js";
import { decodeStoredPixels } from "./pixels.js";
import { dicomToImage } from "./to-image.js";

const SEEDS = [
  "CT_small.dcm",
  "MR_small.dcm",
  "MR_small_implicit.dcm",
  "MR_small_bigendian.dcm",
  "MR_small_RLE.dcm",
  "MR_small_jpeg_ls_lossless.dcm",
  "MR_small_jp2klossless.dcm",
  "SC_rgb_jpeg_dcmtk.dcm",
  "SC_rgb_jpeg_gdcm.dcm",
  "SC_rgb_rle_16bit_2frame.dcm",
  "rtplan.dcm",
  "image_dfl.dcm",
  "examples_palette.dcm",
  "SC_ybr_full_422_uncompressed.dcm",
  "JPGExtended.dcm",
].map((f) => new Uint8Array(readFileSync(sharedData("dicom", "pydicom", f))));

const CASES = Number(process.env["RADIOLENS_FUZZ_CASES"] ?? 10_000);
const LIMITS = { maxPixelBytes: 32 * 2 ** 20, maxInflatedBytes: 64 * 2 ** 20, timeLimitMs: 500 };

/** Offsets of plausible explicit VR element headers (tag + two VR letters), where mutations hurt most. */
function headerOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 132; i + 8 <= b.length && out.length < 4000; i += 2) {
    if (isVR(String.fromCharCode(b[i + 4] as number, b[i + 5] as number))) out.push(i);
  }
  return out;
}
const HEADERS = SEEDS.map(headerOffsets);

/** Explicit VR LE file with `depth` nested undefined-length sequences; `closed` false drops the delimiters. */
function nested(depth: number, closed: boolean): Uint8Array {
  const meta = SEEDS[0]?.subarray(
    0,
    132 + 12 + new DataView((SEEDS[0] as Uint8Array).buffer).getUint32(132 + 8, true),
  );
  const open = [
    0x08, 0x00, 0x40, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff,
    0xff, 0xff,
  ];
  const close = [0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0];
  const body = new Uint8Array(depth * (open.length + (closed ? close.length : 0)));
  for (let i = 0; i < depth; i++) body.set(open, i * open.length);
  if (closed) for (let i = 0; i < depth; i++) body.set(close, depth * open.length + i * close.length);
  const out = new Uint8Array((meta?.length ?? 0) + body.length);
  out.set(meta ?? new Uint8Array(0));
  out.set(body, meta?.length ?? 0);
  return out;
}

function setU32(b: Uint8Array, at: number, v: number): void {
  if (at >= 0 && at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
}
function setU16(b: Uint8Array, at: number, v: number): void {
  if (at >= 0 && at + 2 <= b.length) new DataView(b.buffer, b.byteOffset).setUint16(at, v & 0xffff, true);
}

/** Offset of a tag's value in an explicit VR LE file (short VR), or -1. */
function valueOffset(b: Uint8Array, group: number, element: number): number {
  for (let i = 132; i + 8 <= b.length; i += 2) {
    if (
      b[i] === (group & 0xff) &&
      b[i + 1] === group >> 8 &&
      b[i + 2] === (element & 0xff) &&
      b[i + 3] === element >> 8
    ) {
      return i + 8;
    }
  }
  return -1;
}

export const KINDS = [
  "truncate",
  "hugeLength",
  "badVR",
  "nesting",
  "pixelLie",
  "flip",
  "fragmentLie",
  "splice",
] as const;

export function mutate(rng: Rng): { kind: (typeof KINDS)[number]; bytes: Uint8Array } {
  const kind = KINDS[rng.int(0, KINDS.length - 1)] as (typeof KINDS)[number];
  const s = rng.int(0, SEEDS.length - 1);
  const seed = SEEDS[s] as Uint8Array;
  const heads = HEADERS[s] as number[];
  const pick = () =>
    heads.length ? (heads[rng.int(0, heads.length - 1)] as number) : rng.int(0, seed.length - 8);
  if (kind === "nesting") return { kind, bytes: nested(rng.int(1, 3000), rng.bernoulli(0.5)) };
  if (kind === "truncate") return { kind, bytes: seed.slice(0, rng.int(0, seed.length - 1)) };
  const b = seed.slice();
  switch (kind) {
    case "hugeLength": {
      const at = pick();
      const v = [0xffffffff, 0xfffffff0, 0x7fffffff, rng.int(0, 0x7fffffff), b.length, 0xfffe][
        rng.int(0, 5)
      ] as number;
      if (rng.bernoulli(0.5)) setU32(b, at + 8, v);
      else setU16(b, at + 6, v);
      break;
    }
    case "badVR": {
      const at = pick();
      b[at + 4] = rng.int(0, 255);
      b[at + 5] = rng.int(0, 255);
      break;
    }
    case "pixelLie": {
      const targets: [number, number][] = [
        [0x0028, 0x0010],
        [0x0028, 0x0011],
        [0x0028, 0x0100],
        [0x0028, 0x0101],
        [0x0028, 0x0102],
        [0x0028, 0x0002],
        [0x0028, 0x0103],
        [0x7fe0, 0x0010],
      ];
      const [g, e] = targets[rng.int(0, targets.length - 1)] as [number, number];
      const at = valueOffset(b, g, e);
      if (g === 0x7fe0) {
        // Pixel Data is OB/OW: its 32-bit length sits after the VR and 2 reserved bytes, i.e. at the offset
        // valueOffset() computes for short VRs. Lie both ways: a little shorter or longer, or absurdly large.
        const real = at >= 0 && at + 4 <= b.length ? new DataView(b.buffer).getUint32(at, true) : 0;
        const lie = [real - 2, real + 2, Math.floor(real / 2), real * 4, 0xfffffff0, rng.int(0, 0xffffffff)][
          rng.int(0, 5)
        ] as number;
        setU32(b, at, Math.max(0, lie));
      } else setU16(b, at, [0, 1, 3, 7, 65535, 32768, rng.int(0, 65535)][rng.int(0, 6)] as number);
      // Number of Frames is IS text; make it huge or nonsense where present.
      const nf = valueOffset(b, 0x0028, 0x0008);
      if (nf > 0 && rng.bernoulli(0.3)) b.set([0x39, 0x39, 0x39, 0x39], nf);
      break;
    }
    case "flip": {
      const n = rng.int(1, 16);
      for (let i = 0; i < n; i++) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      break;
    }
    case "fragmentLie": {
      // Item tags (FFFE,E000) inside encapsulated Pixel Data get lying lengths.
      const items: number[] = [];
      for (let i = 0; i + 8 <= b.length; i++)
        if (b[i] === 0xfe && b[i + 1] === 0xff && b[i + 2] === 0x00 && b[i + 3] === 0xe0) items.push(i);
      const at = items.length ? (items[rng.int(0, items.length - 1)] as number) : pick();
      setU32(b, at + 4, [0xffffffff, rng.int(0, 0xffffffff), 0, 1][rng.int(0, 3)] as number);
      break;
    }
    case "splice": {
      const at = pick();
      const len = rng.int(1, 64);
      const out = new Uint8Array(b.length - Math.min(len, b.length - at));
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + len), at);
      return { kind, bytes: out };
    }
  }
  return { kind, bytes: b };
}

describe("mutation fuzzer", () => {
  // Worker start-up and WASM compilation happen once per process, not per file.
  before(() => warmUpCodecs());

  it(`ends ${CASES} seeded mutations in success or DicomError, never a crash, an untyped error or a slow file`, async () => {
    const rng = new Rng(Number(process.env["RADIOLENS_FUZZ_SEED"] ?? 20260604));
    const outcomes: Record<string, number> = {};
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const { kind, bytes } = mutate(rng);
      const strict = (i & 1) === 0;
      const t = performance.now();
      let result = "ok";
      try {
        const parsed = parseDicom(bytes, { ...LIMITS, strict });
        // Pixel decoding is the other half of the attack surface: run it on a share of the parsed cases.
        // Strict cases go through decodeStoredPixels, lenient ones through the whole display pipeline.
        if (parsed.dataset.has(0x7fe00010) && i % 8 === 0) {
          await decodeStoredPixels(parsed, { maxPixelBytes: LIMITS.maxPixelBytes, frameTimeLimitMs: 500 });
        } else if (parsed.dataset.has(0x7fe00010) && i % 8 === 5) {
          await dicomToImage(parsed, {
            maxPixelBytes: LIMITS.maxPixelBytes,
            frameTimeLimitMs: 500,
            output: "display",
            strict: false,
          });
        }
      } catch (e) {
        if (!(e instanceof DicomError)) {
          assert.fail(`case ${i} (${kind}, strict ${strict}) threw ${(e as Error)?.stack ?? String(e)}`);
        }
        // The parser's last-resort wrapper means an unchecked path: a failure of the fuzzer.
        assert.ok(
          !/Damaged file:/.test(e.message),
          `case ${i} (${kind}) hit an unchecked path: ${e.message}`,
        );
        result = e.code;
      }
      const ms = performance.now() - t;
      slowest = Math.max(slowest, ms);
      assert.ok(ms < 1000, `case ${i} (${kind}) took ${ms.toFixed(0)} ms`);
      outcomes[`${kind}:${result}`] = (outcomes[`${kind}:${result}`] ?? 0) + 1;
      outcomes[`ms:${kind}`] = (outcomes[`ms:${kind}`] ?? 0) + ms;
    }
    // Every mutation kind must have produced at least one typed error, or the fuzzer is not exercising it.
    for (const k of KINDS) {
      assert.ok(
        Object.entries(outcomes).some(([key, n]) => key.startsWith(`${k}:DICOM_`) && n > 0),
        `mutation ${k} never produced an error`,
      );
    }
    assert.ok(slowest < 1000);
    // Caps hold: no case may have left the process holding runaway memory.
    assert.ok(process.memoryUsage().rss < 1.5 * 2 ** 30, `rss ${process.memoryUsage().rss} bytes`);
    if (process.env["RADIOLENS_FUZZ_REPORT"]) console.log(JSON.stringify({ slowest, outcomes }, null, 1));
  });
});
