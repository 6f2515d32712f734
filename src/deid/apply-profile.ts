/** Applies the PS3.15 Annex E Basic Profile and its options to one parsed instance, recursively through sequences. */
import {
  DicomDataset,
  type DicomElement,
  type DicomWarning,
  lookupTag,
  type ParsedDicom,
  parseDicom,
  STRING_VRS,
  transferSyntax,
  type VR,
  writeDicom,
} from "../io/dicom/index.js";
import { type ActionCounts, emptyCounts } from "./audit.js";
import { cleanText, IdentifierSet } from "./clean.js";
import { capAge, dateShiftDays, shiftDA, shiftDT } from "./dates.js";
import { dummyBinary, dummyString } from "./dummy.js";
import {
  activeOptions,
  BASIC_PROFILE_CODE,
  DEID_OPTIONS,
  type DeidOptions,
  validateOptions,
} from "./options.js";
import { chooseAction, findRule, isSafePrivate, type ResolvedAction, resolveCombination } from "./profile.js";
import type { ProfileAction } from "./profile-types.js";
import { pseudonymFor } from "./pseudonym.js";
import { assessBurnedIn, maskNativePixels, type PixelMaskRule } from "./quarantine.js";
import { isStandardUid, remapUid } from "./uid.js";

/** How one run de-identifies. */
export interface DeidConfig {
  /** Key of every HMAC (UIDs, pseudonyms, date shifts); at least 16 bytes, kept apart from the output. */
  readonly secret: Uint8Array;
  readonly options?: DeidOptions;
  /** Device-specific pixel masks that clear burned-in verdicts. */
  readonly maskRules?: readonly PixelMaskRule[];
  /**
   * Write instances the burned-in rules flag instead of quarantining them (default false). Only for data whose
   * pixels a person has checked; the audit still lists the reasons.
   */
  readonly keepBurnedIn?: boolean;
}

/** The outcome for one instance. */
export interface DeidInstanceResult {
  readonly status: "written" | "quarantined";
  /** The de-identified Part 10 file (absent when quarantined). */
  readonly bytes?: Uint8Array;
  readonly actions: ActionCounts;
  readonly quarantine: readonly string[];
  readonly maskRule?: string;
  readonly sopClassUID?: string;
  /** Original Patient ID and its pseudonym, for the encrypted pseudonym table (never logged). */
  readonly patient?: { readonly id: string; readonly pseudonym: string };
  /** Study, Series and SOP Instance UIDs of the output (already replaced), for naming files by UID. */
  readonly uids?: { readonly study: string; readonly series: string; readonly instance: string };
  /** Deviations of the input read with a warning (ADR 028), as `CODE: message` (tags and offsets, no values). */
  readonly warnings?: readonly string[];
}

const PatientName = 0x00100010;
const PatientID = 0x00100020;
const PatientAge = 0x00101010;
const PixelData = 0x7fe00010;
const SOPClassUID = 0x00080016;
const SOPInstanceUID = 0x00080018;
const MediaStorageDirectoryStorage = "1.2.840.10008.1.3.10";

/**
 * UI attributes that name standard or structural things, not instances (PS3.15 E.3.9 Note 4: "one would never
 * remove or replace the SOP Class UID"); kept whatever their value.
 */
const STRUCTURAL_UIDS: ReadonlySet<number> = new Set([
  0x00020002, // MediaStorageSOPClassUID
  0x00020010, // TransferSyntaxUID
  0x00020012, // ImplementationClassUID
  0x00041510, // ReferencedSOPClassUIDInFile
  0x00041512, // ReferencedTransferSyntaxUIDInFile
  0x0004151a, // ReferencedRelatedGeneralSOPClassUIDInFile
  0x00080016, // SOPClassUID
  0x0008001a, // RelatedGeneralSOPClassUID
  0x0008001b, // OriginalSpecializedSOPClassUID
  0x00080062, // SOPClassesInStudy
  0x0008010c, // CodingSchemeUID
  0x0008010d, // ContextGroupExtensionCreatorUID
  0x00080117, // ContextUID
  0x00080118, // MappingResourceUID
  0x00081150, // ReferencedSOPClassUID
  0x0008115a, // SOPClassesSupported
  0x04000510, // EncryptedContentTransferSyntaxUID
]);

