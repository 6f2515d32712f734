/** Served models: bundles loaded once, a predictor seam (tfjs today, any InferenceRuntime later) and micro-batching. */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import type { RuntimeKind } from "../engine/runtime/index.js";
import { loadBundle, type ModelCard, readCard } from "../models/bundle.js";
import { openBundle, pickRuntime } from "../models/onnx/bundle-runtime.js";
import { type Prediction, predictionsOf, preprocessBatch } from "../models/predict.js";
import { loadSeg3DModel, type Seg3DModel } from "../train/seg3d.js";

/**
 * Runs a model on a batch of images: one function, or the two stages apart (preprocessing into one input batch,
 * then the runtime) so that each batch's time is reported per stage.
 */
export type Predictor =
  | ((images: readonly MedicalImage[]) => Promise<Prediction[]> | Prediction[])
  | {
      readonly prepare: (images: readonly MedicalImage[]) => Float32Array;
      readonly run: (x: Float32Array) => Promise<Prediction[]> | Prediction[];
    };

/**
 * Micro-batching settings. With `maxWaitMs` 0 (the default) a batch starts as soon as the engine is free and holds
 * every request that arrived while the previous batch ran, so an idle server adds no latency; a positive
 * `maxWaitMs` holds the first request up to that long for company.
 */
export interface BatchingOptions {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
}

/** Statistics hook called after every batch (for Prometheus). */
export type BatchObserver = (modelId: string, size: number, seconds: number) => void;

/** One request's prediction with where its time went (ms): waiting for its batch, preprocessing, the runtime. */
export interface TimedPrediction {
  readonly prediction: Prediction;
  readonly waitMs: number;
  /** Preprocessing of the whole batch (0 for a one-function predictor, whose time is all `runMs`). */
  readonly prepareMs: number;
  readonly runMs: number;
  readonly batchSize: number;
}

interface Waiting {
  readonly image: MedicalImage;
  readonly queuedAt: number;
  readonly resolve: (p: TimedPrediction) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Collects concurrent requests into batches so the engine runs one larger matrix product instead of many small
 * ones (the dynamic batching of Triton / TorchServe).
 *
 * @example
 * ```ts
 * const b = new MicroBatcher("default", (imgs) => predictImages(model, card, imgs), { maxBatchSize: 16, maxWaitMs: 2 });
 * const p = await b.predict(image);
 * ```
 */
export class MicroBatcher {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    readonly modelId: string,
    private readonly predictor: Predictor,
    private readonly opts: BatchingOptions,
    private readonly observe?: BatchObserver,
  ) {}

  /** Queues one image; resolves with its prediction. */
  async predict(image: MedicalImage): Promise<Prediction> {
    return (await this.predictTimed(image)).prediction;
  }

  /** Queues one image; resolves with its prediction and the time it spent in each stage. */
  predictTimed(image: MedicalImage): Promise<TimedPrediction> {
    return new Promise((resolve, reject) => {
      this.queue.push({ image, queuedAt: performance.now(), resolve, reject });
      if (this.queue.length >= this.opts.maxBatchSize) this.kick(0);
      else this.kick(this.opts.maxWaitMs);
    });
  }

  private kick(delay: number): void {
    if (this.running) return;
    if (delay === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => void this.flush());
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, delay);
    }
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.opts.maxBatchSize);
    const t0 = performance.now();
    let t1 = t0;
    try {
      const images = batch.map((w) => w.image);
      let out: Prediction[];
      if (typeof this.predictor === "function") out = await this.predictor(images);
      else {
        const x = this.predictor.prepare(images);
        t1 = performance.now();
        out = await this.predictor.run(x);
      }
      const t2 = performance.now();
      batch.forEach((w, i) => {
        const p = out[i];
        if (p)
          w.resolve({
            prediction: p,
            waitMs: t0 - w.queuedAt,
            prepareMs: t1 - t0,
            runMs: t2 - t1,
            batchSize: batch.length,
          });
        else
          w.reject(
            new RadioLensError("RL_ERR_INTERNAL", { detail: "the model returned fewer rows than inputs" }),
          );
      });
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.observe?.(this.modelId, batch.length, (performance.now() - t0) / 1000);
      this.running = false;
      if (this.queue.length > 0)
        this.kick(this.queue.length >= this.opts.maxBatchSize ? 0 : this.opts.maxWaitMs);
    }
  }
}

