/** Coded concepts of the AI result objects (PS3.16 DCM lexicon, SNOMED CT, UCUM), in one place. */

/** A coded concept (PS3.3 Table 8.8-1). */
export interface Code {
  readonly CodeValue: string;
  readonly CodingSchemeDesignator: string;
  readonly CodeMeaning: string;
}

const c = (CodeValue: string, CodingSchemeDesignator: string, CodeMeaning: string): Code => ({
  CodeValue,
  CodingSchemeDesignator,
  CodeMeaning,
});

/**
 * The codes the writers use. DCM codes are from PS3.16 Annex D; SCT codes from the CIDs named beside them.
 *
 * @example
 * ```ts
 * item.ConceptNameCodeSequence = [CODES.finding];
 * ```
 */
export const CODES = {
  // TID 1500 (PS3.16) document title and sections.
  imagingMeasurementReport: c("126000", "DCM", "Imaging Measurement Report"),
  imageLibrary: c("111028", "DCM", "Image Library"),
  imageLibraryGroup: c("126200", "DCM", "Image Library Group"),
  imagingMeasurements: c("126010", "DCM", "Imaging Measurements"),
  measurementGroup: c("125007", "DCM", "Measurement Group"),
  trackingIdentifier: c("112039", "DCM", "Tracking Identifier"),
  trackingUid: c("112040", "DCM", "Tracking Unique Identifier"),
  finding: c("121071", "DCM", "Finding"),
  referencedSegment: c("121191", "DCM", "Referenced Segment"),
  sourceSeriesForSegmentation: c("121232", "DCM", "Source series for segmentation"),
  sourceOfMeasurement: c("121112", "DCM", "Source of Measurement"),
  procedureReported: c("121058", "DCM", "Procedure reported"),
  imagingProcedure: c("363679005", "SCT", "Imaging procedure"),
  language: c("121049", "DCM", "Language of Content Item and Descendants"),
  englishUS: c("en-US", "RFC5646", "English (United States)"),
  // TID 1004 Device Observer Identifying Attributes.
  observerType: c("121005", "DCM", "Observer Type"),
  device: c("121007", "DCM", "Device"),
  deviceObserverUid: c("121012", "DCM", "Device Observer UID"),
  deviceObserverName: c("121013", "DCM", "Device Observer Name"),
  deviceObserverManufacturer: c("121014", "DCM", "Device Observer Manufacturer"),
  deviceObserverModelName: c("121015", "DCM", "Device Observer Model Name"),
  // Measurements (TID 300) and their units (UCUM).
  probability: c("122157", "DCM", "Probability"),
  measurementMethod: c("370129005", "SCT", "Measurement Method"),
  calibratedProbability: c("RL-CALIBRATED", "99RADIOLENS", "Temperature-scaled probability"),
  volume: c("118565006", "SCT", "Volume"),
  area: c("42798000", "SCT", "Area"),
  longAxis: c("103339001", "SCT", "Long Axis"),
  noUnits: c("1", "UCUM", "no units"),
  cubicMillimeter: c("mm3", "UCUM", "cubic millimeter"),
  squareMillimeter: c("mm2", "UCUM", "square millimeter"),
  millimeter: c("mm", "UCUM", "millimeter"),
  // Derivation (CID 7203) and purpose of reference (CID 7202, CID 7005).
  segmentation: c("113076", "DCM", "Segmentation"),
  sourceImageForProcessing: c("121322", "DCM", "Source image for image processing operation"),
  processingEquipment: c("109102", "DCM", "Processing Equipment"),
  // Segmented property defaults (CID 7150/7151) for a label without its own codes.
  tissue: c("85756007", "SCT", "Tissue"),
  anatomicalStructure: c("91723000", "SCT", "Anatomical Structure"),
  morphologicallyAlteredStructure: c("49755003", "SCT", "Morphologically Altered Structure"),
  lesion: c("52988006", "SCT", "Lesion"),
} as const;
