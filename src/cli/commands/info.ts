/** `radiolens info <file>`: transfer syntax, key image attributes, frames and pixel statistics of a DICOM file. */

import { RadioLensError } from "../../core/errors.js";
import { describeDicom } from "../../io/dicom/export.js";
import { type Command, flag } from "../command.js";

/**
 * `radiolens info`: key attributes, transfer syntax, frames and pixel statistics of a DICOM file.
 *
 * @example
 * ```ts
 * await runCli(["info", "CT_small.dcm", "--json"]);
 * ```
 */
export const infoCommand: Command = {
  name: "info",
  summary: "Show a DICOM file's transfer syntax, image attributes, frames and pixel statistics",
  help: [
    "Usage: radiolens info <file.dcm> [--json] [--lenient | --strict]",
    "",
    "  --json     print the summary as JSON",
    "  --lenient  read damaged files as far as possible and list the warnings",
    "  --strict   also refuse the deviations read with a warning by default (zero padding, odd lengths, ...)",
    "",
    "Patient identifiers are never printed.",
  ].join("\n"),
  options: { json: { type: "boolean" }, lenient: { type: "boolean" }, strict: { type: "boolean" } },
  allowPositionals: true,
  async run(args, io) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "info takes exactly one file" });
    }
    const info = await describeDicom(file, {
      strict: !flag(args, "lenient"),
      tolerate: !flag(args, "strict"),
    });
    if (flag(args, "json")) {
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    const s = info.pixelStats;
    const lines = [
      `transfer syntax: ${info.transferSyntax.name} (${info.transferSyntax.uid})`,
      `sop class: ${info.sopClassUID ?? "-"}`,
      `modality: ${info.modality ?? "-"}`,
      `size: ${info.columns ?? "?"} x ${info.rows ?? "?"}, frames ${info.frames}, samples ${info.samplesPerPixel ?? "-"}`,
      `photometric: ${info.photometricInterpretation ?? "-"}`,
      `bits: allocated ${info.bitsAllocated ?? "-"}, stored ${info.bitsStored ?? "-"}, ${info.pixelRepresentation === 1 ? "signed" : "unsigned"}`,
      `pixel spacing: ${info.pixelSpacing.length ? info.pixelSpacing.join(" x ") : "-"}`,
      info.rescale
        ? `rescale: slope ${info.rescale.slope}, intercept ${info.rescale.intercept}`
        : "rescale: -",
      info.window.center.length
        ? `window: center ${info.window.center.join("\\")}, width ${info.window.width.join("\\")}`
        : "window: -",
      s
        ? `pixels: min ${s.min}, max ${s.max}, mean ${s.mean.toFixed(3)}, std ${s.std.toFixed(3)}`
        : `pixels: ${info.pixelError ?? "none"}`,
      `elements: ${info.elements}`,
      ...info.warnings.map((w) => `warning: ${w}`),
    ];
    io.stdout(`${lines.join("\n")}\n`);
    return 0;
  },
};
