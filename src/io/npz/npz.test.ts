/** Tests the .npz reader on the real PneumoniaMNIST file and on generated archives (stored, deflate, zip64, Fortran order). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zipSync } from "fflate";
import { sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import { readNpz } from "./index.js";

function npy(descr: string, shape: number[], payload: Uint8Array, fortran = false): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${" ".repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(payload, 10 + header.length);
  return out;
}

test("reads PneumoniaMNIST with the shapes and dtypes of the official release", () => {
  const npz = readNpz(sharedData("medmnist/pneumoniamnist.npz"));
  const expected: Record<string, number[]> = {
    train_images: [4708, 28, 28],
    train_labels: [4708, 1],
    val_images: [524, 28, 28],
    val_labels: [524, 1],
    test_images: [624, 28, 28],
    test_labels: [624, 1],
  };
  for (const [k, shape] of Object.entries(expected)) {
    const a = npz.get(k);
    assert.ok(a, k);
    assert.equal(a.dtype, "uint8");
    assert.deepEqual(a.shape, shape);
  }
  const labels = npz.get("test_labels")?.data as Uint8Array;
  const pos = labels.reduce((s, v) => s + v, 0);
  assert.equal(pos, 390); // official test split: 234 normal, 390 pneumonia
});

test("reads stored and deflated members, big-endian and Fortran-ordered arrays", () => {
  const be = new Uint8Array(8);
  const dv = new DataView(be.buffer);
  [1, -2, 300, -32768].forEach((v, i) => {
    dv.setInt16(i * 2, v, false);
  });
  // Fortran order of [[1,2,3],[4,5,6]] is 1,4,2,5,3,6.
  const f = new Float32Array([1, 4, 2, 5, 3, 6]);
  for (const level of [0, 6] as const) {
    const zip = zipSync(
      {
        "a.npy": npy(">i2", [4], be),
        "b.npy": npy("<f4", [2, 3], new Uint8Array(f.buffer), true),
        "c.npy": npy("<i8", [2], new Uint8Array(new BigInt64Array([5n, -7n]).buffer)),
      },
      { level },
    );
    const npz = readNpz(zip);
    assert.deepEqual(Array.from(npz.get("a")?.data ?? []), [1, -2, 300, -32768]);
    assert.deepEqual(Array.from(npz.get("b")?.data ?? []), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(npz.get("b")?.shape, [2, 3]);
    assert.deepEqual(Array.from(npz.get("c")?.data ?? []), [5, -7]);
  }
});

test("reads a zip64 archive written by Python's zipfile", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-npz-"));
  const path = join(dir, "z64.npz");
  execFileSync("python3", [
    "-c",
    `import io, zipfile, numpy as np
b = io.BytesIO(); np.save(b, np.arange(12, dtype=np.int32).reshape(3, 4))
with zipfile.ZipFile(${JSON.stringify(path)}, "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("x.npy", "w", force_zip64=True) as f: f.write(b.getvalue())`,
  ]);
  const npz = readNpz(path);
  assert.deepEqual(npz.get("x")?.shape, [3, 4]);
  assert.deepEqual(
    Array.from(npz.get("x")?.data ?? []),
    Array.from({ length: 12 }, (_, i) => i),
  );
});

test("bad input gives catalogued errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-npz-"));
  assert.throws(
    () => readNpz(join(dir, "missing.npz")),
    (e) => isRadioLensError(e, "RL_ERR_FILE_NOT_FOUND"),
  );
  const txt = join(dir, "not.npz");
  writeFileSync(txt, "hello, this is not a zip");
  assert.throws(
    () => readNpz(txt),
    (e) => isRadioLensError(e, "RL_ERR_NPZ_INVALID"),
  );
  const zip = zipSync({ "a.npy": npy("<f4", [1], new Uint8Array(4)) });
  assert.throws(
    () => readNpz(zip, ["train_images"]),
    (e) => isRadioLensError(e, "RL_ERR_NPZ_MISSING_KEY") && /it has: a/.test((e as Error).message),
  );
  const truncated = zipSync({ "a.npy": npy("<f4", [100], new Uint8Array(8)) });
  assert.throws(
    () => readNpz(truncated),
    (e) => isRadioLensError(e, "RL_ERR_NPZ_INVALID"),
  );
  assert.throws(
    () => readNpz(zip.subarray(0, zip.length - 30)),
    (e) => isRadioLensError(e, "RL_ERR_NPZ_INVALID"),
  );
});
