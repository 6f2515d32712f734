/** Reads every NIfTI/Analyze file of ../shared/data/nifti and checks it against the values nibabel 5.0 reports. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { sharedData } from "../../../test/support/shared-data.js";
import { isRadioLensError } from "../../core/errors.js";
import type { MedicalImage } from "../../core/image.js";
import { bestAffine, isNifti, type NiftiMeta, readNifti, readNiftiHeader } from "./index.js";

const nib = (f: string): string => sharedData("nifti", "nibabel", f);
const niivue = (f: string): string => sharedData("nifti", "niivue", f);

function nmeta(img: MedicalImage): NiftiMeta {
  return img.meta["nifti"] as NiftiMeta;
}

function sum(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isNaN(v)) s += v;
  }
  return s;
}

function closeArray(actual: readonly number[], expected: readonly number[], tol: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs((actual[i] as number) - (expected[i] as number)) <= tol,
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/** Voxel (i, j, k[, t]) of a volume read by readNifti. */
function at(img: MedicalImage, i: number, j: number, k: number, c = 0): number {
  const [, nj, ni, ch] = img.shape as [number, number, number, number];
  return img.data[((k * nj + j) * ni + i) * ch + c] as number;
}

describe("NIfTI files of ../shared/data/nifti (expected values from nibabel 5.0)", () => {
  it("anatomical.nii: big-endian int16 NIfTI-1, sform = qform code 2", () => {
    const img = readNifti(nib("anatomical.nii"));
    const m = nmeta(img);
    assert.deepEqual(img.shape, [25, 41, 33, 1]);
    assert.ok(img.data instanceof Int16Array);
    assert.equal(m.format, "nifti1");
    assert.equal(m.littleEndian, false);
    assert.equal(m.datatype, 4);
    assert.deepEqual([m.qformCode, m.sformCode], [2, 2]);
    assert.deepEqual(m.affine, [-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16, 0, 0, 0, 1]);
    assert.deepEqual(img.spacing, [2, 2, 2]);
    assert.deepEqual(img.origin, [-32, 40, -16]); // RAS (32, -40, -16) in LPS
    assert.deepEqual(img.direction, [1, 0, 0, 0, -1, 0, 0, 0, 1]);
    assert.deepEqual(Array.from(img.data.subarray(0, 4)), [10712, 10463, 10600, 11951]);
    assert.deepEqual(Array.from(img.data.subarray(1000, 1003)), [4222, 5786, 9673]);
    assert.equal(at(img, 10, 20, 12), 10872);
    assert.equal(at(img, 32, 40, 24), 2971);
    assert.equal(sum(img.data), 284166082);
  });

  it("example4d.nii.gz: gzip, 4D int16 with a sheared-looking sform and 2 extensions", () => {
    const img = readNifti(nib("example4d.nii.gz"));
    const m = nmeta(img);
    assert.deepEqual(img.shape, [24, 96, 128, 2]);
    assert.ok(img.data instanceof Int16Array);
    assert.equal(m.littleEndian, true);
    assert.deepEqual([m.qformCode, m.sformCode], [1, 1]);
    assert.deepEqual(m.extensionCodes, [6, 6]);
    closeArray(
      m.affine,
      [
        -2, 0, 0, 117.8551025390625, 0, 1.9737114906311035, -0.35552823543548584, -35.72294235229492, 0,
        0.3232076168060303, 2.171081781387329, -7.248798370361328, 0, 0, 0, 1,
      ],
      1e-12,
    );
    closeArray(img.spacing, [2, 2, 2.199999], 1e-6);
    closeArray(img.origin, [-117.8551025390625, 35.72294235229492, -7.248798370361328], 1e-12);
    assert.equal(at(img, 64, 48, 12, 0), 265);
    assert.equal(at(img, 64, 48, 12, 1), 266);
    assert.equal(sum(img.data), 101985356);
    // qform of the same file, from its quaternion (nibabel get_qform). nifti1_io (which RadioLens follows)
    // sets a = 0 and renormalizes (b, c, d) when 1 - b² - c² - d² < 1e-7; nibabel takes the square root, so
    // the two differ by about 1e-4 here.
    closeArray(
      m.qform as number[],
      [
        -1.999999995978187, 1.0282396754185892e-5, 0.00013905980362440367, 117.8551025390625,
        -1.0282396754185892e-5, 1.9737114380364735, -0.3555282247524397, -35.72294235229492,
        0.00012641805535562603, 0.32320761014906196, 2.1710816833341227, -7.248798370361328, 0, 0, 0, 1,
      ],
      2e-4,
    );
  });

  it("example_nifti2.nii.gz: NIfTI-2, 4D int16", () => {
    const img = readNifti(nib("example_nifti2.nii.gz"));
    const m = nmeta(img);
    assert.equal(m.format, "nifti2");
    assert.deepEqual(img.shape, [12, 20, 32, 2]);
    assert.deepEqual(m.dim, [4, 32, 20, 12, 2, 1, 1, 1]);
    assert.ok(img.data instanceof Int16Array);
    assert.deepEqual(
      [0, 2, 4, 6].map((i) => img.data[i]),
      [424, 428, 408, 403],
    );
    assert.deepEqual(
      [2000, 2002, 2004].map((i) => img.data[i]),
      [327, 376, 404],
    );
    assert.equal(sum(img.data), 6926802);
    closeArray(m.affine.slice(0, 4), [-2, 0, 0, 117.8551025390625], 1e-12);
  });

  it("functional.nii: scl_slope/scl_inter applied (and kept raw on request)", () => {
    const img = readNifti(nib("functional.nii"));
    const m = nmeta(img);
    assert.deepEqual(img.shape, [3, 21, 17, 20]);
    assert.ok(img.data instanceof Float32Array);
    assert.equal(m.scaled, true);
    assert.equal(m.sclSlope, Math.fround(0.07540696859359741));
    assert.equal(m.sclInter, 3100.76171875);
    assert.deepEqual(img.spacing, [4, 4, 8]);
    assert.deepEqual(img.origin, [-32, 40, 0]);
    closeArray(
      [0, 1, 2].map((t) => at(img, 3, 4, 1, t)),
      [3807.9282702207565, 3811.396990776062, 3825.1210590600967],
      1e-3,
    );
    assert.ok(Math.abs(sum(img.data) - 77913290.36292362) < 5);
    const raw = readNifti(nib("functional.nii"), { scale: false });
    assert.ok(raw.data instanceof Int16Array);
    assert.equal(raw.data[0], 11980);
    assert.equal(nmeta(raw).scaled, false);
  });

  it("reoriented_anat_moved.nii and resampled_anat_moved.nii: big-endian float32, NaN kept", () => {
    const a = readNifti(nib("reoriented_anat_moved.nii"));
    assert.deepEqual(a.shape, [22, 26, 21, 1]);
    assert.ok(a.data instanceof Float32Array);
    assert.equal(nmeta(a).littleEndian, false);
    assert.deepEqual(a.spacing, [4, 4, 4]);
    assert.deepEqual(a.origin, [35.29789733886719, 47.97758483886719, -27.599409103393555]);
    assert.deepEqual(a.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    assert.ok(Math.abs(sum(a.data) - 32739769.449157715) < 1e-3);
    const r = readNifti(nib("resampled_anat_moved.nii"));
    assert.deepEqual(r.shape, [3, 21, 17, 1]);
    assert.equal(Array.from(r.data).filter(Number.isNaN).length, 153);
    assert.ok(Math.abs(sum(r.data) - 7749957.09866333) < 1e-3);
    assert.equal(r.data[1000], 8776.8095703125);
  });

  it("row_major.dconn.nii: CIFTI-2 in a NIfTI-2 (dims 5 and 6 become channels, no xform)", () => {
    const img = readNifti(nib("row_major.dconn.nii"));
    const m = nmeta(img);
    assert.equal(m.format, "nifti2");
    assert.deepEqual(m.dim, [6, 1, 1, 1, 1, 10, 10, 1]);
    assert.deepEqual(img.shape, [1, 1, 1, 100]);
    assert.equal(m.intentCode, 3001);
    assert.deepEqual(m.extensionCodes, [32]);
    assert.equal(m.affineSource, "pixdim");
    assert.deepEqual(m.affine, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    assert.equal(img.data[0], Math.fround(0.1621823012828827));
    assert.equal(img.data[1], Math.fround(0.7942845225334167));
    assert.ok(Math.abs(sum(img.data) - 46.74536418868229) < 1e-9);
  });

  it("standard.nii.gz: uint8, sform only (code 2)", () => {
    const img = readNifti(nib("standard.nii.gz"));
    const m = nmeta(img);
    assert.deepEqual(img.shape, [7, 5, 4, 1]);
    assert.ok(img.data instanceof Uint8Array);
    assert.deepEqual([m.qformCode, m.sformCode], [0, 2]);
    assert.deepEqual(m.affine, [1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    assert.deepEqual(img.spacing, [1, 3, 2]);
    assert.deepEqual(img.origin, [0, 0, 0]);
    assert.deepEqual(Array.from(img.data.subarray(0, 4)), [0, 255, 0, 0]);
    assert.equal(sum(img.data), 7650);
  });

  it("niivue FLAIR.nii.gz + lesion.nii.gz: image and mask on one oblique grid", () => {
    const flair = readNifti(niivue("FLAIR.nii.gz"));
    const lesion = readNifti(niivue("lesion.nii.gz"));
    const expected = [
      0.9935920238494873, 0.01600503921508789, 0.11188727617263794, -64.89823913574219, -0.049704909324645996,
      0.9509366750717163, 0.3053668737411499, -110.43114471435547, -0.10151028633117676, -0.3089714050292969,
      0.9456385970115662, -27.925539016723633, 0, 0, 0, 1,
    ];
    for (const img of [flair, lesion]) {
      assert.deepEqual(img.shape, [140, 160, 124, 1]);
      assert.ok(img.data instanceof Uint8Array);
      closeArray(nmeta(img).affine, expected, 1e-12);
      assert.deepEqual(img.spacing, [1, 1, 1]);
      closeArray(img.origin, [64.89823913574219, 110.43114471435547, -27.925539016723633], 1e-12);
      // Unit columns of the sform with x and y negated (RAS → LPS); the columns' lengths are 1 ± 3e-8.
      closeArray(
        img.direction,
        [
          -0.993592010883445, -0.016005038811740868, -0.1118872735821243, 0.04970490867601362,
          -0.9509366511069217, -0.3053668666710247, -0.1015102850065016, -0.3089713972428307,
          0.9456385751173011,
        ],
        1e-12,
      );
    }
    assert.equal(sum(flair.data), 115231646);
    assert.equal(sum(lesion.data), 68124);
    assert.deepEqual([...new Set(lesion.data)].sort(), [0, 1, 2, 3]);
  });

  it("header-only .hdr files: NIfTI-1 pair, NIfTI-2 pair and SPM Analyze", () => {
    const mni = [-2, 0, 0, 90, 0, 2, 0, -126, 0, 0, 2, -72, 0, 0, 0, 1];
    const n1 = readNiftiHeader(nib("nifti1.hdr"));
    assert.equal(n1.format, "nifti1");
    assert.equal(n1.singleFile, false);
    assert.deepEqual(n1.dim.slice(0, 4), [3, 91, 109, 91]);
    assert.equal(n1.datatype, 4);
    assert.deepEqual([n1.qformCode, n1.sformCode], [4, 4]);
    assert.deepEqual(bestAffine(n1).affine, mni);
    const n2 = readNiftiHeader(nib("nifti2.hdr"));
    assert.equal(n2.format, "nifti2");
    assert.deepEqual(n2.dim.slice(0, 4), [3, 91, 109, 91]);
    assert.deepEqual(bestAffine(n2).affine, mni);
    const an = readNiftiHeader(nib("analyze.hdr"));
    assert.equal(an.format, "analyze");
    assert.equal(an.littleEndian, false);
    assert.deepEqual(an.dim.slice(0, 5), [4, 91, 109, 91, 1]);
    assert.equal(an.datatype, 2);
    assert.deepEqual(an.analyzeOrigin, [46, 64, 37]);
    assert.deepEqual(bestAffine(an), { affine: mni, source: "analyze" });
    // The .img files are not in the data set: reading the image is a typed error naming what was tried.
    for (const f of ["nifti1.hdr", "nifti2.hdr", "analyze.hdr"]) {
      assert.throws(
        () => readNifti(nib(f)),
        (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_MISSING_IMAGE") && e.message.includes(".img"),
      );
    }
  });

  it("isNifti recognises every NIfTI file (gzip or not) and nothing else", () => {
    const yes = ["anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "nifti1.hdr", "nifti2.hdr"];
    for (const f of yes) assert.equal(isNifti(readFileSync(nib(f))), true, f);
    assert.equal(isNifti(readFileSync(niivue("lesion.nii.gz"))), true);
    for (const f of ["analyze.hdr", "test.mgz"]) assert.equal(isNifti(readFileSync(nib(f))), false, f);
    assert.equal(isNifti(readFileSync(sharedData("dicom", "pydicom", "CT_small.dcm"))), false);
  });

  it("test.mgz (MGH, not NIfTI) is refused with a typed error", () => {
    assert.throws(
      () => readNifti(nib("test.mgz")),
      (e: unknown) => isRadioLensError(e, "RL_ERR_NIFTI_INVALID") && e.message.includes("sizeof_hdr"),
    );
  });

  it("covers every file of the folder", () => {
    const tested = new Set([
      "analyze.hdr",
      "anatomical.nii",
      "example4d.nii.gz",
      "example_nifti2.nii.gz",
      "functional.nii",
      "nifti1.hdr",
      "nifti2.hdr",
      "reoriented_anat_moved.nii",
      "resampled_anat_moved.nii",
      "row_major.dconn.nii",
      "standard.nii.gz",
      "test.mgz",
      "FLAIR.nii.gz",
      "lesion.nii.gz",
    ]);
    const present = [
      ...readdirSync(sharedData("nifti", "nibabel")),
      ...readdirSync(sharedData("nifti", "niivue")),
    ];
    assert.deepEqual(
      present.filter((f) => !tested.has(f)),
      [],
    );
  });
});
