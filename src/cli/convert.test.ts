/** `radiolens convert` from every readable input, checked against nibabel: NIfTI → PNG pixels and NIfTI re-orientation. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import type { MedicalImage } from "../core/image.js";
import { readNifti } from "../io/nifti/index.js";
import { runCli } from "./main.js";

const PYTHON = "/usr/bin/python3";
const HIPPO = sharedData("segmentation/msd-hippocampus/imagesTr/hippocampus_001.nii.gz");
const ANAT = sharedData("nifti/nibabel/anatomical.nii");

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

function python(script: string, ...args: string[]): unknown {
  return JSON.parse(execFileSync(PYTHON, ["-c", script, ...args], { encoding: "utf8" }));
}

/**
 * The reference in Python: nibabel's array, sliced, windowed with the DICOM LINEAR function (PS3.3 C.11.2.1.2)
 * and rounded to 8 bits, compared with the PNG as PIL reads it.
 */
const PNG_REFERENCE = `
import json, sys, numpy as np, nibabel as nib
from PIL import Image
arr = nib.load(sys.argv[1]).get_fdata()
def window(x, c, w):
    lo = c - 0.5 - (w - 1) / 2
    hi = c - 0.5 + (w - 1) / 2
    y = np.where(x <= lo, 0.0, np.where(x > hi, 1.0, (x - (c - 0.5)) / (w - 1) + 0.5))
    return np.floor(y.astype(np.float32).astype(np.float64) * 255 + 0.5).astype(np.uint8)
out = []
for spec in json.loads(sys.argv[2]):
    png = np.asarray(Image.open(spec["png"]))
    c, w = spec.get("window") or (None, None)
    if c is None:
        lo, hi = float(arr.min()), float(arr.max())
        w = max(1.0, hi - lo + 1)
        c = lo + 0.5 + (w - 1) / 2
    axis = "ijk".index(spec["axis"])
    if "slice" in spec:
        want = window(np.take(arr, spec["slice"], axis=axis).T, c, w)
        out.append({"shape": list(png.shape), "want": list(want.shape), "diff": int((png != want).sum())})
    else:
        n = arr.shape[axis]
        gc = int(np.ceil(np.sqrt(n)))
        bad = 0
        for t in range(n):
            tile = window(np.take(arr, t, axis=axis).T, c, w)
            r0, c0 = (t // gc) * tile.shape[0], (t % gc) * tile.shape[1]
            bad += int((png[r0:r0 + tile.shape[0], c0:c0 + tile.shape[1]] != tile).sum())
        out.append({"shape": list(png.shape), "want": [int(np.ceil(n / gc)) * tile.shape[0], gc * tile.shape[1]], "diff": bad})
print(json.dumps(out))`;

test("convert MSD NIfTI → PNG equals nibabel's array at that slice after the stated window", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-convert-"));
  const specs: { png: string; axis: string; slice?: number; window?: [number, number] }[] = [
    { png: join(dir, "k17.png"), axis: "k", slice: 17, window: [70, 100] },
    { png: join(dir, "i10.png"), axis: "i", slice: 10, window: [60.5, 41] },
    { png: join(dir, "j30.png"), axis: "j", slice: 30, window: [100, 250] },
    { png: join(dir, "k0-minmax.png"), axis: "k", slice: 0 },
    { png: join(dir, "montage.png"), axis: "j", window: [70, 100] },
  ];
  for (const s of specs) {
    const argv = ["convert", HIPPO, s.png, "--axis", s.axis];
    if (s.slice !== undefined) argv.push("--slice", String(s.slice));
    if (s.window) argv.push("--window", s.window.join(","));
    const r = await cli(argv);
    assert.equal(r.code, 0, r.err);
  }
  const ref = python(PNG_REFERENCE, HIPPO, JSON.stringify(specs)) as {
    shape: number[];
    want: number[];
    diff: number;
  }[];
  for (const [k, s] of specs.entries()) {
    const e = ref[k] as { shape: number[]; want: number[]; diff: number };
    assert.deepEqual(e.shape, e.want, s.png);
    assert.equal(e.diff, 0, `${s.png}: ${e.diff} pixels differ from nibabel`);
  }
  // The window matters: a different one gives different pixels (the comparison can fail).
  const other = join(dir, "k17-other.png");
  assert.equal((await cli(["convert", HIPPO, other, "--slice", "17", "--window", "40,100"])).code, 0);
  const wrong = python(
    PNG_REFERENCE,
    HIPPO,
    JSON.stringify([{ png: other, axis: "k", slice: 17, window: [70, 100] }]),
  );
  assert.ok((wrong as { diff: number }[])[0]!.diff > 100);
  const bad = await cli(["convert", HIPPO, join(dir, "x.png"), "--slice", "99"]);
  assert.match(bad.err, /RL_ERR_CONVERT_UNSUPPORTED: .*slice 99 is outside 0\.\.34 along k/);
});

