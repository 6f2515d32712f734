/** Tests PNG/JPEG decoding on real chest X-rays and generated 8/16-bit, gray/RGB files. */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { readImage } from "../index.js";
import { decodeJpeg, decodeJpegFast, decodeJpegWasm, jpegFrameHeader } from "./jpeg.js";
import { loadNativeJpeg } from "./native-jpeg.js";

test("real X-rays decode with the sizes and channel counts their headers declare", async () => {
  const gray = await readImage(sharedData("xray/COVID-00003a.jpg"));
  assert.deepEqual(gray.shape, [1192, 1502, 1]);
  const rgb = await readImage(sharedData("xray/COVID-00001.jpg"));
  assert.deepEqual(rgb.shape, [972, 1151, 3]);
  const png = await readImage(sharedData("xray/COVID-00045.png"));
  assert.deepEqual(png.shape, [1862, 1962, 1]);
  assert.equal(png.meta["photometricInterpretation"], "MONOCHROME2");
});

test("16-bit gray PNG keeps its 16-bit values; RGB PNG gives 3 channels", async () => {
  const w = 5;
  const h = 3;
  const g16 = new PNG({
    width: w,
    height: h,
    colorType: 0,
    bitDepth: 16,
    inputColorType: 0,
    inputHasAlpha: false,
  });
  const values = Array.from({ length: w * h }, (_, i) => i * 4000 + 7);
  const buf = Buffer.alloc(w * h * 2);
  // pngjs packs 16-bit input from native-order samples.
  values.forEach((v, i) => {
    buf.writeUInt16LE(v, i * 2);
  });
  g16.data = buf;
  const bytes16 = PNG.sync.write(g16, {
    colorType: 0,
    bitDepth: 16,
    inputColorType: 0,
    inputHasAlpha: false,
  });
  const img16 = await readImage(bytes16);
  assert.deepEqual(img16.shape, [h, w, 1]);
  assert.ok(img16.data instanceof Uint16Array);
  assert.deepEqual(Array.from(img16.data), values);

  const rgb = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) rgb.data.set([i, 100 + i, 200 + i, 255], i * 4);
  const img = await readImage(PNG.sync.write(rgb, { colorType: 2 }));
  assert.deepEqual(img.shape, [h, w, 3]);
  assert.deepEqual(Array.from(img.data.slice(0, 6)), [0, 100, 200, 1, 101, 201]);
});

test("JPEG round trip is close to the source; corrupt and unknown files give catalogued errors", async () => {
  const w = 16;
  const h = 8;
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([(i * 3) % 256, 128, 64, 255], i * 4);
  const enc = jpeg.encode({ data: rgba, width: w, height: h }, 95).data;
  const img = await readImage(enc);
  assert.deepEqual(img.shape, [h, w, 3]);
  assert.ok(Math.abs((img.data[3 * 5 + 1] as number) - 128) <= 6);

  const real = readFileSync(sharedData("xray/COVID-00003b.jpg"));
  await assert.rejects(readImage(real.subarray(0, 400)), (e) => isRadioLensError(e, "RL_ERR_IMAGE_DECODE"));
  await assert.rejects(readImage(new TextEncoder().encode("just text")), (e) => {
    return isRadioLensError(e, "RL_ERR_UNKNOWN_FORMAT") && /tried: png, jpeg/.test((e as Error).message);
  });
  await assert.rejects(readImage("/nonexistent/x.png"), (e) => isRadioLensError(e, "RL_ERR_FILE_NOT_FOUND"));
});

test("encodePng round-trips 8-bit gray, RGB and 16-bit gray", async () => {
  const { encodePng } = await import("./png.js");
  const { createImage } = await import("../../core/image.js");
  const g = createImage(
    Uint8Array.from({ length: 12 }, (_, i) => i * 20),
    [3, 4, 1],
  );
  assert.deepEqual(Array.from((await readImage(encodePng(g))).data), Array.from(g.data));
  const rgb = createImage(
    Uint8Array.from({ length: 36 }, (_, i) => i * 7),
    [3, 4, 3],
  );
  assert.deepEqual(Array.from((await readImage(encodePng(rgb))).data), Array.from(rgb.data));
  const g16 = createImage(
    Uint16Array.from({ length: 12 }, (_, i) => i * 5000 + 3),
    [3, 4, 1],
  );
  const back = await readImage(encodePng(g16));
  assert.ok(back.data instanceof Uint16Array);
  assert.deepEqual(Array.from(back.data), Array.from(g16.data));
});