/** Text VRs whose values a D action on an enclosing sequence replaces with dummies. */
const TEXT_VRS: ReadonlySet<VR> = new Set<VR>(["AE", "AS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"]);
/**
 * Opaque binary VRs whose bytes a D action on an enclosing sequence zeroes. Numeric VRs (US, UL, FL, FD, ...) stay:
 * they hold coordinates and references such as Referenced Content Item Identifier (0040,DB73), not text.
 */
const BINARY_VRS: ReadonlySet<VR> = new Set<VR>(["OB", "OW", "UN"]);
/** DS/IS values that are only numbers (PS3.5 6.2): kept inside D sequences like binary numbers, e.g. Referenced Frame Number. */
const NUMBER_STRING =
  /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*(\\\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*)*$/;
const DATE_VRS: ReadonlySet<VR> = new Set<VR>(["DA", "DT", "TM"]);

/** The synthetic rule for date/time attributes Table E.1-1 does not list (E.1.1 Note 4: handle by VR). */
const UNLISTED_DATE: { basic: ProfileAction; options: Record<string, ProfileAction> } = {
  basic: "X/Z/D",
  options: { F: "K", M: "C" },
};

/** How a dataset's leaves are treated: by the profile alone, replaced (inside a D sequence), or cleaned (inside a C sequence). */
type Mode = "normal" | "dummy" | "clean";

/** Code attributes (PS3.3 8.1, 8.8) that cleaning keeps: they come from coding schemes, not from people. */
const CODE_TAGS: ReadonlySet<number> = new Set([
  0x00080100, 0x00080102, 0x00080103, 0x00080104, 0x00080119, 0x00080120,
]);

interface Ctx {
  readonly secret: Uint8Array;
  readonly options: DeidOptions;
  readonly counts: ActionCounts;
  readonly ids: IdentifierSet;
  readonly shiftDays: number;
  readonly pseudonym: string | undefined;
  /** Private blocks the instance itself declares safe, keyed `group|CREATOR` (PS3.3 C.12.1.1.7). */
  readonly declaredSafe: ReadonlyMap<
    string,
    { readonly all: boolean; readonly elements: ReadonlySet<number> }
  >;
}

/**
 * Reads Private Data Element Characteristics Sequence (0008,0300): a block whose Block Identifying Information
 * Status (0008,0303) is SAFE is safe whole; a MIXED block is safe for the element numbers listed in
 * Nonidentifying Private Elements (0008,0304). PS3.15 E.3.10 accepts either as knowledge that an element is safe.
 */
function declaredSafeBlocks(ds: DicomDataset): Ctx["declaredSafe"] {
  const out = new Map<string, { all: boolean; elements: Set<number> }>();
  for (const item of ds.items(0x00080300)) {
    const group = item.number(0x00080301);
    const creator = item.string(0x00080302);
    const status = (item.string(0x00080303) ?? "").toUpperCase();
    if (group === undefined || creator === undefined) continue;
    const key = `${group}|${creator.trim().toUpperCase()}`;
    if (status === "SAFE") out.set(key, { all: true, elements: new Set() });
    else if (status === "MIXED")
      out.set(key, { all: false, elements: new Set(item.numbers(0x00080304).map((n) => n & 0xff)) });
  }
  return out;
}

/** The element's VR for value handling: the dictionary's when it was read as UN (implicit/unknown). */
function effectiveVR(el: DicomElement): VR {
  if (el.items) return "SQ";
  if (el.vr !== "UN") return el.vr;
  return lookupTag(el.tag)?.vrs[0] ?? "UN";
}

function decodeString(ds: DicomDataset, el: DicomElement): string {
  return ds.rawString(el.tag) ?? "";
}