/** One served model. */
export interface ServedModel {
  readonly id: string;
  /** The result objects each analysis of a received instance produces (see {@link RESULT_KINDS}). */
  readonly results: readonly ResultKind[];
  readonly dir: string;
  readonly card: ModelCard;
  /** What runs predictions: ONNX Runtime or tfjs. */
  readonly runtime: RuntimeKind;
  readonly batcher: MicroBatcher;
  /** The tfjs model when the bundle has tfjs weights (Grad-CAM needs its layers, whatever runs predictions). */
  readonly layers?: tfl.LayersModel;
  /**
   * A 3D segmentation bundle (architecture unet3d, src/train/seg3d.ts): it analyses whole series as volumes
   * (routing level series or study) and produces a DICOM SEG and a TID 1500 SR of segment volumes.
   */
  readonly segmentation?: Seg3DModel;
  /** Frees the runtime's memory. */
  close(): Promise<void>;
}

/**
 * The DICOM result objects a model's analysis can produce: `report-sr` the Comprehensive SR report
 * (src/radiology-reports), `measurement-report` the TID 1500 Measurement Report (src/results), `secondary-capture`
 * the heatmap burned into an image, `parametric-map` the heatmap as float values a viewer overlays.
 *
 * @example
 * ```ts
 * RESULT_KINDS.includes("parametric-map"); // true
 * ```
 */
export const RESULT_KINDS = [
  "report-sr",
  "measurement-report",
  "secondary-capture",
  "parametric-map",
] as const;

/** One of {@link RESULT_KINDS}. */
export type ResultKind = (typeof RESULT_KINDS)[number];

/**
 * The results of a model whose source does not choose: the report SR and the heatmap Secondary Capture.
 *
 * @example
 * ```ts
 * const kinds = source.results ?? DEFAULT_RESULTS;
 * ```
 */
export const DEFAULT_RESULTS: readonly ResultKind[] = ["report-sr", "secondary-capture"];

/**
 * Where a model comes from: a bundle folder, the id it is served under (default: the folder name) and the runtime
 * (default: ONNX Runtime when the card lists `model.onnx`, as `radiolens export` promises, else tfjs).
 */
export interface ModelSource {
  readonly dir: string;
  readonly id?: string;
  readonly runtime?: RuntimeKind;
  /** Result objects per analysis (default {@link DEFAULT_RESULTS}). */
  readonly results?: readonly ResultKind[];
}

/**
 * Loads every bundle and wraps it in a micro-batcher. Ids must be unique and URL-safe.
 *
 * @example
 * ```ts
 * const models = await loadServedModels([{ dir: "models/default", id: "default" }], { maxBatchSize: 16, maxWaitMs: 2 });
 * ```
 */
export async function loadServedModels(
  sources: readonly ModelSource[],
  batching: BatchingOptions,
  observe?: BatchObserver,
): Promise<Map<string, ServedModel>> {
  const out = new Map<string, ServedModel>();
  for (const s of sources) {
    const dir = resolve(s.dir);
    const id = s.id ?? basename(dir);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `model id '${id}' must be 1-64 letters, digits, '.', '_' or '-' (give another with id=)`,
      });
    }
    if (out.has(id)) throw new RadioLensError("RL_ERR_USAGE", { detail: `two models are served as '${id}'` });
    const card = readCard(dir);
    if (card.architecture === "unet3d") {
      const seg = await loadSeg3DModel(dir);
      const refuse = (): never => {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `model '${id}' segments volumes: route series to it with a series- or study-level rule`,
        });
      };
      out.set(id, {
        id,
        results: s.results ?? DEFAULT_RESULTS,
        dir,
        card,
        runtime: "tfjs",
        segmentation: seg,
        batcher: new MicroBatcher(id, refuse, batching, observe),
        close: async () => {
          seg.model.dispose();
        },
      });
      continue;
    }
    const runtime = pickRuntime(card, s.runtime);
    // tfjs layers whenever the bundle has them: the predictor when tfjs runs, Grad-CAM in either case.
    const layers =
      card.files.tfjs && existsSync(join(dir, card.files.tfjs)) ? (await loadBundle(dir)).model : undefined;
    if (runtime === "tfjs" && !layers) {
      throw new RadioLensError("RL_ERR_RUNTIME_UNAVAILABLE", {
        runtime: "tfjs",
        path: dir,
        detail: "the bundle has no tfjs weights; serve it with runtime onnx",
      });
    }
    // On tfjs the bundle opens its own copy of the model, with the OOD feature outputs; `layers` stays for Grad-CAM.
    const m = await openBundle(dir, { runtime });
    const predictor: Predictor = {
      prepare: (images) => preprocessBatch(card, images),
      run: async (x) => {
        const { rows, ood } = await m.predictWithOod(x);
        return predictionsOf(card, rows, ood);
      },
    };
    const close = async (): Promise<void> => {
      await m.close();
      layers?.dispose();
    };
    out.set(id, {
      id,
      results: s.results ?? DEFAULT_RESULTS,
      dir,
      card,
      runtime,
      ...(layers ? { layers } : {}),
      batcher: new MicroBatcher(id, predictor, batching, observe),
      close,
    });
  }
  return out;
}
