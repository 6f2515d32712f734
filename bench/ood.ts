/**
 * Out-of-distribution and calibration figures of a bundle (default: models/default, what `npm start` serves):
 * PneumoniaMNIST test as in distribution against sets built from ../shared/data, rendered to the model's input the
 * way `radiolens predict` renders them (DICOM through its VOI, NIfTI slices min-max to 8 bits, colour to gray by
 * the card's steps), plus seeded generated non-medical images; AUROC and FPR at 95% TPR per set and pooled; the
 * fraction of real adult chest radiographs (../shared/data/xray) kept; ECE on the test split before and after the
 * card's temperature; accuracy and AUC ungated and on the images the detector keeps.
 *
 * Usage: npm run bench:ood [-- --model DIR]
 */
import { createImage, type MedicalImage } from "../src/core/image.js";
import { Rng } from "../src/core/rng.js";
import { loadImageSet } from "../src/data/image-set.js";
import { loadNpzDataset } from "../src/data/npz-dataset.js";
import { evaluatePredictions } from "../src/metrics/index.js";
import { eceOf } from "../src/models/calibration.js";
import { openBundle } from "../src/models/onnx/bundle-runtime.js";
import { oodMetrics } from "../src/models/ood.js";
import { preprocessBatch } from "../src/models/predict.js";
import { sharedData } from "../test/support/shared-data.js";

const argv = process.argv.slice(2);
const dir =
  argv[argv.indexOf("--model") + 1] && argv.includes("--model")
    ? (argv[argv.indexOf("--model") + 1] as string)
    : "models/default";

/** Seeded non-medical pictures: colour gradients, noise, checkerboards, plane waves, discs on a background. */
function generated(n: number): MedicalImage[] {
  const rng = new Rng(20260101);
  const out: MedicalImage[] = [];
  for (let k = 0; k < n; k++) {
    const r = 64;
    const c = 64;
    const d = new Uint8Array(r * c * 3);
    const kind = k % 5;
    const base = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)] as const;
    const cx = rng.uniform(10, 54);
    const cy = rng.uniform(10, 54);
    const rad = rng.uniform(5, 25);
    for (let y = 0; y < r; y++)
      for (let x = 0; x < c; x++)
        for (let ch = 0; ch < 3; ch++) {
          const b = base[ch] as number;
          let v: number;
          if (kind === 0) v = b * (x / c) + (255 - b) * (y / r);
          else if (kind === 1) v = rng.int(0, 255);
          else if (kind === 2) v = (Math.floor(x / 8) + Math.floor(y / 8)) % 2 ? b : 255 - b;
          else if (kind === 3)
            v = 128 + 100 * Math.sin(((x * base[0]) / 255 + (y * base[1]) / 255) * 0.5 + ch);
          else v = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad ? b : 255 - b;
          d[(y * c + x) * 3 + ch] = Math.max(0, Math.min(255, v));
        }
    out.push(createImage(d, [r, c, 3], { meta: { format: "generated" } }));
  }
  return out;
}

const m = await openBundle(dir);
const card = m.card;
const ds = loadNpzDataset(sharedData("medmnist/pneumoniamnist.npz"), ["test"]);
const test = ds.splits["test"]!;
const inRes = await m.predictWithOod(test.x);
if (!inRes.ood) throw new Error(`${dir} has no OOD detector`);
const inScores = inRes.ood.map((o) => o.score);
const threshold = inRes.ood[0]?.threshold as number;

const dicom = await loadImageSet(sharedData("dicom/pydicom"));
const sets: [string, MedicalImage[]][] = [
  [
    "CT and MR DICOM (pydicom corpus)",
    dicom.images.filter((i) => i.meta["modality"] === "CT" || i.meta["modality"] === "MR"),
  ],
  [
    "other DICOM (US, NM, SC/OT, SEG, RT dose…)",
    dicom.images.filter((i) => i.meta["modality"] !== "CT" && i.meta["modality"] !== "MR"),
  ],
  [
    "NIfTI FLAIR brain MR slices",
    (await loadImageSet(sharedData("nifti/niivue/FLAIR.nii.gz"), { slicesPerVolume: 40 })).images,
  ],
  [
    "MSD hippocampus MR slices",
    (
      await loadImageSet(sharedData("segmentation/msd-hippocampus/imagesTr"), {
        slicesPerVolume: 3,
        limit: 300,
      })
    ).images,
  ],
  ["RetinaMNIST test (colour fundus)", (await loadImageSet(sharedData("medmnist/retinamnist.npz"))).images],
  [
    "AdrenalMNIST3D test (CT slices)",
    (await loadImageSet(sharedData("medmnist/adrenalmnist3d.npz"), { slicesPerVolume: 1 })).images,
  ],
  ["generated non-medical images", generated(200)],
];
console.log(`model ${card.name} ${card.version} (${m.runtime.kind}); threshold ${threshold.toFixed(3)}`);
console.log("| OOD set | n | ood_auroc | ood_fpr_at_95_tpr |\n|---|---:|---:|---:|");
const pooled: number[] = [];
for (const [name, images] of sets) {
  const r = await m.predictWithOod(preprocessBatch(card, images));
  const s = (r.ood ?? []).map((o) => o.score);
  pooled.push(...s);
  const q = oodMetrics(inScores, s);
  console.log(`| ${name} | ${s.length} | ${q.auroc.toFixed(4)} | ${q.fprAt95Tpr.toFixed(4)} |`);
}
const all = oodMetrics(inScores, pooled);
console.log(`| **all pooled** | ${pooled.length} | ${all.auroc.toFixed(4)} | ${all.fprAt95Tpr.toFixed(4)} |`);
const xr = await m.predictWithOod(preprocessBatch(card, (await loadImageSet(sharedData("xray"))).images));
const kept = (xr.ood ?? []).filter((o) => o.inDistribution).length;
console.log(
  `\nreal adult chest radiographs (../shared/data/xray) kept in distribution: ${kept}/${xr.rows.length}`,
);

const labels = Array.from(test.labels);
const t = card.calibration?.temperature ?? 1;
// Undo the card's temperature to measure the ECE before scaling: p_raw ∝ p_cal^T.
const raw = inRes.rows.map((r) => {
  const e = Array.from(r, (v) => Math.max(1e-12, v) ** t);
  const s = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (v) => v / s);
});
console.log(
  `\ntemperature ${t.toFixed(4)}; test ECE before ${eceOf(raw, labels, "binary").toFixed(4)}, after ${eceOf(inRes.rows, labels, "binary").toFixed(4)}`,
);
const keep = inRes.ood.map((o) => o.inDistribution);
const ev = (idx: number[]) =>
  evaluatePredictions({
    task: "binary",
    classNames: [...card.labels],
    threshold: card.threshold,
    bootstrap: false,
    labels: idx.map((i) => labels[i] as number),
    scores: idx.map((i) => (inRes.rows[i] as Float32Array)[1] as number),
  });
const allIdx = labels.map((_, i) => i);
const g = allIdx.filter((i) => keep[i]);
const u = ev(allIdx);
const gg = ev(g);
console.log(`| PneumoniaMNIST test | n | accuracy | AUC |\n|---|---:|---:|---:|`);
console.log(`| ungated | ${allIdx.length} | ${u.accuracy.toFixed(4)} | ${u.auc.toFixed(4)} |`);
console.log(
  `| gated (in distribution) | ${g.length} (${((100 * (allIdx.length - g.length)) / allIdx.length).toFixed(1)}% flagged) | ${gg.accuracy.toFixed(4)} | ${gg.auc.toFixed(4)} |`,
);
await m.close();