/** The action for one standard (even-group) element, from Table E.1-1 or, when unlisted, from its VR (ADR 050). */
function actionFor(el: DicomElement, vr: VR, ds: DicomDataset, options: DeidOptions): ResolvedAction {
  const rule = findRule(el.tag);
  if (rule) return resolveCombination(chooseAction(rule, options));
  if (vr === "SQ") return "K";
  if (vr === "UI") {
    if (STRUCTURAL_UIDS.has(el.tag)) return "K";
    const values = (ds.rawString(el.tag) ?? "").split("\\").filter((v) => v !== "");
    if (values.every(isStandardUid)) return "K";
    return options.retainUIDs ? "K" : "U";
  }
  if (DATE_VRS.has(vr)) {
    return resolveCombination(
      chooseAction(
        {
          tag: "",
          name: "",
          inStandardIOD: false,
          basic: UNLISTED_DATE.basic,
          options: UNLISTED_DATE.options,
          source: "RadioLens",
        },
        options,
      ),
    );
  }
  if (vr === "PN") return "D";
  // An attribute missing from the dictionary holds content nobody described; text or opaque bytes go.
  if (!lookupTag(el.tag) && (TEXT_VRS.has(vr) || vr === "UN" || vr === "OB" || vr === "LO")) return "X";
  return "K";
}

function setText(ds: DicomDataset, el: DicomElement, vr: VR, text: string): void {
  ds.setString(el.tag, text, vr);
}

function setEmpty(ds: DicomDataset, el: DicomElement, vr: VR): void {
  if (vr === "SQ")
    ds.set({
      tag: el.tag,
      vr: "SQ",
      value: new Uint8Array(0),
      items: [],
      undefinedLength: el.undefinedLength,
    });
  else ds.set({ tag: el.tag, vr, value: new Uint8Array(0), undefinedLength: false });
}

function setDummy(ds: DicomDataset, el: DicomElement, vr: VR, ctx: Ctx): void {
  const s = dummyString(vr);
  if (vr === "UI") {
    remapUids(ds, el, ctx);
    return;
  }
  if (s !== undefined) setText(ds, el, vr, s);
  else ds.set({ tag: el.tag, vr, value: dummyBinary(vr), undefinedLength: false });
  ctx.counts.dummied++;
}

function remapUids(ds: DicomDataset, el: DicomElement, ctx: Ctx): void {
  const raw = ds.rawString(el.tag) ?? "";
  if (raw === "") return;
  const out = raw.split("\\").map((u) => {
    const v = u.trim();
    if (v === "" || isStandardUid(v)) return v;
    ctx.counts.uidReplaced++;
    return remapUid(ctx.secret, v);
  });
  ds.setString(el.tag, out, "UI");
}

/** Clean (C) by VR: dates shift (Modified Dates), free text loses identifiers, sequences recurse. */
function clean(ds: DicomDataset, el: DicomElement, vr: VR, ctx: Ctx, depth: number): void {
  if (vr === "SQ") {
    for (const item of el.items ?? []) processDataset(item, ctx, depth + 1, "clean");
    ctx.counts.cleaned++;
    return;
  }
  if (vr === "DA" || vr === "DT") {
    const raw = decodeString(ds, el);
    if (raw === "") return;
    const shifted = vr === "DA" ? shiftDA(raw, ctx.shiftDays) : shiftDT(raw, ctx.shiftDays);
    if (shifted === undefined) setDummy(ds, el, vr, ctx);
    else {
      setText(ds, el, vr, shifted);
      ctx.counts.dateShifted++;
    }
    return;
  }
  if (vr === "TM") {
    // Modified Dates shifts whole days, so a time of day is unchanged (PS3.15 E.3.6 leaves the method open).
    ctx.counts.kept++;
    return;
  }
  if (vr === "UI") {
    remapUids(ds, el, ctx);
    return;
  }
  if (STRING_VRS.has(vr) && vr !== "CS" && vr !== "DS" && vr !== "IS") {
    const raw = decodeString(ds, el);
    const cleaned = cleanText(raw, ctx.ids);
    if (cleaned === "") setEmpty(ds, el, vr);
    else setText(ds, el, vr, cleaned);
    ctx.counts.cleaned++;
    return;
  }
  ctx.counts.kept++;
}

