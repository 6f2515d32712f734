/** Decodes uploads: small images on the event loop, large ones in worker threads so their decoding runs beside inference instead of blocking it. */
import { Worker } from "node:worker_threads";
import { type ErrorCode, type ErrorDetails, RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import { DicomError, type DicomErrorCode } from "../io/dicom/index.js";
import { decodedPixels, decodeUpload } from "./decode.js";

/** Decodes one upload: inline when the image is small or there are no workers, else in the worker pool. */
export interface UploadDecoder {
  decode(body: Uint8Array, contentType: string): Promise<{ image: MedicalImage; format: string }>;
  close(): Promise<void>;
  /** Uploads decoded so far on the event loop and in the pool. */
  readonly counts: { inline: number; pooled: number };
}

type Reply =
  | { ready: true }
  | { id: number; format: string; image: MedicalImage }
  | {
      id: number;
      error:
        | { kind: "radiolens"; code: ErrorCode; details: ErrorDetails }
        | { kind: "dicom"; code: DicomErrorCode; message: string }
        | { kind: "other"; message: string };
    };

interface Job {
  readonly id: number;
  readonly body: Uint8Array;
  readonly contentType: string;
  readonly resolve: (r: { image: MedicalImage; format: string }) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  job: Job | undefined;
}

function spawn(): Worker {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const url = new URL(`./decode-worker${ext}`, import.meta.url);
  // A worker does not inherit tsx's loader hooks: from sources it registers them before importing the worker.
  return ext === ".ts"
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`,
        { eval: true },
      )
    : new Worker(url);
}

/**
 * Images up to this many pixels (512 × 512) are decoded on the event loop by default: a 224×224 PNG decodes in
 * about 0.2 ms, less than a round trip to a worker thread (message, copy of the body, wake-up of the thread) on a
 * loaded 2-core host; a 2000×2000 X-ray takes tens of milliseconds and goes to the pool.
 */
export const DEFAULT_INLINE_PIXELS = 512 * 512;

/**
 * Creates the decoder: `workers` threads (0 decodes everything inline on the event loop). An upload whose image
 * has at most `inlinePixels` pixels ({@link decodedPixels}) is decoded inline unless `concurrent()` says other
 * requests are in flight and a worker is idle: then the event loop, which is what those requests wait on, is
 * spared the decode. Larger images always go to the pool. Pool jobs queue in arrival order; a worker that dies
 * fails its job with RL_ERR_INTERNAL and is replaced.
 *
 * @example
 * ```ts
 * const dec = createUploadDecoder(1);
 * const { image } = await dec.decode(pngBytes, "image/png");
 * await dec.close();
 * ```
 */
export function createUploadDecoder(
  workers: number,
  inlinePixels = DEFAULT_INLINE_PIXELS,
  concurrent: () => boolean = () => false,
): UploadDecoder {
  const counts = { inline: 0, pooled: 0 };
  if (workers <= 0) {
    return {
      decode: (b, t) => {
        counts.inline++;
        return decodeUpload(b, t);
      },
      close: async () => {},
      counts,
    };
  }
  const queue: Job[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  const pump = (): void => {
    for (const s of slots) {
      if (!s.ready || s.job) continue;
      const job = queue.shift();
      if (!job) return;
      s.job = job;
      s.worker.postMessage({ id: job.id, body: job.body, contentType: job.contentType });
    }
  };

  const add = (): void => {
    const slot: Slot = { worker: spawn(), ready: false, job: undefined };
    slot.worker.unref();
    slot.worker.on("message", (r: Reply) => {
      if ("ready" in r) {
        slot.ready = true;
        pump();
        return;
      }
      const job = slot.job;
      slot.job = undefined;
      if (job && job.id === r.id) {
        if ("error" in r) {
          const e = r.error;
          job.reject(
            e.kind === "radiolens"
              ? new RadioLensError(e.code, e.details)
              : e.kind === "dicom"
                ? new DicomError(e.code, e.message)
                : new RadioLensError("RL_ERR_IMAGE_DECODE", { path: "upload", detail: e.message }),
          );
        } else job.resolve({ image: r.image, format: r.format });
      }
      pump();
    });
    slot.worker.on("error", () => undefined);
    slot.worker.on("exit", () => {
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      slot.job?.reject(new RadioLensError("RL_ERR_INTERNAL", { detail: "a decode worker stopped" }));
      if (!closed) add();
    });
    slots.push(slot);
  };
  for (let i = 0; i < workers; i++) add();

  return {
    decode: (body, contentType) =>
      new Promise((resolve, reject) => {
        const idleWorker = queue.length === 0 && slots.some((s) => s.ready && !s.job);
        if (!closed && decodedPixels(body) <= inlinePixels && !(idleWorker && concurrent())) {
          counts.inline++;
          decodeUpload(body, contentType).then(resolve, reject);
          return;
        }
        if (closed) {
          reject(new RadioLensError("RL_ERR_INTERNAL", { detail: "the decoder is closed" }));
          return;
        }
        counts.pooled++;
        queue.push({ id: nextId++, body, contentType, resolve, reject });
        pump();
      }),
    close: async () => {
      closed = true;
      for (const j of queue.splice(0))
        j.reject(new RadioLensError("RL_ERR_INTERNAL", { detail: "shutting down" }));
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
    counts,
  };
}
