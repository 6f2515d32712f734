/** Segmentation and DICOM sources on real files: FLAIR + lesion NIfTI slices, a DICOM folder joined to labels by UID. */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { isRadioLensError } from "../core/errors.js";
import { dicomFolderSource } from "./dicom.js";
import { DataLoader } from "./loader.js";
import { splitByRatio, splitInput } from "./split.js";
import { niftiPairSource } from "./volumes.js";

const FLAIR = sharedData("nifti/niivue/FLAIR.nii.gz");
const LESION = sharedData("nifti/niivue/lesion.nii.gz");

describe("NIfTI image + mask pairs", () => {
  test("slices of FLAIR with the binarized lesion mask (counts checked against a plain gzip+header read)", async () => {
    const src = niftiPairSource([{ image: FLAIR, mask: LESION, patient: "P1" }], {
      slices: true,
      binarize: true,
    });
    assert.deepEqual(src.task, { type: "segmentation", classNames: ["background", "foreground"] });
    // lesion.nii.gz is 124×160×140 (x, y, z); z-slices become items, and each of the 140 holds lesion voxels.
    assert.equal(src.size, 140);
    let fg = 0;
    for (let i = 0; i < src.size; i++) {
      const s = await src.load(i);
      assert.deepEqual(s.image.shape, [160, 124, 1]);
      assert.deepEqual(s.mask?.shape, [160, 124, 1]);
      for (const v of s.mask?.data ?? []) fg += v;
    }
    // Voxels with label 1, 2 or 3: 1,125 + 27,069 + 4,287.
    assert.equal(fg, 32_481);
    const batch = (await new DataLoader(src, { batchSize: 4, seed: 1 }).epoch().next()).value;
    assert.deepEqual(batch?.xShape, [4, 160, 124, 1]);
    assert.deepEqual(batch?.yShape, [4, 160, 124, 2]);
    let ones = 0;
    for (const v of batch?.y ?? []) ones += v;
    assert.equal(ones, 4 * 160 * 124, "one-hot: exactly one class per pixel");
  });

  test("unmerged grades need their class names; whole volumes keep the grid", async () => {
    assert.throws(
      () => niftiPairSource([{ image: FLAIR, mask: LESION }]),
      (e) => isRadioLensError(e, "RL_ERR_LABEL_OUT_OF_RANGE") && /holds value [23]/.test(e.message),
    );
    const src = niftiPairSource([{ image: FLAIR, mask: LESION }], { classNames: ["bg", "g1", "g2", "g3"] });
    assert.equal(src.size, 1);
    const s = await src.load(0);
    assert.deepEqual(s.image.shape, [140, 160, 124, 1]);
    assert.deepEqual(s.mask?.shape, [140, 160, 124, 1]);
    assert.deepEqual(s.mask?.spacing, s.image.spacing);
  });

  test("a mask on another grid is refused", () => {
    assert.throws(
      () =>
        niftiPairSource([{ image: FLAIR, mask: LESION }], {
          reader: (p) => {
            const img = { data: new Uint8Array(8), shape: p === LESION ? [2, 2, 2, 1] : [2, 4, 1, 1] };
            return {
              ...img,
              spacing: [1, 1, 1],
              origin: [0, 0, 0],
              direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
              meta: {},
            };
          },
        }),
      /one channel on the image's grid/,
    );
  });
});

describe("DICOM folder + labels CSV", () => {
  let dir = "";
  const CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322";
  const MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457";
  const MR_SOP = "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rl-dcm-"));
    for (const f of ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm"]) {
      copyFileSync(sharedData("dicom/pydicom", f), join(dir, f));
    }
    writeFileSync(join(dir, "notes.txt"), "not DICOM");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("keyed by StudyInstanceUID: every image of a study gets its label; PatientID groups", async () => {
    const csv = join(dir, "labels.csv");
    writeFileSync(csv, `StudyInstanceUID,label\n${CT_STUDY},normal\n${MR_STUDY},abnormal\n9.9.9,normal\n`);
    const { source, unlabelled, unreadable } = dicomFolderSource(dir, csv);
    assert.deepEqual([source.size, unlabelled, unreadable], [3, 0, 2]); // notes.txt and labels.csv are not DICOM
    assert.deepEqual(source.task.classNames, ["abnormal", "normal"]);
    assert.deepEqual(
      [0, 1, 2].map((i) => [source.label(i), source.group(i)]),
      [
        [1, "1CT1"],
        [0, "4MR1"],
        [0, "4MR1"],
      ],
    );
    const ct = await source.load(0);
    assert.deepEqual(ct.image.shape, [128, 128, 1]);
    const s = splitByRatio(splitInput(source), { ratios: { train: 0.5, test: 0.5 }, seed: 1 });
    const mrSplits = Object.entries(s).filter(([, idx]) => idx.includes(1) || idx.includes(2));
    assert.equal(mrSplits.length, 1, "both MR images of patient 4MR1 land in one split");
  });

  test("keyed by SOPInstanceUID; nothing matching is refused", () => {
    const csv = join(dir, "sop.csv");
    writeFileSync(csv, `uid,finding\n${MR_SOP},lesion\n${MR_SOP}.1,none\n`);
    const { source, unlabelled } = dicomFolderSource(dir, csv, {
      key: "SOPInstanceUID",
      uidColumn: "uid",
      labelColumn: "finding",
    });
    assert.deepEqual([source.size, unlabelled], [2, 1]);
    writeFileSync(csv, "SOPInstanceUID,label\n1.2.3,a\n1.2.4,b\n");
    assert.throws(() => dicomFolderSource(dir, csv, { key: "SOPInstanceUID" }), /no DICOM file/);
  });
});