/** Voxel index (i, j, k) → LPS world position of an image read by RadioLens. */
function world(img: MedicalImage, i: number, j: number, k: number): number[] {
  const idx = [i, j, k];
  return [0, 1, 2].map(
    (r) =>
      (img.origin[r] as number) +
      [0, 1, 2].reduce(
        (s, c) => s + (img.direction[r * 3 + c] as number) * (img.spacing[c] as number) * (idx[c] as number),
        0,
      ),
  );
}

/** Every voxel of `a` is found in `b` at the same world position with the same value. */
function sameVoxelsInWorld(a: MedicalImage, b: MedicalImage): void {
  const [nk, nj, ni] = a.shape as [number, number, number];
  // b's voxel of a world point: solve direction·diag(spacing)·idx = w - origin (direction is orthonormal).
  const index = (w: number[]): number[] =>
    [0, 1, 2].map(
      (c) =>
        [0, 1, 2].reduce(
          (s, r) => s + (b.direction[r * 3 + c] as number) * ((w[r] as number) - (b.origin[r] as number)),
          0,
        ) / (b.spacing[c] as number),
    );
  const [bk, bj, bi] = b.shape as [number, number, number];
  assert.equal(nk * nj * ni, bk * bj * bi);
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        const [x, y, z] = index(world(a, i, j, k)).map((v) => {
          assert.ok(Math.abs(v - Math.round(v)) < 1e-3, `voxel (${i}, ${j}, ${k}) lands between voxels`);
          return Math.round(v);
        }) as [number, number, number];
        assert.equal(b.data[(z * bj + y) * bi + x], a.data[(k * nj + j) * ni + i]);
      }
    }
  }
}

