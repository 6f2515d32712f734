/** `radiolens convert <in> <out.png|.nii.gz>`: DICOM, NIfTI, PNG or JPEG (chosen by content) to a windowed PNG or NIfTI. */
import { RadioLensError } from "../../core/errors.js";
import { convertPath, type VoxelAxis } from "../../data/convert.js";
import { WINDOW_PRESETS, type WindowPreset } from "../../io/dicom/pipeline.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens convert`: a DICOM file or series folder, a NIfTI volume, PNG or JPEG to PNG (windowed) or NIfTI.
 *
 * @example
 * ```ts
 * await runCli(["convert", "CT_small.dcm", "ct.png", "--preset", "mediastinum"]);
 * await runCli(["convert", "hippocampus_001.nii.gz", "h.png", "--slice", "17", "--window", "70,100"]);
 * ```
 */
export const convertCommand: Command = {
  help: [
    "Usage: radiolens convert <in> <out.png|out.nii|out.nii.gz> [--window C,W | --preset NAME] [--frame N]",
    "         [--slice N] [--axis i|j|k] [--orient RAS|LPS|...] [--lenient]",
    "",
    "Input (recognised by content): a DICOM file or series folder, a NIfTI-1/NIfTI-2/Analyze volume, PNG or JPEG.",
    "",
    "  --window C,W   window center and width for PNG (modality units, e.g. HU; DICOM LINEAR function)",
    `  --preset NAME  ${Object.keys(WINDOW_PRESETS).join(", ")}`,
    "                 (default: the DICOM file's own window, else the volume's min-max)",
    "  --frame N      frame of a multi-frame DICOM, or volume (4th dimension) of a NIfTI, written to PNG (default 0)",
    "  --slice N      NIfTI to PNG: the slice along --axis; without it every slice goes into one montage",
    "  --axis i|j|k   NIfTI to PNG: the voxel axis sliced (default k); PNG rows follow the slower remaining axis,",
    "                 columns the faster one, in stored order (convert with --orient LPS first for radiological view)",
    "  --orient XYZ   NIfTI input: reorder/flip voxel axes to point as the letters say (RAS, LPS, ...), no resampling",
    "  --lenient      read damaged DICOM files as far as possible",
    "",
    "PNG output is 8-bit display values; NIfTI output from DICOM holds float32 modality values (HU for CT);",
    "NIfTI to NIfTI (.nii <-> .nii.gz) keeps the values and the geometry.",
  ].join("\n"),
  options: {
    window: { type: "string" },
    preset: { type: "string" },
    frame: { type: "string" },
    slice: { type: "string" },
    axis: { type: "string" },
    orient: { type: "string" },
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
    const sliceText = str(args, "slice");
    const slice = sliceText === undefined ? undefined : Number(sliceText);
    if (slice !== undefined && !(Number.isInteger(slice) && slice >= 0)) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `--slice wants a slice index, got '${sliceText}'` });
    }
    const axis = str(args, "axis");
    if (axis !== undefined && axis !== "i" && axis !== "j" && axis !== "k") {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `--axis wants i, j or k, got '${axis}'` });
    }
    const orient = str(args, "orient");
    if (orient !== undefined && !/^[LRPAIS]{3}$/i.test(orient)) {
      throw new RadioLensError("RL_ERR_USAGE", {
        detail: `--orient wants three letters from L/R, P/A, S/I (e.g. RAS or LPS), got '${orient}'`,
      });
    }
    const res = await convertPath(input, output, {
      strict: !flag(args, "lenient"),
      ...(frameText === undefined ? {} : { frame }),
      ...(voi === undefined ? {} : { voi }),
      ...(slice === undefined ? {} : { slice }),
      ...(axis === undefined ? {} : { axis: axis as VoxelAxis }),
      ...(orient === undefined ? {} : { orient: orient.toUpperCase() }),
    });
    io.stdout(`${res.output}: ${res.dtype} [${res.shape.join(", ")}]\n`);
    for (const w of res.warnings) io.stderr(`warning: ${w}\n`);
    return 0;
  },
};
