/** `radiolens convert <in> <out.png|.nii.gz>`: DICOM, NIfTI, PNG or JPEG (chosen by content) to a windowed PNG or NIfTI. */
import { RadioLensError } from "../../core/errors.js";
import { convertPath, type VoxelAxis } from "../../data/convert.js";
import { WINDOW_PRESETS, type WindowPreset } from "../../io/dicom/pipeline.js";
import { type Command, defineCommand } from "../command.js";
import { custom, flag, int, oneOf } from "../options.js";

function parseWindow(text: string): { kind: "window"; center: number; width: number } | undefined {
  const [c, w, ...rest] = text.split(",").map((t) => (t.trim() === "" ? Number.NaN : Number(t)));
  if (c === undefined || w === undefined || rest.length || !Number.isFinite(c) || !(w > 0)) return undefined;
  return { kind: "window", center: c, width: w };
}

/**
 * `radiolens convert`: a DICOM file or series folder, a NIfTI volume, PNG or JPEG to PNG (windowed) or NIfTI.
 *
 * @example
 * ```ts
 * await runCli(["convert", "CT_small.dcm", "ct.png", "--preset", "mediastinum"]);
 * await runCli(["convert", "hippocampus_001.nii.gz", "h.png", "--slice", "17", "--window", "70,100"]);
 * ```
 */
export const convertCommand: Command = defineCommand({
  usage: [
    "radiolens convert <in> <out.png|out.nii|out.nii.gz> [--window C,W | --preset NAME] [--frame N]",
    "         [--slice N] [--axis i|j|k] [--orient RAS|LPS|...] [--lenient]",
  ].join("\n"),
  description:
    "Input (recognised by content): a DICOM file or series folder, a NIfTI-1/NIfTI-2/Analyze volume, PNG or JPEG.",
  options: {
    window: custom(
      "C,W",
      "window center and width for PNG (modality units, e.g. HU; DICOM LINEAR function)",
      "CENTER,WIDTH with WIDTH > 0",
      parseWindow,
    ),
    preset: oneOf(
      Object.keys(WINDOW_PRESETS) as WindowPreset[],
      "a named window for PNG\n(default: the DICOM file's own window, else the volume's min-max)",
    ),
    frame: int(
      "N",
      "frame of a multi-frame DICOM, or volume (4th dimension) of a NIfTI, written to PNG (default 0)",
      { min: 0 },
    ),
    slice: int("N", "NIfTI to PNG: the slice along --axis; without it every slice goes into one montage", {
      min: 0,
    }),
    axis: oneOf(
      ["i", "j", "k"],
      "NIfTI to PNG: the voxel axis sliced (default k); PNG rows follow the slower remaining axis,\ncolumns the faster one, in stored order (convert with --orient LPS first for radiological view)",
    ),
    orient: custom(
      "XYZ",
      "NIfTI input: reorder/flip voxel axes to point as the letters say (RAS, LPS, ...), no resampling",
      "three letters from L/R, P/A, S/I (e.g. RAS or LPS)",
      (t) => (/^[LRPAIS]{3}$/i.test(t) ? t.toUpperCase() : undefined),
    ),
    lenient: flag("read damaged DICOM files as far as possible"),
  },
  notes: [
    "PNG output is 8-bit display values; NIfTI output from DICOM holds float32 modality values (HU for CT);",
    "NIfTI to NIfTI (.nii <-> .nii.gz) keeps the values and the geometry.",
  ].join("\n"),
  positionals: true,
  async run({ values, positionals }, io) {
    const [input, output, ...rest] = positionals;
    if (!input || !output || rest.length) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "convert takes an input and an output path" });
    }
    if (values.window && values.preset)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give --window or --preset, not both" });
    const voi = values.window ?? values.preset;
    const res = await convertPath(input, output, {
      strict: !values.lenient,
      ...(values.frame === undefined ? {} : { frame: values.frame }),
      ...(voi === undefined ? {} : { voi }),
      ...(values.slice === undefined ? {} : { slice: values.slice }),
      ...(values.axis === undefined ? {} : { axis: values.axis as VoxelAxis }),
      ...(values.orient === undefined ? {} : { orient: values.orient }),
    });
    io.stdout(`${res.output}: ${res.dtype} [${res.shape.join(", ")}]\n`);
    for (const w of res.warnings) io.stderr(`warning: ${w}\n`);
    return 0;
  },
});
