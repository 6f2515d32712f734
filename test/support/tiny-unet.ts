/** Test helper: a tiny 3D U-Net bundle trained for seconds on synthetic CT phantoms (NIfTI written from generated DICOM series). */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createImage } from "../../src/core/image.js";
import { parseDicom, seriesToVolume } from "../../src/io/dicom/index.js";
import { writeNifti } from "../../src/io/nifti/index.js";
import { trainSegmentation3D } from "../../src/train/seg3d.js";
import { ctSeries, ellipsoidLabels } from "./synthetic-ct.js";

/**
 * Trains a 3D U-Net (labels background, organ, lesion) on two {@link ctSeries} phantoms of `slices` × `size`²
 * and writes its bundle to `dir/unet`; about 40 steps on 8 × 16 × 16 patches, seconds on two cores, enough to
 * find the phantom's organ. Returns the bundle folder.
 *
 * @example
 * ```ts
 * const bundle = await trainTinyUnet(work, 8, 32);
 * ```
 */
export async function trainTinyUnet(dir: string, slices: number, size: number): Promise<string> {
  const task = join(dir, "task");
  mkdirSync(join(task, "imagesTr"), { recursive: true });
  mkdirSync(join(task, "labelsTr"), { recursive: true });
  for (const seed of [11, 12]) {
    const { image } = await seriesToVolume(ctSeries(slices, size, seed).files.map((f) => parseDicom(f)));
    const labels = createImage(ellipsoidLabels(slices, size), image.shape, {
      spacing: image.spacing,
      origin: image.origin,
      direction: image.direction,
    });
    writeNifti(join(task, "imagesTr", `ct_${seed}.nii.gz`), image);
    writeNifti(join(task, "labelsTr", `ct_${seed}.nii.gz`), labels);
  }
  const out = join(dir, "unet");
  await trainSegmentation3D({
    data: task,
    out,
    seed: 3,
    allCases: true,
    labels: ["background", "organ", "lesion"],
    plan: {
      patch: [8, 16, 16],
      depth: 2,
      baseFilters: 4,
      batchSize: 2,
      steps: 40,
      learningRate: 0.02,
      deepSupervision: 0,
      targetSpacing: [2.5, 0.7, 0.7],
    },
    mirror: false,
  });
  return out;
}
