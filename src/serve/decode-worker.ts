/** Worker thread of the decode pool: turns upload bytes into an image off the event loop (see decode-pool.ts). */
import { parentPort } from "node:worker_threads";
import { RadioLensError } from "../core/errors.js";
import { DicomError } from "../io/dicom/index.js";
import { decodeUpload } from "./decode.js";

/** A request from the pool. */
interface DecodeRequest {
  readonly id: number;
  readonly body: Uint8Array;
  readonly contentType: string;
}

const port = parentPort;
if (port) {
  port.on("message", async (m: DecodeRequest) => {
    try {
      const { image, format } = await decodeUpload(m.body, m.contentType);
      const data = image.data;
      port.postMessage(
        { id: m.id, format, image: { ...image, data } },
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? [data.buffer as ArrayBuffer]
          : [],
      );
    } catch (e) {
      // Errors cross the thread boundary as plain data and are rebuilt with their class and code.
      const error =
        e instanceof RadioLensError
          ? { kind: "radiolens", code: e.code, details: e.details }
          : e instanceof DicomError
            ? { kind: "dicom", code: e.code, message: e.detail }
            : { kind: "other", message: (e as Error)?.message ?? String(e) };
      port.postMessage({ id: m.id, error });
    }
  });
  port.postMessage({ ready: true });
}
