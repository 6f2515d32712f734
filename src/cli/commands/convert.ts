/** `radiolens convert <in> <out.png|.nii.gz>`: DICOM to a windowed PNG or a NIfTI volume. */
import { RadioLensError } from "../../core/errors.js";
import { convertDicom } from "../../io/dicom/convert.js";
import { WINDOW_PRESETS, type WindowPreset } from "../../io/dicom/pipeline.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens convert`: a DICOM file or series folder to PNG (windowed) or NIfTI.
 *
 * @example
 * ```ts
 * await runCli(["convert", "CT_small.dcm", "ct.png", "--preset", "mediastinum"]);
 * ```
 */
export const convertCommand: Command = {
  name: "convert",
  summary: "Convert DICOM to a windowed PNG, or a file or series folder to NIfTI",
  help: [
    "Usage: radiolens convert <in.dcm|series-folder> <out.png|out.nii|out.nii.gz> [--window C,W | --preset NAME] [--frame N] [--lenient]",
    "",
    "  --window C,W   window center and width for PNG (modality units, e.g. HU)",
    `  --preset NAME  ${Object.keys(WINDOW_PRESETS).join(", ")}`,
    "  --frame N      frame of a multi-frame image written to PNG (default 0)",
    "  --lenient      read damaged files as far as possible",
    "",
    "PNG output is 8-bit display values; NIfTI output holds float32 modality values (HU for CT).",
  ].join("\n"),
  options: {
    window: { type: "string" },
    preset: { type: "string" },
    frame: { type: "string" },
    lenient: { type: "boolean" },
  },
  allowPositionals: true,
  async run(args, io) {
    const [input, output, ...rest] = args.positionals;
    if (!input || !output || rest.length) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "convert takes an input and an output path" });
    }
    const windowText = str(args, "window");
    const preset = str(args, "preset");
    if (windowText && preset)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give --window or --preset, not both" });
    let voi: { kind: "window"; center: number; width: number } | WindowPreset | undefined;
    if (windowText) {
      const [c, w] = windowText.split(",").map(Number);
      if (c === undefined || w === undefined || !Number.isFinite(c) || !(w > 0)) {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `--window wants CENTER,WIDTH with WIDTH > 0, got '${windowText}'`,
        });
      }
      voi = { kind: "window", center: c, width: w };
    } else if (preset) {
      if (!(preset in WINDOW_PRESETS)) {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `unknown preset '${preset}' (available: ${Object.keys(WINDOW_PRESETS).join(", ")})`,
        });
      }
      voi = preset as WindowPreset;
    }
    const frameText = str(args, "frame");
    const frame = frameText === undefined ? 0 : Number(frameText);
    if (!Number.isInteger(frame) || frame < 0) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `--frame wants a frame index, got '${frameText}'` });
    }
    const res = await convertDicom(input, output, {
      strict: !flag(args, "lenient"),
      frame,
      ...(voi === undefined ? {} : { voi }),
    });
    io.stdout(`${res.output}: ${res.dtype} [${res.shape.join(", ")}]\n`);
    for (const w of res.warnings) io.stderr(`warning: ${w}\n`);
    return 0;
  },
};