function applyAction(
  ds: DicomDataset,
  el: DicomElement,
  vr: VR,
  action: ResolvedAction,
  ctx: Ctx,
  depth: number,
  mode: Mode,
): void {
  switch (action) {
    case "X":
      ds.delete(el.tag);
      ctx.counts.removed++;
      return;
    case "Z":
      if ((el.tag === PatientID || el.tag === PatientName) && depth === 0 && ctx.pseudonym !== undefined) {
        // Z allows a dummy; a keyed pseudonym keeps the Patient entity consistent (E.1.1 step 2 Note 3).
        setText(ds, el, vr, ctx.pseudonym);
        ctx.counts.pseudonymized++;
        return;
      }
      setEmpty(ds, el, vr);
      ctx.counts.emptied++;
      return;
    case "D":
      if (vr === "SQ") {
        for (const item of el.items ?? []) processDataset(item, ctx, depth + 1, "dummy");
        ctx.counts.dummied++;
        return;
      }
      if ((el.tag === PatientID || el.tag === PatientName) && depth === 0 && ctx.pseudonym !== undefined) {
        setText(ds, el, vr, ctx.pseudonym);
        ctx.counts.pseudonymized++;
        return;
      }
      setDummy(ds, el, vr, ctx);
      return;
    case "K":
      if (vr === "SQ") {
        for (const item of el.items ?? []) processDataset(item, ctx, depth + 1, mode);
      } else if (el.tag === PatientAge) {
        const raw = decodeString(ds, el);
        const capped = capAge(raw);
        if (capped !== raw) {
          setText(ds, el, vr, capped);
          ctx.counts.ageCapped++;
          return;
        }
      }
      ctx.counts.kept++;
      return;
    case "C":
      clean(ds, el, vr, ctx, depth);
      return;
    case "U":
      if (vr === "SQ") {
        for (const item of el.items ?? []) processDataset(item, ctx, depth + 1, mode);
        return;
      }
      if (vr === "UI" || vr === "UN") remapUids(ds, el, ctx);
      else setDummy(ds, el, vr, ctx);
      return;
  }
}

/** Private elements (odd groups): removed, or kept when Retain Safe Private lists them (PS3.15 E.3.10). */
function processPrivate(ds: DicomDataset, ctx: Ctx, depth: number, mode: Mode): void {
  const keepCreators = new Set<number>();
  const privateTags = [...ds.elements.keys()].filter((t) => (t >>> 16) & 1);
  for (const tag of privateTags) {
    const el = ds.elements.get(tag);
    if (!el) continue;
    const group = tag >>> 16;
    const element = tag & 0xffff;
    if (element >= 0x0010 && element <= 0x00ff) continue;
    let keep = false;
    if (ctx.options.retainSafePrivate && element >= 0x1000) {
      const creatorTag = ((group << 16) | (element >>> 8)) >>> 0;
      const creator = ds.rawString(creatorTag);
      const declared =
        creator === undefined ? undefined : ctx.declaredSafe.get(`${group}|${creator.trim().toUpperCase()}`);
      const safeByInstance =
        declared !== undefined && (declared.all || declared.elements.has(element & 0xff));
      if (creator !== undefined && (safeByInstance || isSafePrivate(group, creator, element & 0xff))) {
        keep = true;
        keepCreators.add(creatorTag);
      }
    }
    if (!keep) {
      ds.delete(tag);
      ctx.counts.privateRemoved++;
      continue;
    }
    ctx.counts.privateKept++;
    if (el.items) for (const item of el.items) processDataset(item, ctx, depth + 1, mode);
    else if (effectiveVR(el) === "UI" && !ctx.options.retainUIDs) remapUids(ds, el, ctx);
  }
  for (const tag of privateTags) {
    const element = tag & 0xffff;
    const isCreator = element >= 0x0010 && element <= 0x00ff;
    if (!isCreator && element !== 0) continue;
    if (isCreator && keepCreators.has(tag)) continue;
    if (ds.elements.delete(tag)) ctx.counts.privateRemoved++;
  }
}

