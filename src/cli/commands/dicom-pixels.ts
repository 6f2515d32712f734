/** `radiolens dicom pixels <file> --out <prefix>`: decoded stored values as <prefix>.bin + <prefix>.json. */
import { RadioLensError } from "../../core/errors.js";
import { exportStoredPixels } from "../../io/dicom/export.js";
import { type Command, defineCommand } from "../command.js";
import { flag, int, string } from "../options.js";

/**
 * `radiolens dicom pixels`: the stored values of every frame, as `<prefix>.bin` + `<prefix>.json`.
 *
 * @example
 * ```ts
 * await runCli(["dicom", "pixels", "CT_small.dcm", "--out", "ct"]);
 * ```
 */
export const dicomPixelsCommand: Command = defineCommand({
  usage: "radiolens dicom pixels <file.dcm> --out <prefix> [--lenient | --strict] [--max-bytes N]",
  description: [
    "Writes <prefix>.bin (values, little endian) and <prefix>.json",
    '({"shape":[frames,rows,cols,samples],"dtype":"uint16|int16|uint8|int8|uint32|int32|float32"}).',
  ].join("\n"),
  options: {
    out: string("PREFIX", "output path without extension", { required: true }),
    lenient: flag("read damaged files as far as possible"),
    strict: flag(
      "also refuse the deviations read with a warning by default (zero padding, odd lengths, ...)",
    ),
    "max-bytes": int("N", "largest decoded pixel buffer accepted (default 1073741824)", { min: 1 }),
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const file = positionals[0];
    if (!file || positionals.length > 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "dicom pixels needs one file and --out <prefix>" });
    }
    const max = values["max-bytes"];
    const header = await exportStoredPixels(file, values.out, {
      strict: !values.lenient,
      tolerate: !values.strict,
      ...(max === undefined ? {} : { maxPixelBytes: max }),
    });
    io.stdout(`${values.out}.bin: ${header.dtype} [${header.shape.join(", ")}]\n`);
    for (const w of header.warnings) io.stderr(`warning: ${w}\n`);
    return 0;
  },
});
