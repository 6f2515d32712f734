/** `radiolens dicom pixels <file> --out <prefix>`: decoded stored values as <prefix>.bin + <prefix>.json. */
import { RadioLensError } from "../../core/errors.js";
import { exportStoredPixels } from "../../io/dicom/export.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens dicom pixels`: the stored values of every frame, as `<prefix>.bin` + `<prefix>.json`.
 *
 * @example
 * ```ts
 * await runCli(["dicom", "pixels", "CT_small.dcm", "--out", "ct"]);
 * ```
 */
export const dicomPixelsCommand: Command = {
  help: [
    "Usage: radiolens dicom pixels <file.dcm> --out <prefix> [--lenient | --strict] [--max-bytes N]",
    "",
    "Writes <prefix>.bin (values, little endian) and <prefix>.json",
    '({"shape":[frames,rows,cols,samples],"dtype":"uint16|int16|uint8|int8|uint32|int32|float32"}).',
    "  --lenient     read damaged files as far as possible",
    "  --strict      also refuse the deviations read with a warning by default (zero padding, odd lengths, ...)",
    "  --max-bytes   largest decoded pixel buffer accepted (default 1073741824)",
  ].join("\n"),
  options: {
    out: { type: "string" },
    lenient: { type: "boolean" },
    strict: { type: "boolean" },
    "max-bytes": { type: "string" },
  },
  allowPositionals: true,
  async run(args, io) {
    const file = args.positionals[0];
    const out = str(args, "out");
    if (!file || args.positionals.length > 1 || !out) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "dicom pixels needs one file and --out <prefix>" });
    }
    const maxText = str(args, "max-bytes");
    const max = maxText === undefined ? undefined : Number(maxText);
    if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `--max-bytes must be a positive integer, got '${maxText}'`,
      });
    }
    const header = await exportStoredPixels(file, out, {
      strict: !flag(args, "lenient"),
      tolerate: !flag(args, "strict"),
      ...(max === undefined ? {} : { maxPixelBytes: max }),
    });
    io.stdout(`${out}.bin: ${header.dtype} [${header.shape.join(", ")}]\n`);
    for (const w of header.warnings) io.stderr(`warning: ${w}\n`);
    return 0;
  },
};