test("NIfTI re-orientation: RAS equals nibabel's canonical; LAS → LPS → LAS round-trips voxels and world", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-orient-"));
  const ras = join(dir, "ras.nii.gz");
  const lps = join(dir, "lps.nii");
  const back = join(dir, "back.nii");
  assert.equal((await cli(["convert", ANAT, ras, "--orient", "RAS"])).code, 0);
  assert.equal((await cli(["convert", ras, lps, "--orient", "lps"])).code, 0);
  assert.equal((await cli(["convert", lps, back, "--orient", "LAS"])).code, 0);
  const ref = python(
    `
import json, sys, numpy as np, nibabel as nib
o = nib.load(sys.argv[1]); c = nib.as_closest_canonical(o)
mine = nib.load(sys.argv[2]); lps = nib.load(sys.argv[3]); back = nib.load(sys.argv[4])
print(json.dumps({
  "codes": ["".join(nib.aff2axcodes(i.affine)) for i in (o, mine, lps, back)],
  "data": bool(np.array_equal(np.asarray(c.dataobj), np.asarray(mine.dataobj))),
  "affine": float(np.abs(c.affine - mine.affine).max()),
  "backData": bool(np.array_equal(np.asarray(o.dataobj), np.asarray(back.dataobj))),
  "backAffine": float(np.abs(o.affine - back.affine).max()),
  "lpsDiffers": not np.array_equal(np.asarray(o.dataobj), np.asarray(lps.dataobj)),
}))`,
    ANAT,
    ras,
    lps,
    back,
  ) as {
    codes: string[];
    data: boolean;
    affine: number;
    backData: boolean;
    backAffine: number;
    lpsDiffers: boolean;
  };
  assert.deepEqual(ref.codes, ["LAS", "RAS", "LPS", "LAS"]);
  assert.ok(ref.data, "RAS voxels differ from nibabel's as_closest_canonical");
  assert.ok(ref.affine < 1e-4, `RAS affine differs by ${ref.affine}`);
  assert.ok(ref.backData && ref.backAffine < 1e-4, "LAS → RAS → LPS → LAS is not the original");
  assert.ok(ref.lpsDiffers);
  const original = readNifti(ANAT);
  sameVoxelsInWorld(original, readNifti(ras));
  sameVoxelsInWorld(original, readNifti(lps));
  sameVoxelsInWorld(readNifti(lps), original);
});

test(".nii ↔ .nii.gz keeps values, datatype and geometry; PNG → NIfTI; DICOM series → NIfTI as before", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-nii-"));
  const gz = join(dir, "a.nii.gz");
  const nii = join(dir, "a.nii");
  assert.equal((await cli(["convert", ANAT, gz])).code, 0);
  assert.equal((await cli(["convert", gz, nii])).code, 0);
  const a = readNifti(ANAT);
  for (const p of [gz, nii]) {
    const b = readNifti(p);
    assert.deepEqual(b.shape, a.shape);
    assert.equal(b.data.constructor, a.data.constructor);
    assert.deepEqual(Array.from(b.data), Array.from(a.data));
    assert.deepEqual(b.spacing, a.spacing);
    assert.deepEqual(b.origin, a.origin);
    assert.deepEqual(b.direction, a.direction);
  }
  const png = join(dir, "x.nii.gz");
  assert.equal((await cli(["convert", sharedData("xray/COVID-00045.png"), png])).code, 0);
  assert.deepEqual(readNifti(png).shape, [1862, 1962, 1]);
  const series = join(dir, "ct.nii.gz");
  const r = await cli(["convert", sharedData("dicom/pydicom/dicomdirtests/98892001/CT5N"), series]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readNifti(series).shape, [5, 16, 16, 1]);
});

test("convert refuses what it cannot do with one line and writes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-convert-bad-"));
  const cases: [string[], RegExp][] = [
    [
      [sharedData("medmnist/pneumoniamnist.npz"), join(dir, "a.png")],
      /RL_ERR_CONVERT_UNSUPPORTED: .*\.npz archive/,
    ],
    [[HIPPO, join(dir, "a.jpg")], /RL_ERR_CONVERT_UNSUPPORTED: .*must end in \.png, \.nii or \.nii\.gz/],
    [
      [HIPPO, join(dir, "a.png"), "--axis", "x"],
      /RL_ERR_OPTION_INVALID: --axis 'x' is not accepted: expected one of i, j, k/,
    ],
    [[HIPPO, join(dir, "a.nii"), "--orient", "RAP"], /RL_ERR_TRANSFORM_INVALID/],
    [[sharedData("dicom/pydicom/CT_small.dcm"), join(dir, "a.png"), "--slice", "1"], /apply to NIfTI input/],
    [[join(dir, "missing.nii"), join(dir, "a.nii")], /RL_ERR_FILE_NOT_FOUND/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(["convert", ...args]);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.equal(r.err.trim().split("\n").length, 1);
    assert.match(r.err, pattern);
  }
  assert.deepEqual(readdirSync(dir), []);
  assert.ok(!existsSync(join(dir, "a.png")));
});
