/** Runs compressed-frame decoding in worker threads under a time limit; a stuck codec is terminated, not awaited. */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { DecodedFrame, FrameSpec } from "./codecs.js";
import { DicomError, type DicomErrorCode } from "./errors.js";
import type { PixelEncoding } from "./transfer-syntax.js";

/**
 * Default time one compressed frame may take to decode, in milliseconds.
 *
 * @example
 * ```ts
 * await decodeStoredPixels(parsed, { frameTimeLimitMs: DEFAULT_FRAME_TIME_LIMIT_MS * 4 });
 * ```
 */
export const DEFAULT_FRAME_TIME_LIMIT_MS = 5000;

type Reply =
  | { id: number; ok: true; frame: DecodedFrame }
  | { id: number; ok: false; code: DicomErrorCode; message: string }
  | { ready: boolean; message?: string }
  | { warmed: true };

interface Job {
  readonly id: number;
  readonly encoding: PixelEncoding;
  readonly data: Uint8Array;
  readonly spec: FrameSpec;
  readonly timeLimitMs: number;
  /** `performance.now()` after which the job is refused (the whole file's budget). */
  readonly deadline: number;
  readonly resolve: (f: DecodedFrame) => void;
  readonly reject: (e: DicomError) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  readyWaiters: (() => void)[];
  warmWaiters: (() => void)[];
}

const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism()));
const slots: (Slot | undefined)[] = new Array(POOL_SIZE).fill(undefined);
const queue: Job[] = [];
let nextId = 1;

function spawn(index: number): Slot {
  // Under tsx the sources are .ts; compiled, they are .js beside this file.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const url = new URL(`./codec-worker${ext}`, import.meta.url);
  // A worker does not inherit tsx's loader hooks: from sources, it registers them before importing the worker.
  const worker =
    ext === ".ts"
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true },
        )
      : new Worker(url);
  const slot: Slot = {
    worker,
    ready: false,
    job: undefined,
    timer: undefined,
    readyWaiters: [],
    warmWaiters: [],
  };
  worker.on("message", (r: Reply) => {
    if ("ready" in r) {
      slot.ready = true;
      for (const w of slot.readyWaiters.splice(0)) w();
      pump();
      return;
    }
    if ("warmed" in r) {
      for (const w of slot.warmWaiters.splice(0)) w();
      updateRefs();
      return;
    }
    const job = slot.job;
    if (!job || job.id !== r.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    if (r.ok) {
      const f = r.frame;
      job.resolve({ ...f, bytes: new Uint8Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength) });
    } else job.reject(new DicomError(r.code, r.message));
    pump();
  });
  const dead = (why: string) => {
    if (slots[index] !== slot) return;
    slots[index] = undefined;
    clearTimeout(slot.timer);
    slot.job?.reject(new DicomError("DICOM_DECODE", `The codec worker stopped (${why})`));
    slot.job = undefined;
    for (const w of slot.readyWaiters.splice(0)) w();
    for (const w of slot.warmWaiters.splice(0)) w();
    pump();
  };
  worker.on("error", (e) => dead(e.message));
  worker.on("exit", (code) => dead(`exit code ${code}`));
  worker.unref();
  slots[index] = slot;
  return slot;
}

/** Hands queued jobs to idle, ready workers; the time limit starts when a worker takes the job. */
function pump(): void {
  for (let i = 0; i < POOL_SIZE && queue.length; i++) {
    const slot = slots[i] ?? spawn(i);
    if (!slot.ready || slot.job) continue;
    const job = queue.shift() as Job;
    const limit = Math.min(job.timeLimitMs, job.deadline - performance.now());
    if (limit <= 0) {
      job.reject(new DicomError("DICOM_TIMEOUT", "The file's decoding time budget is spent"));
      i--;
      continue;
    }
    slot.job = job;
    slot.timer = setTimeout(() => {
      slots[i] = undefined;
      slot.job = undefined;
      void slot.worker.terminate();
      job.reject(
        new DicomError(
          "DICOM_TIMEOUT",
          `Decoding a ${job.encoding} frame took longer than ${job.timeLimitMs} ms`,
        ),
      );
      // The replacement starts now, so that its start-up overlaps the caller's next work.
      spawn(i);
      pump();
    }, limit);
    // Only this frame's bytes travel (a view would clone the whole file buffer); the copy is transferred.
    const data = job.data.slice();
    slot.worker.postMessage({ id: job.id, encoding: job.encoding, data, spec: job.spec }, [data.buffer]);
  }
  updateRefs();
}

/** Workers keep the process alive only while someone waits on them (a job, a queued frame, a warm-up). */
function updateRefs(): void {
  const wanted =
    queue.length > 0 || slots.some((s) => s?.job || s?.readyWaiters.length || s?.warmWaiters.length);
  for (const s of slots) {
    if (!s) continue;
    if (wanted) s.worker.ref();
    else s.worker.unref();
  }
}

/**
 * Decodes one compressed frame in a codec worker; if the codec has not answered within `timeLimitMs` of taking
 * the frame, its worker is terminated (a fresh one takes its place) and DICOM_TIMEOUT is thrown. Frames of a
 * multi-frame image may be submitted together: up to two workers decode in parallel. A frame still queued at
 * `deadline` (a `performance.now()` time: the file's budget) is refused with DICOM_TIMEOUT.
 *
 * @throws DicomError DICOM_DECODE, DICOM_UNSUPPORTED_TS or DICOM_TIMEOUT.
 * @example
 * ```ts
 * const f = await decodeFrame("jpeg-2000", fragment, { rows: 512, cols: 512, samples: 1, bitsAllocated: 16 });
 * ```
 */
export function decodeFrame(
  encoding: PixelEncoding,
  data: Uint8Array,
  spec: FrameSpec,
  timeLimitMs = DEFAULT_FRAME_TIME_LIMIT_MS,
  deadline = Number.POSITIVE_INFINITY,
): Promise<DecodedFrame> {
  return new Promise<DecodedFrame>((resolve, reject) => {
    queue.push({ id: nextId++, encoding, data, spec, timeLimitMs, deadline, resolve, reject });
    for (let i = 0; i < POOL_SIZE; i++) if (!slots[i]) spawn(i);
    pump();
  });
}

/**
 * Starts the codec workers and waits until their codecs are compiled, so that the first frame's time limit
 * measures decoding only (servers call this at start-up). The 12-bit JPEG codec, which workers otherwise load on
 * their first 12-bit frame (about 0.5 s), is loaded too.
 *
 * @example
 * ```ts
 * await warmUpCodecs();
 * ```
 */
export async function warmUpCodecs(): Promise<void> {
  await Promise.all(
    Array.from({ length: POOL_SIZE }, async (_, i) => {
      const s = slots[i] ?? spawn(i);
      if (!s.ready) {
        const p = new Promise<void>((res) => s.readyWaiters.push(res));
        updateRefs();
        await p.finally(updateRefs);
      }
      if (slots[i] !== s) return;
      const warmed = new Promise<void>((res) => s.warmWaiters.push(res));
      s.worker.postMessage({ warm: true });
      updateRefs();
      await warmed.finally(updateRefs);
    }),
  );
}
