/** Segmentation sources: NIfTI image + mask pairs, as whole volumes or as 2D slices along the first (slice) axis. */
import { RadioLensError } from "../core/errors.js";
import { createImage, type MedicalImage, type PixelArray } from "../core/image.js";
import { readNifti } from "../io/nifti/index.js";
import type { DataSource, Sample } from "./types.js";

/** One image/mask pair. */
export interface VolumePair {
  readonly image: string;
  readonly mask: string;
  /** Patient id for grouped splits (slices of one volume always share their volume's group). */
  readonly patient?: string;
}

/** Options for {@link niftiPairSource}. */
export interface VolumePairOptions {
  /** Class names by mask value, background first (default ["background", "foreground"]). */
  readonly classNames?: readonly string[];
  /** Map every non-zero mask value to 1 (e.g. lesion grades 1–3 → lesion). */
  readonly binarize?: boolean;
  /** Yield 2D slices `[rows, cols, ch]` of each volume instead of whole volumes. */
  readonly slices?: boolean;
  /** Keep only slices whose mask has foreground, plus this fraction of empty ones (default 1: keep all). */
  readonly emptySliceFraction?: number;
  /** Volumes kept decoded, least recently used dropped first (default 2); slices of one volume share it. */
  readonly cacheVolumes?: number;
  /** Reads a volume (default: RadioLens's NIfTI reader). */
  readonly reader?: (path: string) => MedicalImage;
}

interface Decoded {
  readonly image: MedicalImage;
  readonly mask: Uint8Array;
}

/**
 * A segmentation DataSource over NIfTI pairs. At creation each mask is read once to check it matches its image's
 * grid and to note which slices hold foreground (kept as one bit of information per item, for stratified splits);
 * pixels are read again lazily in `load`, through a small LRU cache so consecutive slices of a volume decode it once.
 *
 * @example
 * ```ts
 * const src = niftiPairSource([{ image: "FLAIR.nii.gz", mask: "lesion.nii.gz" }], { slices: true, binarize: true });
 * ```
 */
export function niftiPairSource(pairs: readonly VolumePair[], opts: VolumePairOptions = {}): DataSource {
  const classNames = opts.classNames ?? ["background", "foreground"];
  const read = opts.reader ?? ((p: string) => readNifti(p));
  const cache = new Map<number, Decoded>();
  const capacity = Math.max(1, opts.cacheVolumes ?? 2);
  const decode = (v: number): Decoded => {
    const hit = cache.get(v);
    if (hit) {
      cache.delete(v);
      cache.set(v, hit);
      return hit;
    }
    const pair = pairs[v] as VolumePair;
    const image = read(pair.image);
    const m = read(pair.mask);
    const spatial = (s: readonly number[]) => s.slice(0, -1).join("×");
    if (spatial(image.shape) !== spatial(m.shape) || m.shape[m.shape.length - 1] !== 1) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `mask ${pair.mask} is ${m.shape.join("×")}, its image ${pair.image} is ${image.shape.join("×")}; a mask must be one channel on the image's grid`,
      });
    }
    const mask = new Uint8Array(m.data.length);
    for (let i = 0; i < mask.length; i++) {
      const val = Math.round(m.data[i] as number);
      const cls = opts.binarize ? (val > 0 ? 1 : 0) : val;
      if (cls < 0 || cls >= classNames.length) {
        throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
          detail: `mask ${pair.mask} holds value ${val} but only ${classNames.length} classes are named; pass classNames or binarize`,
        });
      }
      mask[i] = cls;
    }
    const d = { image, mask };
    cache.set(v, d);
    if (cache.size > capacity) cache.delete(cache.keys().next().value as number);
    return d;
  };

  // Items: [volume, slice] (slice -1 = whole volume) and whether each has foreground.
  const itemVolume: number[] = [];
  const itemSlice: number[] = [];
  const itemFg: number[] = [];
  pairs.forEach((_, v) => {
    const { image, mask } = decode(v);
    const s = image.shape;
    if (!opts.slices) {
      itemVolume.push(v);
      itemSlice.push(-1);
      itemFg.push(mask.some((x) => x > 0) ? 1 : 0);
      return;
    }
    if (s.length !== 4) {
      throw new RadioLensError("RL_ERR_SHAPE_MISMATCH", {
        detail: `${pairs[v]?.image} is not a volume; slices need [slices, rows, cols, ch]`,
      });
    }
    const per = (s[1] as number) * (s[2] as number);
    const keepEmpty = opts.emptySliceFraction ?? 1;
    let emptySeen = 0;
    for (let k = 0; k < (s[0] as number); k++) {
      let fg = 0;
      for (let i = k * per; i < (k + 1) * per; i++) {
        if ((mask[i] as number) > 0) {
          fg = 1;
          break;
        }
      }
      // Deterministic thinning of empty slices: keep every round(1/fraction)-th one.
      if (!fg) {
        emptySeen++;
        if (keepEmpty <= 0 || (keepEmpty < 1 && emptySeen % Math.max(1, Math.round(1 / keepEmpty)) !== 0))
          continue;
      }
      itemVolume.push(v);
      itemSlice.push(k);
      itemFg.push(fg);
    }
  });

  return {
    task: { type: "segmentation", classNames },
    size: itemVolume.length,
    label: (i) => itemFg[i] as number,
    group: (i) => pairs[itemVolume[i] as number]?.patient,
    async load(i): Promise<Sample> {
      const v = itemVolume[i];
      if (v === undefined) throw new RangeError(`index ${i} outside 0..${itemVolume.length - 1}`);
      const { image, mask } = decode(v);
      const k = itemSlice[i] as number;
      if (k < 0) {
        return {
          image,
          mask: createImage(mask, [...image.shape.slice(0, -1), 1], {
            spacing: image.spacing,
            origin: image.origin,
            direction: image.direction,
          }),
          label: itemFg[i] as number,
          index: i,
        };
      }
      const [, rows, cols, ch] = image.shape as [number, number, number, number];
      const per = rows * cols;
      const data = image.data.slice(k * per * ch, (k + 1) * per * ch) as PixelArray;
      const meta = { ...image.meta, slice: k };
      const spacing = image.spacing.slice(0, 2);
      return {
        image: createImage(data, [rows, cols, ch], { spacing, meta }),
        mask: createImage(mask.slice(k * per, (k + 1) * per), [rows, cols, 1], { spacing }),
        label: itemFg[i] as number,
        index: i,
      };
    },
  };
}
