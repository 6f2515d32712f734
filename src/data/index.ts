/** The data layer: dataset sources, patient-grouped splits, class balancing and the streaming loader. */
export {
  AliasSampler,
  balancedClassWeights,
  balancedSampleWeights,
  labelCounts,
  positiveWeights,
} from "./balance.js";
export { type CsvTable, parseCsv } from "./csv.js";
export { type DicomFolder, type DicomFolderOptions, dicomFolderSource } from "./dicom.js";
export { type DownloadOptions, downloadFile, downloadMedmnist, md5File } from "./download.js";
export {
  type FileItem,
  type FolderSourceOptions,
  fileSource,
  folderSource,
  IMAGE_EXTENSIONS,
  type ImageFileReader,
  labelSchema,
  type Manifest,
  type ManifestOptions,
  readImageFile,
  readManifest,
} from "./files.js";
export {
  type Augment,
  type Batch,
  DataLoader,
  type LabelEncoding,
  type LoaderCursor,
  type LoaderOptions,
} from "./loader.js";
export { type MedmnistSourceOptions, type MedmnistSplit, medmnistSource, openMedmnist } from "./medmnist.js";
export { MEDMNIST, MEDMNIST_RECORD_URL, type MedmnistInfo, medmnistUrl } from "./medmnist-catalogue.js";
export {
  assertNoPatientLeak,
  type Fold,
  kFold,
  type RatioSplitOptions,
  type SplitInput,
  type Splits,
  splitByRatio,
  splitInput,
  stratifiedSample,
} from "./split.js";
export {
  type DataSource,
  type Label,
  numClasses,
  type Sample,
  subset,
  type TaskSpec,
  type TaskType,
} from "./types.js";
export { niftiPairSource, type VolumePair, type VolumePairOptions } from "./volumes.js";