/**
 * Applies the profile to one dataset (top level or a sequence item). In "dummy" mode (inside a sequence whose
 * action is D) every remaining text value is replaced by a dummy as well, since D asks for the whole sequence's
 * content to be replaced; in "clean" mode (inside a sequence whose action is C) remaining free text is cleaned
 * (PS3.15 E.1.1: actions on a sequence apply to all of its contents).
 */
function processDataset(ds: DicomDataset, ctx: Ctx, depth: number, mode: Mode): void {
  processPrivate(ds, ctx, depth, mode);
  for (const el of [...ds.elements.values()]) {
    const tag = el.tag >>> 0;
    const group = tag >>> 16;
    if (group & 1) continue;
    if ((tag & 0xffff) === 0 || group === 0x0002) {
      // Group lengths go stale once values change (and are retired in datasets, PS3.5 7.2); File Meta is rebuilt.
      ds.delete(tag);
      continue;
    }
    if (tag === PixelData || tag === 0x7fe00008 || tag === 0x7fe00009) continue;
    const vr = effectiveVR(el);
    if (vr === "SQ" && !el.items && el.value.length > 0) {
      // A sequence stored as opaque UN bytes cannot be walked, so nothing inside it can be vouched for.
      ds.delete(tag);
      ctx.counts.removed++;
      continue;
    }
    let action = actionFor(el, vr, ds, ctx.options);
    if (mode === "clean" && action === "K" && TEXT_VRS.has(vr) && vr !== "PN" && !CODE_TAGS.has(tag)) {
      // Inside a cleaned sequence (e.g. Content Sequence under Clean Structured Content) free text is cleaned too.
      action = "C";
    }
    if (mode === "dummy" && action !== "X" && action !== "Z") {
      const numericText = (vr === "DS" || vr === "IS") && NUMBER_STRING.test(ds.rawString(el.tag) ?? "");
      if (vr === "SQ" || TEXT_VRS.has(vr) || ((vr === "DS" || vr === "IS") && !numericText)) action = "D";
      else if (BINARY_VRS.has(vr)) {
        // Keep the value's length (and so its VM) but not its content.
        if (el.value.length > 0) {
          ds.set({ tag: el.tag, vr, value: new Uint8Array(el.value.length), undefinedLength: false });
          ctx.counts.dummied++;
        }
        continue;
      }
    }
    applyAction(ds, el, vr, action, ctx, depth, mode);
  }
  // An overlay plane whose Overlay Data (60xx,3000) the profile removed is removed whole: rows, origin and bit
  // layout without data would describe an overlay that is not there (PS3.3 C.9.2).
  for (let g = 0x6000; g <= 0x601e; g += 2) {
    const dataTag = ((g << 16) | 0x3000) >>> 0;
    if (ds.has(dataTag)) continue;
    for (const t of [...ds.elements.keys()]) {
      if (t >>> 16 === g) {
        ds.delete(t);
        ctx.counts.removed++;
      }
    }
  }
}

/** Gathers identifying strings (values the profile removes or replaces) for cleaning descriptors. */
function harvest(ds: DicomDataset, options: DeidOptions, ids: IdentifierSet, depth: number): void {
  for (const el of ds.elements.values()) {
    if (depth > 8) return;
    if (el.items) {
      for (const item of el.items) harvest(item, options, ids, depth + 1);
      continue;
    }
    const vr = effectiveVR(el);
    if (!STRING_VRS.has(vr) || vr === "UI" || vr === "CS" || vr === "DS" || vr === "IS") continue;
    if ((el.tag >>> 16) & 1) continue;
    const action = actionFor(el, vr, ds, options);
    if (action === "X" || action === "Z" || action === "D" || vr === "PN") {
      const raw = ds.rawString(el.tag);
      if (raw) for (const v of raw.split("\\")) ids.add(v);
    }
  }
}

function codeItem(charset: readonly string[], code: string, meaning: string): DicomDataset {
  const item = new DicomDataset(true, charset);
  item.setString(0x00080100, code, "SH");
  item.setString(0x00080102, "DCM", "SH");
  item.setString(0x00080104, meaning, "LO");
  return item;
}

