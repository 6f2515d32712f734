/** NIfTI-1/NIfTI-2/Analyze reading and writing: the public API of RadioLens's NIfTI support. */
export {
  type AffineSource,
  affineToLps,
  affineToQuaternion,
  bestAffine,
  type LpsGeometry,
  lpsToAffine,
  qformAffine,
  sformAffine,
} from "./geometry.js";
export {
  NIFTI_DATATYPES,
  type NiftiDatatype,
  type NiftiExtension,
  type NiftiFormat,
  type NiftiHeader,
  parseNiftiHeader,
} from "./header.js";
export {
  isAnalyze,
  isNifti,
  NIFTI_INTENT_VECTOR,
  type NiftiMeta,
  type ReadNiftiOptions,
  readNifti,
  readNiftiHeader,
} from "./read.js";
export { encodeNifti, type WriteNiftiOptions, writeNifti } from "./write.js";
