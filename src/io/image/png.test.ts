/** PNG decoding: the direct path equals pngjs on every layout it takes; interlaced and low-bit files still decode; damage is refused. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import { type ColorType, PNG } from "pngjs";
import { sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { readImage } from "../index.js";
import { decodePng } from "./png.js";

/** What the pngjs-only decoder returned: RGBA expanded, then gray or RGB kept (16-bit without rescaling). */
function pngjsReference(bytes: Uint8Array): { shape: number[]; data: number[] } {
  const buf = Buffer.from(bytes);
  const probe = PNG.sync.read(buf, { skipRescale: true });
  const meta = probe as unknown as { colorType: number; depth: number };
  const png = meta.depth === 16 ? probe : PNG.sync.read(buf);
  const ch = meta.colorType === 0 || meta.colorType === 4 ? 1 : 3;
  const rgba = png.data as unknown as ArrayLike<number>;
  const data: number[] = [];
  for (let i = 0; i < png.width * png.height; i++)
    for (let c = 0; c < ch; c++) data.push(rgba[i * 4 + c] as number);
  return { shape: [png.height, png.width, ch], data };
}

const INPUT_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** A seeded random image encoded by pngjs with the given layout and scanline filter (-1: pngjs picks per row). */
function randomPng(
  rng: Rng,
  w: number,
  h: number,
  colorType: ColorType,
  depth: 8 | 16,
  filterType: number,
): Buffer {
  const ch = INPUT_CHANNELS[colorType] as number;
  const png = new PNG({
    width: w,
    height: h,
    colorType,
    bitDepth: depth,
    inputColorType: colorType,
    inputHasAlpha: ch % 2 === 0,
  });
  const n = w * h * ch;
  // Smooth content plus noise, so that every filter type sees both small and large differences.
  const buf = Buffer.alloc(n * (depth / 8));
  for (let i = 0; i < n; i++) {
    const v = ((i * 37) % (depth === 8 ? 256 : 65536)) ^ rng.int(0, depth === 8 ? 15 : 4095);
    if (depth === 8) buf[i] = v & 0xff;
    else buf.writeUInt16LE(v & 0xffff, 2 * i);
  }
  png.data = buf;
  return PNG.sync.write(png, {
    colorType,
    bitDepth: depth,
    inputColorType: colorType,
    inputHasAlpha: ch % 2 === 0,
    filterType,
  });
}

/** PNG chunk (length, type, data, CRC) for the hand-built files below. */
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(pngCrc(body));
  return Buffer.concat([len, body, crc]);
}

function pngCrc(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** An 8-bit gray Adam7-interlaced PNG (PNG spec §8.2), each pass's rows unfiltered, built by hand. */
function adam7Gray(w: number, h: number, px: Uint8Array): Buffer {
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  const rows: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < h; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < w; x += dx) row.push(px[y * w + x] as number);
      if (row.length) rows.push(0, ...row);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 1], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Uint8Array.from(rows))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

describe("decodePng", () => {
  const work = mkdtempSync(join(tmpdir(), "rl-png-"));
  after(() => rmSync(work, { recursive: true, force: true }));

  it("equals pngjs for gray, gray+alpha, RGB and RGBA at 8 and 16 bits under every filter type", () => {
    const rng = new Rng(11);
    let compared = 0;
    for (const colorType of [0, 2, 4, 6] as const) {
      for (const depth of [8, 16] as const) {
        for (const filterType of [-1, 0, 1, 2, 3, 4]) {
          for (const [w, h] of [
            [1, 1],
            [7, 5],
            [33, 17],
          ] as const) {
            const bytes = randomPng(rng, w, h, colorType, depth, filterType);
            const img = decodePng(bytes);
            const ref = pngjsReference(bytes);
            assert.deepEqual(img.shape, ref.shape);
            assert.ok(depth === 16 ? img.data instanceof Uint16Array : img.data instanceof Uint8Array);
            assert.deepEqual(
              Array.from(img.data),
              ref.data,
              `type ${colorType}, ${depth}-bit, filter ${filterType}, ${w}x${h}`,
            );
            compared++;
          }
        }
      }
    }
    assert.equal(compared, 144);
  });

  it("equals pngjs on the real chest X-ray PNGs", () => {
    const dir = sharedData("xray");
    const files = readdirSync(dir).filter((f) => f.endsWith(".png"));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      const img = decodePng(bytes);
      const ref = pngjsReference(bytes);
      assert.deepEqual(img.shape, ref.shape, f);
      assert.ok(
        img.data.every((v, i) => v === ref.data[i]),
        `${f}: pixels differ from pngjs`,
      );
    }
  });

  it("decodes palette, 1/2/4-bit and 16-bit files written by Pillow", () => {
    const script = `
import sys
from PIL import Image
w, h = 13, 6
src = [(x * 19 + y * 7) % 256 for y in range(h) for x in range(w)]
g = Image.new("L", (w, h)); g.putdata(src)
g.quantize(16).save(sys.argv[1] + "/p8.png")
g.quantize(4).save(sys.argv[1] + "/p2.png", bits=2)
g.convert("1").save(sys.argv[1] + "/b1.png")
i16 = Image.new("I;16", (w, h)); i16.putdata([v * 257 for v in src]); i16.save(sys.argv[1] + "/g16.png")
Image.merge("LA", (g, g)).save(sys.argv[1] + "/la.png")
`;
    execFileSync("/usr/bin/python3", ["-c", script, work]);
    for (const f of ["p8.png", "p2.png", "b1.png", "g16.png", "la.png"]) {
      const bytes = readFileSync(join(work, f));
      const img = decodePng(bytes);
      const ref = pngjsReference(bytes);
      assert.deepEqual(img.shape, ref.shape, f);
      assert.deepEqual(Array.from(img.data), ref.data, f);
    }
    const g16 = decodePng(readFileSync(join(work, "g16.png")));
    assert.equal(g16.data[1], ((19 % 256) * 257) & 0xffff);
  });

  it("decodes Adam7-interlaced files (through pngjs) to the pixels they hold", () => {
    const w = 11;
    const h = 9;
    const px = Uint8Array.from({ length: w * h }, (_, i) => (i * 29) % 256);
    const img = decodePng(adam7Gray(w, h, px));
    assert.deepEqual(img.shape, [h, w, 1]);
    assert.deepEqual(Array.from(img.data), Array.from(px));
  });

  it("refuses a damaged chunk (CRC) or truncated data with RL_ERR_IMAGE_DECODE", async () => {
    const bytes = randomPng(new Rng(3), 16, 16, 0, 8, -1);
    const flipped = Buffer.from(bytes);
    flipped[40] = (flipped[40] as number) ^ 0x55;
    assert.throws(() => decodePng(flipped), /CRC/);
    await assert.rejects(readImage(flipped), (e) => isRadioLensError(e, "RL_ERR_IMAGE_DECODE"));
    await assert.rejects(readImage(bytes.subarray(0, bytes.length - 20)), (e) =>
      isRadioLensError(e, "RL_ERR_IMAGE_DECODE"),
    );
  });
});