/**
 * Warnings of a lenient parse that leave the dataset complete (encoding quirks, not lost bytes); the deviations
 * the parser tolerates by default (ADR 028: zero padding, odd lengths, VR codes the dictionary resolves) too.
 */
const HARMLESS_WARNINGS = new Set(["DICOM_NO_META", "DICOM_BAD_META", "DICOM_BAD_VR"]);

/**
 * Parses an instance for de-identification: lenient about encoding quirks (no File Meta, wrong VR labels) but
 * never about lost bytes, since writing a truncated dataset would silently drop data.
 *
 * @throws DicomError for damaged input.
 * @example
 * ```ts
 * const parsed = parseForDeid(bytes);
 * ```
 */
export function parseForDeid(bytes: Uint8Array): ParsedDicom {
  const parsed = parseDicom(bytes, { strict: false });
  const bad = parsed.warnings.find((w: DicomWarning) => !HARMLESS_WARNINGS.has(w.code) && !w.tolerated);
  if (bad) {
    // Re-raise the first damaging deviation as the error a strict parse reports.
    return parseDicom(bytes, { strict: true });
  }
  return parsed;
}

/**
 * De-identifies one parsed instance in place and returns the new File Meta: Table E.1-1 actions applied
 * recursively, private attributes removed unless safe and retained, Patient Identity Removed (0012,0062) YES,
 * De-identification Method (0012,0063) and its Code Sequence (0012,0064) with 113100 and one code per option,
 * Longitudinal Temporal Information Modified (0028,0303), and File Meta Information rebuilt from scratch
 * (PS3.15 E.1.1 step 7).
 *
 * @example
 * ```ts
 * const parsed = parseForDeid(bytes);
 * const { meta, actions } = deidentifyParsed(parsed, { secret });
 * ```
 */
export function deidentifyParsed(
  parsed: ParsedDicom,
  config: DeidConfig,
): { meta: DicomDataset; actions: ActionCounts; patient?: { id: string; pseudonym: string } } {
  const options = config.options ?? {};
  validateOptions(options);
  const ds = parsed.dataset;
  const patientId = ds.rawString(PatientID)?.trim() ?? "";
  const pseudonym = patientId !== "" ? pseudonymFor(config.secret, patientId) : undefined;
  const ids = new IdentifierSet();
  if (options.cleanDescriptors || options.retainPatientCharacteristics || options.cleanStructuredContent) {
    harvest(ds, options, ids, 0);
  }
  const ctx: Ctx = {
    secret: config.secret,
    options,
    counts: emptyCounts(),
    ids,
    shiftDays: dateShiftDays(config.secret, patientId),
    pseudonym,
    declaredSafe: options.retainSafePrivate ? declaredSafeBlocks(ds) : new Map(),
  };
  processDataset(ds, ctx, 0, "normal");

  const charset = ds.charset();
  ds.setString(0x00120062, "YES", "CS");
  ds.setString(0x00120063, "RadioLens PS3.15 Annex E", "LO");
  const codes = [codeItem(charset, BASIC_PROFILE_CODE.code, BASIC_PROFILE_CODE.meaning)];
  for (const name of activeOptions(options))
    codes.push(codeItem(charset, DEID_OPTIONS[name].code, DEID_OPTIONS[name].meaning));
  ds.set({ tag: 0x00120064, vr: "SQ", value: new Uint8Array(0), items: codes, undefinedLength: false });
  const longitudinal = options.retainLongitudinalFullDates
    ? "UNMODIFIED"
    : options.retainLongitudinalModifiedDates
      ? "MODIFIED"
      : "REMOVED";
  ds.setString(0x00280303, longitudinal, "CS");

  const meta = new DicomDataset(true);
  meta.set({ tag: 0x00020001, vr: "OB", value: new Uint8Array([0, 1]), undefinedLength: false });
  const sopClass = ds.uid(SOPClassUID);
  const sopInstance = ds.uid(SOPInstanceUID);
  if (sopClass) meta.setString(0x00020002, sopClass, "UI");
  if (sopInstance) meta.setString(0x00020003, sopInstance, "UI");
  meta.setString(0x00020010, parsed.transferSyntaxUID, "UI");
  return pseudonym !== undefined
    ? { meta, actions: ctx.counts, patient: { id: patientId, pseudonym } }
    : { meta, actions: ctx.counts };
}

