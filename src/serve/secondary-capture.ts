/** The heatmap result as a DICOM Secondary Capture (PS3.3 A.8.1): Grad-CAM burned into the image, labelled as derived in pixels and header. */
import type { MedicalImage } from "../core/image.js";
import type { Heatmap } from "../explain/heatmap.js";
import { overlayHeatmap } from "../explain/overlay.js";
import { newUid, type SourceImageRef } from "../radiology-reports/sr.js";
import { contributingEquipment } from "../results/equipment.js";
import { writePart10 as writeResultPart10 } from "../results/part10.js";

/**
 * Secondary Capture Image Storage (PS3.4 B.5).
 *
 * @example
 * ```ts
 * ds.SOPClassUID === SECONDARY_CAPTURE_SOP_CLASS;
 * ```
 */
export const SECONDARY_CAPTURE_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7";

/**
 * The banner burned into every heatmap image.
 *
 * @example
 * ```ts
 * burnBanner(rgb, rows, cols, DERIVED_BANNER);
 * ```
 */
export const DERIVED_BANNER = "DERIVED - AI GRAD-CAM - NOT FOR DIAGNOSIS";

// 5×7 glyphs, 7 rows of 5 columns per character ('#' = on); only the characters the banner needs.
const FONT: Readonly<Record<string, readonly string[]>> = {
  A: [" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
  C: [" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "],
  D: ["#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "],
  E: ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"],
  F: ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "],
  G: [" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"],
  I: [" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
  M: ["#   #", "## ##", "# # #", "#   #", "#   #", "#   #", "#   #"],
  N: ["#   #", "##  #", "# # #", "#  ##", "#   #", "#   #", "#   #"],
  O: [" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
  R: ["#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"],
  S: [" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "],
  T: ["#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "],
  V: ["#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "],
  "-": ["     ", "     ", "     ", " ### ", "     ", "     ", "     "],
  " ": ["     ", "     ", "     ", "     ", "     ", "     ", "     "],
};

/**
 * Burns `text` in white on a black band across the top of an 8-bit RGB image: as large as one line allows, or
 * wrapped at spaces onto several lines when the image is too narrow for one (a 128-pixel CT gets 2 lines).
 *
 * @example
 * ```ts
 * burnBanner(rgb, 512, 512, DERIVED_BANNER);
 * ```
 */
export function burnBanner(rgb: Uint8Array, rows: number, cols: number, text: string): void {
  // One line when it fits at scale 1, else words wrapped onto as many lines as needed (small images).
  const fits = (line: string): boolean => line.length * 6 + 4 <= cols;
  const lines: string[] = [];
  for (const word of text.split(" ")) {
    const last = lines[lines.length - 1];
    if (last !== undefined && fits(`${last} ${word}`)) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  const longest = Math.max(...lines.map((l) => l.length));
  const scale = Math.max(1, Math.floor(cols / (longest * 6 + 4)));
  const bandH = Math.min(rows, 9 * scale * lines.length);
  for (let y = 0; y < bandH; y++) rgb.fill(0, y * cols * 3, (y + 1) * cols * 3);
  lines.forEach((line, li) => {
    let x0 = 2 * scale;
    const y0 = li * 9 * scale + scale;
    for (const ch of line) {
      const g = FONT[ch] ?? FONT[" "] ?? [];
      for (let gy = 0; gy < 7; gy++) {
        for (let gx = 0; gx < 5; gx++) {
          if (g[gy]?.[gx] !== "#") continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const x = x0 + gx * scale + sx;
              const y = y0 + gy * scale + sy;
              if (x < cols && y < bandH) rgb.fill(255, (y * cols + x) * 3, (y * cols + x) * 3 + 3);
            }
          }
        }
      }
      x0 += 6 * scale;
    }
  });
}

/**
 * Encodes a naturalized dataset as Part 10; the result objects' one writer (src/results/part10.ts).
 *
 * @example
 * ```ts
 * const bytes = writePart10({ SOPClassUID: "...", SOPInstanceUID: "...", ... });
 * ```
 */
export const writePart10 = writeResultPart10;

const pad = (n: number): string => String(n).padStart(2, "0");

/**
 * Builds the Secondary Capture: the display image with the heatmap blended in (opacity 0.4, jet), the banner
 * burned in, Image Type DERIVED\SECONDARY (PS3.3 C.7.6.1.1.2), Burned In Annotation YES (C.7.6.1.1.5), a
 * Derivation Description and the Source Image Sequence (C.7.6.1.1.3) pointing at the analysed instance, in the
 * source's study with a new series.
 *
 * @example
 * ```ts
 * const sc = buildHeatmapSC(displayImage, heat, readSourceImageRef(bytes), { name: "seed-cnn", version: "1.0.0" });
 * ```
 */
export function buildHeatmapSC(
  display: MedicalImage,
  heat: Heatmap,
  src: SourceImageRef,
  model: { readonly name: string; readonly version: string },
  now = new Date(),
): Uint8Array {
  const blended = overlayHeatmap(display, heat, { opacity: 0.4, colormap: "jet" });
  const [rows, cols] = blended.shape as [number, number, number];
  const rgb = new Uint8Array(blended.data as Uint8Array);
  burnBanner(rgb, rows, cols, DERIVED_BANNER);
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  const pixels = rgb.buffer.slice(rgb.byteOffset, rgb.byteOffset + rgb.byteLength);
  return writePart10({
    _vrMap: { PixelData: "OB" },
    SOPClassUID: SECONDARY_CAPTURE_SOP_CLASS,
    SOPInstanceUID: newUid(),
    ImageType: ["DERIVED", "SECONDARY"],
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    // The algorithm, as IHE AI Results asks of every result (PS3.3 C.12.1).
    ContributingEquipmentSequence: contributingEquipment(model, now),
    StudyDate: src.StudyDate ?? "",
    StudyTime: src.StudyTime ?? "",
    ContentDate: date,
    ContentTime: time,
    AccessionNumber: src.AccessionNumber ?? "",
    Modality: "OT",
    ConversionType: "WSD",
    Manufacturer: "RadioLens",
    ReferringPhysicianName: src.ReferringPhysicianName ?? "",
    // LO: at most 64 characters (PS3.5 6.2); the full model name and version are in Derivation Description.
    SeriesDescription: `DERIVED Grad-CAM heatmap, ${model.name} ${model.version}`.slice(0, 64),
    DerivationDescription: `Grad-CAM (Selvaraju et al. 2017) of class index ${heat.classIndex} on layer ${heat.layer}, ${model.name} ${model.version}, blended at opacity 0.4 over the VOI-windowed source; not for primary diagnosis`,
    SourceImageSequence: [
      { ReferencedSOPClassUID: src.SOPClassUID, ReferencedSOPInstanceUID: src.SOPInstanceUID },
    ],
    PatientName: src.PatientName ?? "",
    PatientID: src.PatientID ?? "",
    PatientBirthDate: src.PatientBirthDate ?? "",
    PatientSex: src.PatientSex ?? "",
    StudyInstanceUID: src.StudyInstanceUID,
    SeriesInstanceUID: newUid(),
    StudyID: src.StudyID ?? "",
    SeriesNumber: 998,
    // General Series (PS3.3 C.7.3.1) Type 2C: the source's laterality is not carried over, so it is empty.
    Laterality: "",
    InstanceNumber: 1,
    // General Image (PS3.3 C.7.6.1) Type 2C: an SC has no Image Orientation (Patient), so this is required, empty.
    PatientOrientation: "",
    BurnedInAnnotation: "YES",
    SamplesPerPixel: 3,
    PhotometricInterpretation: "RGB",
    PlanarConfiguration: 0,
    Rows: rows,
    Columns: cols,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: pixels,
  });
}
