/** Medical Segmentation Decathlon task folders (`imagesTr/` + `labelsTr/`, optional `dataset.json`) and seeded k-fold splits. */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { Rng } from "../core/rng.js";

/** One training case of an MSD task. */
export interface MsdCase {
  /** File name without `.nii(.gz)`, e.g. `hippocampus_001`. */
  readonly id: string;
  readonly image: string;
  readonly label: string;
}

/** A task folder as read by {@link readMsdTask}. */
export interface MsdTask {
  readonly name: string;
  /** Class names by label value, background first. */
  readonly labels: readonly string[];
  /** Imaging modality of channel 0 (`MRI`, `CT`, ...); decides the intensity normalisation. */
  readonly modality: string;
  readonly cases: readonly MsdCase[];
}

const NII = /\.nii(\.gz)?$/;

/**
 * Reads an MSD task folder (Antonelli et al. 2022, Nat. Commun. 13:4128; layout of the Decathlon release): image
 * and label files are paired by name; `dataset.json` supplies the label names and modality when present, otherwise
 * the names come from `opts.labels` (default background + foreground) and the modality is `MRI`. Files starting
 * with `._` (macOS resource forks shipped in the original tarballs) are skipped.
 *
 * @example
 * ```ts
 * const task = readMsdTask("../shared/data/segmentation/msd-hippocampus");
 * console.log(task.cases.length, task.labels); // 208 ["background", "Anterior", "Posterior"]
 * ```
 */
export function readMsdTask(dir: string, opts: { readonly labels?: readonly string[] } = {}): MsdTask {
  const imagesDir = join(dir, "imagesTr");
  const labelsDir = join(dir, "labelsTr");
  if (!existsSync(imagesDir) || !statSync(imagesDir).isDirectory() || !existsSync(labelsDir)) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `${dir} is not an MSD task folder: it needs imagesTr/ and labelsTr/ with NIfTI files of the same names`,
    });
  }
  const list = (d: string) =>
    readdirSync(d)
      .filter((f) => NII.test(f) && !f.startsWith("._"))
      .sort();
  const labelFiles = new Set(list(labelsDir));
  const cases: MsdCase[] = [];
  for (const f of list(imagesDir)) {
    // MSD images of multi-channel tasks are one 4D file per case; a `_0000` suffix (nnU-Net's raw layout) is
    // accepted too, the label keeping the plain name.
    const plain = f.replace(/_0000(\.nii(\.gz)?)$/, "$1");
    if (!labelFiles.has(plain)) continue;
    cases.push({
      id: basename(plain).replace(NII, ""),
      image: join(imagesDir, f),
      label: join(labelsDir, plain),
    });
  }
  if (cases.length === 0) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `${dir}: no image in imagesTr/ has a label of the same name in labelsTr/`,
    });
  }
  let labels: readonly string[] = opts.labels ?? ["background", "foreground"];
  let modality = "MRI";
  let name = basename(dir);
  const meta = join(dir, "dataset.json");
  if (existsSync(meta)) {
    try {
      const j = JSON.parse(readFileSync(meta, "utf8")) as {
        name?: string;
        labels?: Record<string, string>;
        modality?: Record<string, string>;
      };
      if (j.labels) {
        const entries = Object.entries(j.labels).map(([k, v]) => [Number(k), v] as const);
        const out: string[] = [];
        for (const [k, v] of entries) out[k] = v;
        labels = Array.from(out, (v, i) => v ?? `label${i}`);
      }
      if (j.modality?.["0"]) modality = j.modality["0"];
      if (j.name) name = j.name;
    } catch (e) {
      throw new RadioLensError("RL_ERR_CONFIG_INVALID", {
        detail: `${meta} is not valid JSON (${(e as Error).message})`,
      });
    }
  }
  return { name, labels, modality, cases };
}

/**
 * Seeded k-fold split of case indices: one permutation from the seed, fold `f` takes every k-th case of it, so folds
 * differ in size by at most one and the same (seed, k) always gives the same folds, whatever the machine.
 *
 * @example
 * ```ts
 * const { train, val } = kFold(208, 5, 0, 12345); // 166 / 42
 * ```
 */
export function kFold(
  n: number,
  k: number,
  fold: number,
  seed: number,
): { readonly train: number[]; readonly val: number[] } {
  if (!Number.isInteger(k) || k < 2 || k > n) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `--folds must be an integer from 2 to ${n}, got ${k}`,
    });
  }
  if (!Number.isInteger(fold) || fold < 0 || fold >= k) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `--fold must be an integer from 0 to ${k - 1}, got ${fold}`,
    });
  }
  const perm = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  const train: number[] = [];
  const val: number[] = [];
  perm.forEach((c, i) => {
    (i % k === fold ? val : train).push(c);
  });
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}