/**
 * De-identifies one Part 10 file's bytes: burned-in check first (quarantine unless a masking rule applies),
 * then the profile, then a fresh Part 10 encoding with a zeroed preamble.
 *
 * @throws DicomError for damaged input.
 * @example
 * ```ts
 * const r = deidentifyBytes(readFileSync("CT_small.dcm"), { secret });
 * if (r.status === "written") writeFileSync("out.dcm", r.bytes!);
 * ```
 */
export function deidentifyBytes(input: Uint8Array, config: DeidConfig): DeidInstanceResult {
  const parsed = parseForDeid(input);
  const ds = parsed.dataset;
  const sopClassUID = ds.uid(SOPClassUID);
  const warnings = parsed.warnings.map((w) => `${w.code}: ${w.message}`);
  const verdict = assessBurnedIn(
    {
      burnedInAnnotation: ds.string(0x00280301),
      imageType: ds.strings(0x00080008),
      modality: ds.string(0x00080060),
      manufacturer: ds.string(0x00080070),
      model: ds.string(0x00081090),
      rows: ds.number(0x00280010),
      columns: ds.number(0x00280011),
      hasPixelData: ds.has(PixelData) || ds.has(0x7fe00008) || ds.has(0x7fe00009),
    },
    config.maskRules ?? [],
  );
  const base = {
    ...(sopClassUID !== undefined ? { sopClassUID } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
  if (
    sopClassUID === MediaStorageDirectoryStorage ||
    parsed.meta.uid(0x00020002) === MediaStorageDirectoryStorage
  ) {
    // A DICOMDIR's records hold patient names and byte offsets (PS3.10 8.1) that change when values do; it is
    // rebuilt from the de-identified files rather than edited.
    return {
      status: "quarantined",
      actions: emptyCounts(),
      quarantine: ["media-storage-directory"],
      ...base,
    };
  }
  let maskRule: string | undefined;
  if (verdict.reasons.length > 0 && !config.keepBurnedIn) {
    const pixel = ds.get(PixelData);
    const ts = transferSyntax(parsed.transferSyntaxUID);
    const masked =
      verdict.mask && pixel && !pixel.fragments && !ts.encapsulated
        ? maskNativePixels(
            pixel.value,
            {
              rows: ds.number(0x00280010) ?? 0,
              columns: ds.number(0x00280011) ?? 0,
              samplesPerPixel: ds.number(0x00280002) ?? 1,
              bitsAllocated: ds.number(0x00280100) ?? 0,
              planarConfiguration: ds.number(0x00280006) ?? 0,
              frames: Number(ds.string(0x00280008) ?? "1") || 1,
            },
            verdict.mask.regions,
          )
        : undefined;
    if (!masked || !verdict.mask || !pixel) {
      const reasons = [...verdict.reasons, ...(verdict.mask ? ["mask-not-applicable"] : [])];
      return { status: "quarantined", actions: emptyCounts(), quarantine: reasons, ...base };
    }
    pixel.value = masked;
    maskRule = verdict.mask.name;
  }
  const { meta, actions, patient } = deidentifyParsed(parsed, config);
  const bytes = writeDicom({ meta, dataset: ds, transferSyntaxUID: parsed.transferSyntaxUID });
  const study = ds.uid(0x0020000d);
  const series = ds.uid(0x0020000e);
  const instance = ds.uid(SOPInstanceUID);
  return {
    status: "written",
    bytes,
    ...(study && series && instance ? { uids: { study, series, instance } } : {}),
    actions,
    quarantine: verdict.reasons,
    ...(maskRule !== undefined ? { maskRule } : {}),
    ...base,
    ...(patient ? { patient } : {}),
  };
}
