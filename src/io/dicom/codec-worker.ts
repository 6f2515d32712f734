/** Worker thread that runs the compressed-frame codecs, so that a hanging or crashing codec cannot stall the caller. */
import { parentPort } from "node:worker_threads";
import { decodeFrameInThread, type FrameSpec, preloadCodecs, preloadJpeg12 } from "./codecs.js";
import { DicomError } from "./errors.js";
import type { PixelEncoding } from "./transfer-syntax.js";

/** A decode request from {@link decodeFrame}. */
interface Request {
  readonly id: number;
  readonly encoding: PixelEncoding;
  readonly data: Uint8Array;
  readonly spec: FrameSpec;
}

parentPort?.on("message", async (req: Request | { warm: true }) => {
  if ("warm" in req) {
    // warmUpCodecs(): load the codec that is otherwise loaded on the first 12-bit JPEG frame. A failure here
    // is not reported: the first 12-bit frame will try again and report it with the frame.
    await preloadJpeg12().catch(() => undefined);
    parentPort?.postMessage({ warmed: true });
    return;
  }
  try {
    const f = await decodeFrameInThread(req.encoding, req.data, req.spec);
    parentPort?.postMessage({ id: req.id, ok: true, frame: f }, [f.bytes.buffer as ArrayBuffer]);
  } catch (e) {
    const code = e instanceof DicomError ? e.code : "DICOM_DECODE";
    const message =
      e instanceof DicomError ? e.detail : `codec failed: ${String((e as Error)?.message ?? e)}`;
    parentPort?.postMessage({ id: req.id, ok: false, code, message });
  }
});

// Codecs are compiled before the worker says it is ready, so that frame time limits measure decoding only.
preloadCodecs().then(
  () => parentPort?.postMessage({ ready: true }),
  (e: unknown) => parentPort?.postMessage({ ready: false, message: String((e as Error)?.message ?? e) }),
);
