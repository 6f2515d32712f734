/** QIDO-RS (PS3.18 10.6): query parameters to a validated search, and results to DICOM JSON (PS3.18 F.2). */
import { RadioLensError } from "../core/errors.js";
import { lookupKeyword, lookupTag } from "../io/dicom/index.js";
import type { QidoColumn, QidoFilter, QidoLevel, QidoMatch, QidoSearch } from "./repository/queries.js";
import type { InstanceRecord, SearchResult } from "./repository/sqlite.js";

/** One attribute of the DICOM JSON model (PS3.18 F.2.2): its VR and, unless empty, its values. */
export interface DicomJsonAttribute {
  readonly vr: string;
  readonly Value?: readonly unknown[];
  readonly BulkDataURI?: string;
}
/** A DICOM JSON dataset: attributes by 8-digit upper-case hex tag. */
export type DicomJson = Record<string, DicomJsonAttribute>;

/** An attribute QIDO-RS knows: tag, VR, level, and the index column it is matched on and returned from. */
interface QidoAttribute {
  readonly keyword: string;
  readonly tag: string;
  readonly vr: string;
  readonly level: QidoLevel;
  /** Where its value comes from: an index column, or a value computed per result. */
  readonly column?: QidoColumn;
  /** Returned without includefield (PS3.18 Tables 10.6.3-3 to 10.6.3-5). */
  readonly byDefault: boolean;
}

const A = (
  keyword: string,
  tag: string,
  vr: string,
  level: QidoLevel,
  column: QidoColumn | undefined,
  byDefault = true,
): QidoAttribute => ({ keyword, tag, vr, level, byDefault, ...(column ? { column } : {}) });

/** The attributes this service matches on (those with a column) and returns, in tag order. */
const ATTRIBUTES: readonly QidoAttribute[] = [
  A("SOPClassUID", "00080016", "UI", "instance", "sop_class_uid"),
  A("SOPInstanceUID", "00080018", "UI", "instance", "sop_instance_uid"),
  A("StudyDate", "00080020", "DA", "study", "study_date"),
  A("StudyTime", "00080030", "TM", "study", "study_time"),
  A("AccessionNumber", "00080050", "SH", "study", "accession_number"),
  A("InstanceAvailability", "00080056", "CS", "instance", undefined),
  A("Modality", "00080060", "CS", "series", "modality"),
  A("ModalitiesInStudy", "00080061", "CS", "study", undefined),
  A("ReferringPhysicianName", "00080090", "PN", "study", "referring_physician_name"),
  A("StudyDescription", "00081030", "LO", "study", "study_description", false),
  A("SeriesDescription", "0008103E", "LO", "series", "series_description"),
  A("RetrieveURL", "00081190", "UR", "instance", undefined),
  A("PatientName", "00100010", "PN", "study", "patient_name"),
  A("PatientID", "00100020", "LO", "study", "patient_id"),
  A("PatientBirthDate", "00100030", "DA", "study", "patient_birth_date"),
  A("PatientSex", "00100040", "CS", "study", "patient_sex"),
  A("StudyInstanceUID", "0020000D", "UI", "study", "study_instance_uid"),
  A("SeriesInstanceUID", "0020000E", "UI", "series", "series_instance_uid"),
  A("StudyID", "00200010", "SH", "study", "study_id"),
  A("SeriesNumber", "00200011", "IS", "series", "series_number"),
  A("InstanceNumber", "00200013", "IS", "instance", "instance_number"),
  A("NumberOfStudyRelatedSeries", "00201206", "IS", "study", undefined),
  A("NumberOfStudyRelatedInstances", "00201208", "IS", "study", undefined),
  A("NumberOfSeriesRelatedInstances", "00201209", "IS", "series", undefined),
  A("Rows", "00280010", "US", "instance", "rows"),
  A("Columns", "00280011", "US", "instance", "columns"),
  A("BitsAllocated", "00280100", "US", "instance", "bits_allocated"),
  A("NumberOfFrames", "00280008", "IS", "instance", "number_of_frames"),
].sort((a, b) => a.tag.localeCompare(b.tag));

const BY_KEY = new Map<string, QidoAttribute>();
for (const a of ATTRIBUTES) {
  BY_KEY.set(a.keyword, a);
  BY_KEY.set(a.tag, a);
}

/** Matching keys that are not attributes of the index (computed per result, or constant). */
const NOT_MATCHABLE = new Set([
  "InstanceAvailability",
  "RetrieveURL",
  "NumberOfStudyRelatedSeries",
  "NumberOfStudyRelatedInstances",
  "NumberOfSeriesRelatedInstances",
]);

