/** The PS3.6 data dictionary: look up an attribute's keyword, VR and VM by tag or keyword (repeating groups included). */
import { DICTIONARY_ROWS } from "./dictionary-data.js";
import { isVR, type VR } from "./vr.js";

/** One attribute of PS3.6 Table 6-1. */
export interface DictionaryEntry {
  /** Tag as a 32-bit number; for repeating groups, the first instance. */
  readonly tag: number;
  readonly keyword: string;
  /** VR candidates; more than one for ambiguous VRs such as `US or SS`. */
  readonly vrs: readonly VR[];
  /** Value multiplicity as PS3.6 writes it: `1`, `1-n`, `2-2n`... */
  readonly vm: string;
  readonly retired: boolean;
}

interface Tables {
  byTag: Map<number, DictionaryEntry>;
  byKeyword: Map<string, DictionaryEntry>;
  /** Repeating-group entries with the mask of their fixed digits. */
  repeaters: { mask: number; value: number; entry: DictionaryEntry }[];
}

let tables: Tables | undefined;

function load(): Tables {
  if (tables) return tables;
  const byTag = new Map<number, DictionaryEntry>();
  const byKeyword = new Map<string, DictionaryEntry>();
  const repeaters: Tables["repeaters"] = [];
  for (const row of DICTIONARY_ROWS.split("\n")) {
    const [tagHex = "", vrText = "", vm = "", keyword = "", retired] = row.split("\t");
    const vrs = vrText.split("|").filter(isVR);
    const tag = Number.parseInt(tagHex.replace(/x/g, "0"), 16) >>> 0;
    const entry: DictionaryEntry = {
      tag,
      keyword,
      vrs: vrs.length ? vrs : ["UN"],
      vm,
      retired: retired === "R",
    };
    if (tagHex.includes("x")) {
      let mask = 0;
      for (let i = 0; i < 8; i++) if (tagHex[i] !== "x") mask |= 0xf << (28 - 4 * i);
      repeaters.push({ mask: mask >>> 0, value: tag & mask, entry });
    } else {
      byTag.set(tag, entry);
    }
    if (!byKeyword.has(keyword)) byKeyword.set(keyword, entry);
  }
  tables = { byTag, byKeyword, repeaters };
  return tables;
}

/**
 * Finds the dictionary entry of a tag, including repeating groups such as overlays (60xx,3000).
 *
 * @example
 * ```ts
 * lookupTag(0x00100010)?.keyword; // "PatientName"
 * ```
 */
export function lookupTag(tag: number): DictionaryEntry | undefined {
  const t = load();
  const hit = t.byTag.get(tag >>> 0);
  if (hit) return hit;
  for (const r of t.repeaters) if ((tag & r.mask) >>> 0 === r.value >>> 0) return r.entry;
  return undefined;
}

/**
 * Finds the dictionary entry of a keyword.
 *
 * @example
 * ```ts
 * lookupKeyword("Rows")?.tag; // 0x00280010
 * ```
 */
export function lookupKeyword(keyword: string): DictionaryEntry | undefined {
  return load().byKeyword.get(keyword);
}

/**
 * The tag of a keyword, or the number itself; throws a RangeError for an unknown keyword (a programming error).
 *
 * @example
 * ```ts
 * tagOf("PixelData"); // 0x7fe00010
 * ```
 */
export function tagOf(tagOrKeyword: number | string): number {
  if (typeof tagOrKeyword === "number") return tagOrKeyword >>> 0;
  const e = lookupKeyword(tagOrKeyword);
  if (!e)
    throw new RangeError(`Unknown DICOM keyword '${tagOrKeyword}'; use a PS3.6 keyword or a numeric tag`);
  return e.tag;
}

/**
 * The VR implicit VR encoding implies for a tag (PS3.5 A.1): group lengths are UL, private creators LO,
 * unknown tags UN; ambiguous VRs are resolved by the caller.
 *
 * @example
 * ```ts
 * implicitVRCandidates(0x00280010); // ["US"]
 * ```
 */
export function implicitVRCandidates(tag: number): readonly VR[] {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return ["UL"];
  if (group & 1) {
    if (element >= 0x10 && element <= 0xff) return ["LO"];
    return ["UN"];
  }
  return lookupTag(tag)?.vrs ?? ["UN"];
}
