/** AI result objects a PACS and a viewer use (IHE AI Results): Segmentation, TID 1500 Measurement Report, Parametric Map. */
export { CODES, type Code } from "./codes.js";
export { type AlgorithmIdentity, contributingEquipment } from "./equipment.js";
export {
  buildMeasurementReport,
  type ClassificationFinding,
  COMPREHENSIVE_SR,
  type MeasurementReportInput,
  type ReferencedImage,
  type SegmentFinding,
  writeMeasurementReport,
} from "./measurement-report.js";
export { type SegmentMeasurement, segmentMeasurements } from "./measurements.js";
export {
  buildParametricMap,
  PARAMETRIC_MAP_SOP_CLASS,
  type ParametricMapOptions,
  writeParametricMap,
} from "./parametric-map.js";
export { type NaturalDataset, writePart10 } from "./part10.js";
export {
  buildSegmentation,
  MAX_FRACTIONAL_VALUE,
  SEGMENTATION_SOP_CLASS,
  type SegmentationOptions,
  type SegmentSpec,
  writeSegmentation,
} from "./seg.js";
export {
  type SourceImage,
  type SourceSeries,
  type StudyAttributes,
  sourceSeriesOf,
  studyAttributesOf,
} from "./source.js";
