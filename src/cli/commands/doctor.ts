/** `radiolens doctor`: the compute backend, threads, oneDNN ISA and reference kernels met, JPEG and JPEG 2000 decoders, versions. */
import { initEngine } from "../../engine/backend.js";
import { jpeg2000Decoder, jpegLosslessDecoder } from "../../io/dicom/native-codecs.js";
import { jpegDecoder } from "../../io/image/native-jpeg.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, flag } from "../options.js";

/**
 * `radiolens doctor`: what this machine computes and decodes with.
 *
 * @example
 * ```ts
 * await runCli(["doctor", "--json"]);
 * ```
 */
export const doctorCommand: Command = defineCommand({
  usage: "radiolens doctor [--backend onednn|wasm|cpu] [--json]",
  options: { backend: backendOption, json: flag("print the report as JSON") },
  async run({ values }, io) {
    const backend = values.backend;
    const engine = await initEngine(backend ? { backend } : {});
    // A ResNet basic block forward and backward: any oneDNN reference kernel it meets would make training crawl.
    const probe =
      engine.backend === "onednn"
        ? (await import("../../engine/native/backend.js")).probeImplementations()
        : undefined;
    const info = {
      ...engine,
      ...(probe ? { referenceKernels: probe.reference } : {}),
      versions: {
        ...engine.versions,
        jpeg: jpegDecoder(),
        jpeg2000: jpeg2000Decoder(),
        jpegLossless: jpegLosslessDecoder(),
      },
    };
    if (values.json) {
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    io.stdout(`backend: ${info.backend}\nthreads: ${info.threads}\n`);
    if (info.isa) io.stdout(`isa: ${info.isa}\n`);
    if (probe) {
      io.stdout(
        probe.reference.length === 0
          ? "reference kernels: none (ResNet block probe, forward and backward)\n"
          : `reference kernels: ${probe.reference.join("; ")} (slow: report this CPU and oneDNN version)\n`,
      );
    }
    if (info.notice) io.stdout(`notice: ${info.notice}\n`);
    for (const [k, v] of Object.entries(info.versions)) io.stdout(`${k}: ${v}\n`);
    return 0;
  },
});