const RANK: Readonly<Record<QidoLevel, number>> = { study: 0, series: 1, instance: 2 };

/** The parameters of a search that are not matching keys (PS3.18 8.3.4) plus the RadioLens `origin` extension. */
const CONTROL = new Set(["limit", "offset", "fuzzymatching", "includefield", "origin"]);

const bad = (detail: string): RadioLensError => new RadioLensError("RL_ERR_BAD_REQUEST", { detail });

const UID_RE = /^[0-9]+(\.[0-9]+)*$/;
const DA_RE = /^\d{8}$/;
const TM_RE = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

/** A truncated TM upper bound covers its whole interval: "10" ends at 10:59:59.999999 (PS3.4 C.2.2.2.5). */
const tmUpper = (t: string): string => t + "235959.999999".slice(t.length);

function rangeOf(key: string, value: string, re: RegExp, vr: "DA" | "TM"): QidoMatch {
  const dash = value.indexOf("-");
  if (dash < 0) {
    if (!re.test(value)) throw bad(`${key}: "${value}" is not a ${vr} value (PS3.5 6.2)`);
    return vr === "TM" && value.length < 13
      ? { kind: "range", from: value, to: tmUpper(value) }
      : { kind: "exact", value };
  }
  const from = value.slice(0, dash);
  const to = value.slice(dash + 1);
  if ((from === "" && to === "") || (from !== "" && !re.test(from)) || (to !== "" && !re.test(to)))
    throw bad(`${key}: "${value}" is not a ${vr} range (from-to, either end may be open; PS3.4 C.2.2.2.5)`);
  if (from !== "" && to !== "" && from > to) throw bad(`${key}: the range "${value}" ends before it starts`);
  return {
    kind: "range",
    ...(from !== "" ? { from } : {}),
    ...(to !== "" ? { to: vr === "TM" ? tmUpper(to) : to } : {}),
  };
}

/** The match of one key's value under the rules of its VR (PS3.4 C.2.2.2, PS3.18 8.3.4.1). */
function matchOf(a: QidoAttribute, value: string, fuzzy: boolean): QidoMatch {
  // Control characters never occur in the matched VRs; refusing them keeps the values printable in errors.
  if ([...value].some((c) => c.charCodeAt(0) < 0x20))
    throw bad(`${a.keyword}: control characters are not allowed`);
  if (value.length > 320) throw bad(`${a.keyword}: the value is longer than any stored value`);
  switch (a.vr) {
    case "UI": {
      // UID list matching: comma-separated (PS3.18 8.3.4.1), or backslash as in C-FIND.
      const values = value.split(/[,\\]/);
      for (const v of values)
        if (!UID_RE.test(v) || v.length > 64)
          throw bad(`${a.keyword}: "${v}" is not a UID (digits and dots, at most 64; PS3.5 9.1)`);
      return values.length === 1 ? { kind: "exact", value } : { kind: "list", values };
    }
    case "DA":
      return rangeOf(a.keyword, value, DA_RE, "DA");
    case "TM":
      return rangeOf(a.keyword, value, TM_RE, "TM");
    case "IS":
    case "US":
      if (!/^[+-]?\d{1,12}$/.test(value)) throw bad(`${a.keyword}: "${value}" is not an integer`);
      return { kind: "exact", value: String(Number(value)) };
    case "PN":
      if (fuzzy) return { kind: "fuzzy-pn", components: value.split("=")[0]?.split("^") ?? [value] };
      return /[*?]/.test(value) ? { kind: "wildcard", pattern: value } : { kind: "exact", value };
    default: {
      if (a.keyword === "ModalitiesInStudy" || a.keyword === "Modality") {
        const values = value.split(/[,\\]/);
        if (values.length > 1 && !values.some((v) => /[*?]/.test(v))) return { kind: "list", values };
      }
      return /[*?]/.test(value) ? { kind: "wildcard", pattern: value } : { kind: "exact", value };
    }
  }
}

/** An attribute named by keyword or by tag (8 hex digits, any case) in a parameter. */
function attributeOf(name: string): QidoAttribute | undefined {
  return BY_KEY.get(/^[0-9a-fA-F]{8}$/.test(name) ? name.toUpperCase() : name);
}

/** A valid DICOM attribute name (keyword or tag) that this service does not index. */
function isDicomAttribute(name: string): boolean {
  return dicomTagOf(name) !== undefined;
}

/** The tag (8 upper-case hex digits) of a dictionary keyword or tag; undefined when neither. */
function dicomTagOf(name: string): string | undefined {
  const entry = /^[0-9a-fA-F]{8}$/.test(name) ? lookupTag(Number.parseInt(name, 16)) : lookupKeyword(name);
  if (!entry) return undefined;
  return /^[0-9a-fA-F]{8}$/.test(name)
    ? name.toUpperCase()
    : entry.tag.toString(16).toUpperCase().padStart(8, "0");
}

