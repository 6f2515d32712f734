/** De-identification (PS3.15 Annex E): Basic Profile with options, UID remapping, burned-in quarantine, audit, pseudonym table. */

export {
  type DeidConfig,
  type DeidInstanceResult,
  deidentifyBytes,
  deidentifyParsed,
  parseForDeid,
} from "./apply-profile.js";
export {
  ACTION_KINDS,
  type ActionCounts,
  type ActionKind,
  type AuditRecord,
  auditLine,
  readAuditForResume,
} from "./audit.js";
export {
  AUDIT_FILE,
  type DeidTreeOptions,
  type DeidTreeSummary,
  deidentifyFile,
  deidentifyTree,
  RUN_FILE,
  readSecretFile,
  type TaskResult,
} from "./batch.js";
export { cleanText, IdentifierSet } from "./clean.js";
export { capAge, dateShiftDays, shiftDA, shiftDT } from "./dates.js";
export {
  activeOptions,
  BASIC_PROFILE_CODE,
  DEID_OPTIONS,
  type DeidOptionName,
  type DeidOptions,
  parseOptionNames,
  validateOptions,
} from "./options.js";
export {
  allRules,
  chooseAction,
  findRule,
  isSafePrivate,
  type ProfileRule,
  resolveCombination,
} from "./profile.js";
export { PROFILE_ROWS, PROFILE_SOURCE, PROFILE_SUPPLEMENT_ROWS, SAFE_PRIVATE_ROWS } from "./profile-table.js";
export { pseudonymFor, readPseudonymTable, writePseudonymTable } from "./pseudonym.js";
export { assessBurnedIn, loadMaskRules, maskNativePixels, type PixelMaskRule } from "./quarantine.js";
export { isStandardUid, remapUid } from "./uid.js";
