/** `radiolens doctor`: the active compute backend, threads, oneDNN ISA, the JPEG 2000 decoder and library versions. */
import { type BackendName, initEngine } from "../../engine/backend.js";
import { jpeg2000Decoder, jpegLosslessDecoder } from "../../io/dicom/native-codecs.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens doctor`: what this machine computes and decodes with.
 *
 * @example
 * ```ts
 * await runCli(["doctor", "--json"]);
 * ```
 */
export const doctorCommand: Command = {
  help: "Usage: radiolens doctor [--backend onednn|wasm|cpu] [--json]",
  options: { backend: { type: "string" }, json: { type: "boolean" } },
  async run(args, io) {
    const backend = str(args, "backend") as BackendName | undefined;
    const engine = await initEngine(backend ? { backend } : {});
    const info = {
      ...engine,
      versions: { ...engine.versions, jpeg2000: jpeg2000Decoder(), jpegLossless: jpegLosslessDecoder() },
    };
    if (flag(args, "json")) {
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    io.stdout(`backend: ${info.backend}\nthreads: ${info.threads}\n`);
    if (info.isa) io.stdout(`isa: ${info.isa}\n`);
    if (info.notice) io.stdout(`notice: ${info.notice}\n`);
    for (const [k, v] of Object.entries(info.versions)) io.stdout(`${k}: ${v}\n`);
    return 0;
  },
};