/** A parsed QIDO-RS request: the search and the attributes each result returns. */
export interface QidoRequest {
  readonly search: QidoSearch;
  /** Tags (8 hex) returned beyond the level's defaults. */
  readonly include: ReadonlySet<string>;
  /** `includefield=all`. */
  readonly all: boolean;
  /**
   * Included attributes the index does not hold (tags, 8 hex): instance-level searches read them from the files,
   * higher levels leave them out.
   */
  readonly fromFiles: ReadonlySet<string>;
}

const oneValue = (name: string, v: unknown): string => {
  if (Array.isArray(v)) throw bad(`${name} is given more than once`);
  return typeof v === "string" ? v : "";
};

/**
 * Validates a QIDO-RS query string for `level` and returns the search (PS3.18 8.3.4, 10.6.1.2). `fixed` are the
 * UIDs of the resource path. Unknown parameters, attributes this service cannot match on, and values that are
 * not valid for their VR are a 400 naming the parameter.
 *
 * @throws RadioLensError RL_ERR_BAD_REQUEST
 * @example
 * ```ts
 * parseQido({ PatientName: "DOE*", StudyDate: "2020-", limit: "10" }, "study");
 * ```
 */
export function parseQido(
  query: Readonly<Record<string, unknown>>,
  level: QidoLevel,
  fixed: readonly QidoFilter[] = [],
): QidoRequest {
  const fz = oneValue("fuzzymatching", query["fuzzymatching"]);
  if (fz !== "" && fz !== "true" && fz !== "false") throw bad("fuzzymatching must be true or false");
  const fuzzy = fz === "true";
  const filters: QidoFilter[] = [...fixed];
  const include = new Set<string>();
  const fromFiles = new Set<string>();
  let all = false;
  for (const [name, raw] of Object.entries(query)) {
    if (name === "includefield") {
      for (const v of (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(","))) {
        const field = v.trim();
        if (field === "all") all = true;
        else {
          const a = attributeOf(field);
          const tag = a ? undefined : dicomTagOf(field);
          if (a) include.add(a.tag);
          else if (tag) fromFiles.add(tag);
          else throw bad(`includefield: "${field}" is neither a DICOM keyword nor a tag (8 hex digits)`);
        }
      }
      continue;
    }
    if (CONTROL.has(name)) continue;
    const a = attributeOf(name);
    if (!a)
      throw bad(
        isDicomAttribute(name)
          ? `${name} is not a matching key of this service; see docs/dicomweb-conformance.md`
          : `unknown query parameter "${name}" (PS3.18 8.3.4: an attribute keyword or tag, limit, offset, fuzzymatching, includefield)`,
      );
    if (NOT_MATCHABLE.has(a.keyword)) throw bad(`${a.keyword} is a return key only, it cannot be matched`);
    const value = oneValue(name, raw);
    // Empty or "*" is universal matching (PS3.4 C.2.2.2.3): no condition.
    if (value === "" || value === "*") continue;
    const match = matchOf(a, value, fuzzy);
    const column: QidoColumn = a.keyword === "ModalitiesInStudy" ? "modality" : (a.column as QidoColumn);
    filters.push({ column, level: a.keyword === "ModalitiesInStudy" ? "series" : a.level, match });
  }
  const origin = oneValue("origin", query["origin"]);
  // A RadioLens extension (not a PS3.18 matching key): "received" lists what was sent to us, "result" what we made.
  if (origin !== "" && origin !== "received" && origin !== "result")
    throw bad("origin must be 'received' or 'result'");
  if (origin) filters.push({ column: "origin", level: "instance", match: { kind: "exact", value: origin } });
  const limitText = oneValue("limit", query["limit"]);
  const offsetText = oneValue("offset", query["offset"]);
  const limit = limitText === "" ? 1000 : Number(limitText);
  const offset = offsetText === "" ? 0 : Number(offsetText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000 || !Number.isInteger(offset) || offset < 0)
    throw bad("limit must be 1-10000 and offset ≥ 0");
  if (fromFiles.size > 64) throw bad("includefield names at most 64 attributes outside the index");
  return { search: { level, filters, limit, offset }, include, all, fromFiles };
}