test("libjpeg-turbo decoding matches jpeg-js to the inverse-DCT rounding, and damaged JPEGs still fail", async () => {
  for (const name of ["xray/COVID-00003a.jpg", "xray/COVID-00001.jpg"]) {
    const bytes = readFileSync(sharedData(name));
    const slow = decodeJpeg(bytes);
    const fast = await decodeJpegFast(bytes);
    assert.deepEqual(fast.shape, slow.shape);
    assert.deepEqual(fast.meta, slow.meta);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < fast.data.length; i++) {
      const d = Math.abs((fast.data[i] as number) - (slow.data[i] as number));
      sum += d;
      if (d > max) max = d;
    }
    assert.ok(sum / fast.data.length < 0.2, `${name}: mean |turbo - jpeg-js| ${sum / fast.data.length}`);
    assert.ok(max <= 2, `${name}: max |turbo - jpeg-js| ${max}`);
  }
  const bytes = readFileSync(sharedData("xray/COVID-00003a.jpg"));
  await assert.rejects(decodeJpegFast(bytes.subarray(0, 600)));
  await assert.rejects(decodeJpegFast(bytes.subarray(0, bytes.length >> 1)));
  const header = jpegFrameHeader(bytes);
  assert.deepEqual(header, { rows: 1192, columns: 1502, components: 1 });
  await assert.rejects(decodeJpegFast(bytes, { maxResolutionMP: 1 }), /exceeds the 1 MP limit/);
});

test("the native libjpeg-turbo decoder gives the WASM build's samples and refuses what it cannot decode whole", async (t) => {
  const native = loadNativeJpeg();
  if (!native) {
    // Built whenever libturbojpeg0-dev is installed (scripts/setup.sh installs it): then its absence is a failure.
    assert.ok(!existsSync("/usr/include/turbojpeg.h"), "turbojpeg.h is installed but the addon is not built");
    t.skip("libturbojpeg0-dev is not installed");
    return;
  }
  const rng = new Rng(21);
  const rgba = new Uint8Array(61 * 47 * 4);
  for (let i = 0; i < rgba.length; i++) rgba[i] = (i % 4 === 3 ? 255 : rng.int(0, 255)) & 0xff;
  const cases: [string, Uint8Array][] = [
    ["COVID-00003a.jpg (grey, 1502x1192)", readFileSync(sharedData("xray/COVID-00003a.jpg"))],
    ["COVID-00001.jpg (colour)", readFileSync(sharedData("xray/COVID-00001.jpg"))],
    ["seeded RGB 61x47", jpeg.encode({ data: rgba, width: 61, height: 47 }, 80).data],
  ];
  for (const [name, bytes] of cases) {
    const wasm = await decodeJpegWasm(bytes);
    const r = native.decodeJpeg(bytes, 1e9);
    assert.ok(!("fallback" in r), `${name}: ${"fallback" in r ? r.fallback : ""}`);
    assert.deepEqual([r.height, r.width, r.components], wasm.shape, name);
    assert.ok(Buffer.from(r.bytes).equals(Buffer.from(wasm.data as Uint8Array)), `${name}: samples differ`);
    const fast = await decodeJpegFast(bytes);
    assert.deepEqual(fast.meta, wasm.meta, name);
    assert.ok(Buffer.from(fast.data as Uint8Array).equals(Buffer.from(r.bytes)), name);
  }
  const bytes = readFileSync(sharedData("xray/COVID-00003a.jpg"));
  // A truncated stream is refused (libjpeg would pad it with grey and warn), not decoded half.
  assert.ok("fallback" in native.decodeJpeg(bytes.subarray(0, bytes.length >> 1), 1e9));
  assert.ok("fallback" in native.decodeJpeg(bytes.subarray(0, 600), 1e9));
  assert.throws(() => native.decodeJpeg(bytes, 1e6), /exceeds the 1000000 pixel limit/);
  // DCT scaling: 1/8 of the size, each sample the mean of its 8x8 block (to rounding).
  const full = native.decodeJpeg(bytes, 1e9);
  const small = native.decodeJpeg(bytes, 1e9, 8);
  assert.ok(!("fallback" in full) && !("fallback" in small));
  assert.deepEqual(
    [small.width, small.height, small.sourceWidth, small.sourceHeight],
    [188, 149, 1502, 1192],
  );
  let worst = 0;
  for (let y = 0; y < 149; y++) {
    for (let x = 0; x < 187; x++) {
      let s = 0;
      for (let dy = 0; dy < 8; dy++)
        for (let dx = 0; dx < 8; dx++) s += full.bytes[(y * 8 + dy) * 1502 + x * 8 + dx] as number;
      worst = Math.max(worst, Math.abs(s / 64 - (small.bytes[y * 188 + x] as number)));
    }
  }
  assert.ok(worst <= 1.5, `block mean vs 1/8 decode: ${worst}`);
});
