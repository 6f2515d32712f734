/** `radiolens info <file|folder>`: what a DICOM file or series folder, NIfTI, PNG/JPEG, .npz or MSD task folder holds. */

import { RadioLensError } from "../../core/errors.js";
import {
  DESCRIBED_FORMATS,
  describePath,
  type IntensityStats,
  type PathDescription,
  type SeriesReport,
} from "../../io/describe.js";
import { type Command, defineCommand } from "../command.js";
import { flag } from "../options.js";

function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return "-";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function stats(s: IntensityStats | null): string {
  if (!s) return "-";
  const nf = s.nonFinite ? `, non-finite ${s.nonFinite}` : "";
  return `min ${num(s.min)}, max ${num(s.max)}, mean ${num(s.mean)}, std ${num(s.std)}${nf}`;
}

function seriesLines(s: SeriesReport, i: number): string[] {
  const head = `series ${i + 1}: number ${s.seriesNumber ?? "-"}, modality ${s.modality ?? "-"}, ${s.instances} instance(s)`;
  if (!s.image) return [`${head}, no image (SOP class ${s.sopClassUID ?? "-"})`];
  const lines = [
    `${head}, ${s.frames} frame(s)`,
    `  size: ${s.columns} x ${s.rows}, pixel spacing ${s.pixelSpacing ? s.pixelSpacing.join(" x ") : "-"}`,
    `  slice spacing: ${num(s.sliceSpacing)}${s.sliceSpacingUniform === null ? "" : s.sliceSpacingUniform ? " (uniform)" : " (not uniform)"}, missing slices ${s.missingSlices ?? "-"}`,
    `  orientation: ${s.orientation ?? "-"}${s.orientationCosines ? ` (${s.orientationCosines.map((v) => num(v, 4)).join("\\")})` : ""}`,
  ];
  if (s.error) lines.push(`  not one volume: ${s.error}`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines;
}

function textOf(d: PathDescription): string[] {
  switch (d.format) {
    case "dicom": {
      const s = d.pixelStats;
      return [
        `transfer syntax: ${d.transferSyntax.name} (${d.transferSyntax.uid})`,
        `sop class: ${d.sopClassUID ?? "-"}`,
        `modality: ${d.modality ?? "-"}`,
        `size: ${d.columns ?? "?"} x ${d.rows ?? "?"}, frames ${d.frames}, samples ${d.samplesPerPixel ?? "-"}`,
        `photometric: ${d.photometricInterpretation ?? "-"}`,
        `bits: allocated ${d.bitsAllocated ?? "-"}, stored ${d.bitsStored ?? "-"}, ${d.pixelRepresentation === 1 ? "signed" : "unsigned"}`,
        `pixel spacing: ${d.pixelSpacing.length ? d.pixelSpacing.join(" x ") : "-"}`,
        d.rescale ? `rescale: slope ${d.rescale.slope}, intercept ${d.rescale.intercept}` : "rescale: -",
        d.window.center.length
          ? `window: center ${d.window.center.join("\\")}, width ${d.window.width.join("\\")}`
          : "window: -",
        s
          ? `pixels: min ${s.min}, max ${s.max}, mean ${s.mean.toFixed(3)}, std ${s.std.toFixed(3)}`
          : `pixels: ${d.pixelError ?? "none"}`,
        `elements: ${d.elements}`,
        ...d.warnings.map((w) => `warning: ${w}`),
      ];
    }
    case "dicom-series":
      return [
        `format: DICOM folder, ${d.dicomFiles} DICOM file(s) of ${d.files}, ${d.series.length} series`,
        ...d.series.flatMap(seriesLines),
        ...d.unreadable.map((u) => `unreadable: ${u.file}: ${u.error}`),
      ];
    case "nifti1":
    case "nifti2":
    case "analyze":
      return [
        `format: ${d.format}${d.pair ? " (.hdr/.img pair)" : ""}, ${d.byteOrder} endian`,
        `dimensions: ${d.dims.join(" x ")}`,
        `voxel size: ${d.voxelSize.map((v) => num(v, 4)).join(" x ")} (space ${d.units.space}, time ${d.units.time})`,
        `datatype: ${d.datatype} (${d.bitpix} bits)`,
        `scaling: slope ${d.scaling.slope}, inter ${d.scaling.inter}${d.scaling.applied ? " (applied)" : ""}`,
        `qform: ${d.qformCode} (${d.qformName}), sform: ${d.sformCode} (${d.sformName}), geometry from ${d.affineSource}`,
        `orientation: ${d.orientation}`,
        ...d.affine.slice(0, 3).map((r, i) => `affine[${i}]: ${r.map((v) => num(v, 4)).join(" ")}`),
        `intensity: ${d.intensity ? stats(d.intensity) : (d.intensityError ?? "-")}`,
      ];
    case "png":
    case "jpeg":
      return [
        `format: ${d.format} (${d.coding})`,
        `size: ${d.width} x ${d.height}, bit depth ${d.bitDepth}, channels ${d.channels}, colour ${d.colourType}`,
        `pixels: ${stats(d.intensity)}`,
      ];
    case "npz":
      return [
        `format: npz${d.dimensionality ? `, ${d.dimensionality} images of ${d.imageSize?.join(" x ")} x ${d.channels} channel(s)` : ""}`,
        ...d.arrays.map((a) => `array ${a.name}: ${a.dtype} [${a.shape.join(", ")}]`),
        ...d.splits.map(
          (s) =>
            `split ${s.split}: ${s.images} images, labels ${
              s.labelCounts
                ? Object.entries(s.labelCounts)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(", ")
                : "-"
            }`,
        ),
      ];
    case "msd":
      return [
        `format: MSD task folder${d.name ? ` (${d.name})` : ""}`,
        `cases: imagesTr ${d.imagesTr}, labelsTr ${d.labelsTr}, imagesTs ${d.imagesTs}, pairs ${d.pairs}`,
        `label values: ${d.labelValues.join(", ")}${
          d.labelNames
            ? ` (${Object.entries(d.labelNames)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")})`
            : ""
        }`,
        `size: ${d.size.min.join(" x ")} to ${d.size.max.join(" x ")}`,
        `voxel size: ${d.voxelSize.min.map((v) => num(v, 4)).join(" x ")} to ${d.voxelSize.max.map((v) => num(v, 4)).join(" x ")}`,
        `orientation: ${d.orientations.join(", ")}`,
        ...d.imagesWithoutLabel.map((f) => `image without label: ${f}`),
        ...d.labelsWithoutImage.map((f) => `label without image: ${f}`),
        ...d.gridMismatches.map((f) => `label grid differs from image: ${f}`),
      ];
  }
}

/**
 * `radiolens info`: what a file or folder holds, its format chosen by content.
 *
 * @example
 * ```ts
 * await runCli(["info", "hippocampus_001.nii.gz", "--json"]);
 * ```
 */
export const infoCommand: Command = defineCommand({
  usage: "radiolens info <file|folder> [--json] [--lenient | --strict]",
  description: `Formats (recognised by content, not by name): ${DESCRIBED_FORMATS}.`,
  options: {
    json: flag("print the summary as JSON"),
    lenient: flag("read damaged DICOM files as far as possible and list the warnings"),
    strict: flag(
      "also refuse the DICOM deviations read with a warning by default (zero padding, odd lengths, ...)",
    ),
  },
  notes: "Patient identifiers are never printed.",
  positionals: true,
  async run({ values, positionals }, io) {
    const path = positionals[0];
    if (!path || positionals.length > 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "info takes exactly one file or folder" });
    }
    const info = await describePath(path, { strict: !values.lenient, tolerate: !values.strict });
    if (values.json) {
      // Absent attributes are null, so every format's keys are always present.
      io.stdout(`${JSON.stringify(info, (_k, v) => (v === undefined ? null : v), 2)}\n`);
      return 0;
    }
    io.stdout(`${textOf(info).join("\n")}\n`);
    return 0;
  },
});