const attr = (vr: string, v: string | number | undefined): DicomJsonAttribute => {
  if (v === undefined || v === "") return { vr };
  if (vr === "PN") {
    // PS3.18 F.2.2: the three component groups (PS3.5 6.2.1.2) as separate members, empty ones left out.
    const [Alphabetic = "", Ideographic = "", Phonetic = ""] = String(v).split("=");
    const pn = Object.fromEntries(
      Object.entries({ Alphabetic, Ideographic, Phonetic }).filter(([, g]) => g !== ""),
    );
    return Object.keys(pn).length > 0 ? { vr, Value: [pn] } : { vr };
  }
  if (vr === "IS" || vr === "US") {
    const n = Number(v);
    return Number.isFinite(n) ? { vr, Value: [n] } : { vr };
  }
  return { vr, Value: [v] };
};

/** The value of an attribute for one result at its level. */
function attributeValue(a: QidoAttribute, r: SearchResult, base: string): DicomJsonAttribute {
  const rec: InstanceRecord = r.record;
  switch (a.keyword) {
    case "InstanceAvailability":
      return attr("CS", "ONLINE");
    case "ModalitiesInStudy":
      return r.modalities && r.modalities.length > 0 ? { vr: "CS", Value: r.modalities } : { vr: "CS" };
    case "NumberOfStudyRelatedSeries":
      return attr("IS", r.seriesCount);
    case "NumberOfStudyRelatedInstances":
    case "NumberOfSeriesRelatedInstances":
      return attr("IS", r.instanceCount);
    case "RetrieveURL": {
      const study = `${base}/studies/${rec.studyInstanceUid}`;
      const series = `${study}/series/${rec.seriesInstanceUid}`;
      return attr(
        "UR",
        rec.sopInstanceUid
          ? `${series}/instances/${rec.sopInstanceUid}`
          : rec.seriesInstanceUid
            ? series
            : study,
      );
    }
  }
  const row = columnValue(rec, a.column as QidoColumn);
  return attr(a.vr, row);
}

function columnValue(rec: InstanceRecord, c: QidoColumn): string {
  const map: Record<QidoColumn, string | undefined> = {
    study_instance_uid: rec.studyInstanceUid,
    series_instance_uid: rec.seriesInstanceUid,
    sop_instance_uid: rec.sopInstanceUid,
    sop_class_uid: rec.sopClassUid,
    modality: rec.modality,
    study_date: rec.studyDate,
    patient_id: rec.patientId,
    patient_name: rec.patientName,
    accession_number: rec.accessionNumber,
    origin: rec.origin,
    study_time: rec.studyTime,
    study_id: rec.studyId,
    study_description: rec.studyDescription,
    referring_physician_name: rec.referringPhysicianName,
    patient_birth_date: rec.patientBirthDate,
    patient_sex: rec.patientSex,
    series_description: rec.seriesDescription,
    series_number: rec.seriesNumber,
    instance_number: rec.instanceNumber,
    rows: rec.rows,
    columns: rec.columns,
    bits_allocated: rec.bitsAllocated,
    number_of_frames: rec.numberOfFrames,
  };
  return map[c] ?? "";
}

/** Attributes of lower levels than the answer's that a result may not carry (e.g. Modality of a study). */
function belongs(a: QidoAttribute, level: QidoLevel): boolean {
  if (a.keyword === "ModalitiesInStudy") return level === "study";
  if (a.keyword === "NumberOfStudyRelatedSeries" || a.keyword === "NumberOfStudyRelatedInstances")
    return level === "study";
  if (a.keyword === "NumberOfSeriesRelatedInstances") return level === "series";
  if (a.keyword === "RetrieveURL" || a.keyword === "InstanceAvailability") return true;
  return RANK[a.level] <= RANK[level];
}

/**
 * One QIDO-RS result as DICOM JSON (PS3.18 F.2): the level's default attributes and those of the levels above
 * (PS3.18 10.6.3.3), plus the included ones (or every indexed one with `includefield=all`), in tag order;
 * `fromFile` holds the instance's own attributes for the included ones outside the index.
 *
 * @example
 * ```ts
 * const json = qidoJson(result, req, "https://pacs.example/dicomweb");
 * ```
 */
export function qidoJson(
  r: SearchResult,
  q: QidoRequest,
  base: string,
  fromFile: Readonly<DicomJson> = {},
): DicomJson {
  const out: DicomJson = {};
  // Attributes read from the instance's file (instance level only), merged in tag order below.
  for (const tag of q.fromFiles) {
    const a = fromFile[tag];
    if (a) out[tag] = a;
  }
  const level = q.search.level;
  for (const a of ATTRIBUTES) {
    if (!belongs(a, level)) continue;
    if (!(a.byDefault || q.all || q.include.has(a.tag))) continue;
    out[a.tag] = attributeValue(a, r, base);
  }
  return Object.fromEntries(Object.entries(out).sort(([x], [y]) => x.localeCompare(y)));
}
