/** The typed DICOM dataset tree (PS3.5 7): elements keep tag, VR and raw value bytes, sequences keep their items. */
import { decodeText, encodeText } from "./charset.js";
import { lookupTag, tagOf } from "./dictionary.js";
import { DicomError, tagString } from "./errors.js";
import { binaryWidth, padByte, SINGLE_VALUE_TEXT_VRS, STRING_VRS, type VR } from "./vr.js";

/** Tag of Specific Character Set (0008,0005). */
const SpecificCharacterSet = 0x00080005;

/**
 * One data element (PS3.5 7.1). `value` holds the raw bytes exactly as stored, in the byte order of the dataset
 * (`DicomDataset.littleEndian`); sequences hold `items`, encapsulated Pixel Data holds `fragments`.
 */
export interface DicomElement {
  /** `(group << 16 | element) >>> 0`. */
  readonly tag: number;
  vr: VR;
  /** Raw value bytes (including padding); empty for SQ and encapsulated Pixel Data. */
  value: Uint8Array;
  /** Items of a sequence (VR SQ, or UN with undefined length read as implicit VR LE, PS3.5 6.2.2). */
  items?: DicomDataset[];
  /** Encapsulated Pixel Data (PS3.5 A.4): the Basic Offset Table item's value (may be empty). */
  offsetTable?: Uint8Array;
  /** Encapsulated Pixel Data (PS3.5 A.4): the value of every item after the Basic Offset Table. */
  fragments?: Uint8Array[];
  /** The element was encoded with undefined length (0xFFFFFFFF); the writer keeps that choice. */
  undefinedLength: boolean;
}

/** A person name split per PS3.5 6.2.1: three component groups, the alphabetic one split into components. */
export interface PersonName {
  readonly alphabetic: string;
  readonly ideographic: string;
  readonly phonetic: string;
  readonly familyName: string;
  readonly givenName: string;
  readonly middleName: string;
  readonly namePrefix: string;
  readonly nameSuffix: string;
}

/** A tag as a number or a PS3.6 keyword. */
export type TagLike = number | string;

function trimString(s: string, vr: VR): string {
  // PS3.5 6.2: trailing spaces (and NUL for UI) are padding; leading spaces are insignificant except in text VRs.
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0)) end--;
  let start = 0;
  if (!SINGLE_VALUE_TEXT_VRS.has(vr) && vr !== "PN")
    while (start < end && s.charCodeAt(start) === 0x20) start++;
  return s.slice(start, end);
}

/**
 * A dataset or sequence item: elements by tag, plus the byte order of their raw values and the character
 * set inherited from the enclosing dataset (PS3.5 7.5.3).
 *
 * @example
 * ```ts
 * const { dataset } = parseDicom(bytes);
 * dataset.string("Modality"); // "CT"
 * dataset.numbers("PixelSpacing"); // [0.66, 0.66]
 * ```
 */
export class DicomDataset {
  /** Elements by tag; iterate with {@link DicomDataset.sorted} for file order. */
  readonly elements = new Map<number, DicomElement>();
  /** Byte order of raw binary values. */
  littleEndian: boolean;
  /** For a sequence item: it was encoded with undefined length; the writer keeps that choice. */
  undefinedLength = false;
  /** Specific Character Set of the enclosing dataset, used when this one has none (PS3.5 7.5.3). */
  inheritedCharset: readonly string[];

  constructor(littleEndian = true, inheritedCharset: readonly string[] = []) {
    this.littleEndian = littleEndian;
    this.inheritedCharset = inheritedCharset;
  }

  /** Elements in ascending tag order (the order PS3.5 7.1 requires in a file). */
  sorted(): DicomElement[] {
    return [...this.elements.values()].sort((a, b) => a.tag - b.tag);
  }

  /** The element of a tag or keyword, if present. */
  get(tag: TagLike): DicomElement | undefined {
    return this.elements.get(tagOf(tag));
  }

  /** True when the element is present. */
  has(tag: TagLike): boolean {
    return this.elements.has(tagOf(tag));
  }

  /** Removes an element; returns whether it was there. */
  delete(tag: TagLike): boolean {
    return this.elements.delete(tagOf(tag));
  }

  /** Adds or replaces an element. */
  set(element: DicomElement): void {
    this.elements.set(element.tag >>> 0, element);
  }

  /** Specific Character Set values in force for this dataset. */
  charset(): readonly string[] {
    const cs = this.elements.get(SpecificCharacterSet);
    if (!cs) return this.inheritedCharset;
    return new TextDecoder("latin1")
      .decode(cs.value)
      .split("\\")
      .map((s) => s.trim());
  }

  /** The raw string of an element, decoded with the character set, without padding; undefined when absent. */
  rawString(tag: TagLike): string | undefined {
    const el = this.get(tag);
    if (!el || el.items || el.fragments) return undefined;
    const text = STRING_VRS.has(el.vr) || el.vr === "UN" ? decodeText(el.value, this.charset()) : undefined;
    return text === undefined ? undefined : trimString(text, el.vr);
  }

  /** The first value of a string element (all of it for LT/ST/UT/UR); undefined when absent or empty. */
  string(tag: TagLike): string | undefined {
    const v = this.strings(tag);
    return v.length ? v[0] : undefined;
  }

  /** All values of a string element, split on backslash (PS3.5 6.4) and trimmed. */
  strings(tag: TagLike): string[] {
    const el = this.get(tag);
    const raw = this.rawString(tag);
    if (raw === undefined || raw === "" || !el) return [];
    if (SINGLE_VALUE_TEXT_VRS.has(el.vr)) return [raw];
    return raw.split("\\").map((s) => trimString(s, el.vr));
  }

  /** The first number of a numeric element (binary VRs, DS, IS); undefined when absent or empty. */
  number(tag: TagLike): number | undefined {
    const v = this.numbers(tag);
    return v.length ? v[0] : undefined;
  }

  /**
   * All numbers of a numeric element: binary VRs decoded in the dataset's byte order, DS/IS parsed as decimal
   * strings (PS3.5 6.2). Throws DICOM_BAD_VALUE for text that is not a number.
   */
  numbers(tag: TagLike): number[] {
    const el = this.get(tag);
    if (!el || el.items || el.fragments) return [];
    if (el.vr === "DS" || el.vr === "IS") {
      return this.strings(tag).map((s) => {
        const n = Number(s);
        if (s === "" || !Number.isFinite(n)) {
          throw new DicomError(
            "DICOM_BAD_VALUE",
            `${tagString(el.tag)} ${el.vr} value '${s}' is not a number`,
          );
        }
        return n;
      });
    }
    return decodeBinary(el.value, el.vr, this.littleEndian);
  }

  /** A Unique Identifier (VR UI) without its NUL padding. */
  uid(tag: TagLike): string | undefined {
    return this.string(tag);
  }

  /** A person name (VR PN) split into groups and components (PS3.5 6.2.1). */
  personName(tag: TagLike): PersonName | undefined {
    const s = this.string(tag);
    if (s === undefined) return undefined;
    const [alphabetic = "", ideographic = "", phonetic = ""] = s.split("=");
    const [familyName = "", givenName = "", middleName = "", namePrefix = "", nameSuffix = ""] =
      alphabetic.split("^");
    return { alphabetic, ideographic, phonetic, familyName, givenName, middleName, namePrefix, nameSuffix };
  }

  /** The items of a sequence; empty when absent. */
  items(tag: TagLike): DicomDataset[] {
    return this.get(tag)?.items ?? [];
  }

  /**
   * Sets a string element (values joined with backslash, padded to even length per PS3.5 6.2). The VR
   * defaults to the dictionary's.
   */
  setString(tag: TagLike, value: string | readonly string[], vr?: VR): void {
    const t = tagOf(tag);
    const v = vr ?? (lookupTag(t)?.vrs[0] as VR | undefined) ?? "UN";
    const text = typeof value === "string" ? value : value.join("\\");
    let bytes = encodeText(text, this.charset());
    if (bytes.length & 1) {
      const padded = new Uint8Array(bytes.length + 1);
      padded.set(bytes);
      padded[bytes.length] = padByte(v);
      bytes = padded;
    }
    this.set({ tag: t, vr: v, value: bytes, undefinedLength: false });
  }

  /** Sets a binary numeric element (US, SS, UL, SL, FL, FD, ...) in the dataset's byte order. */
  setNumbers(tag: TagLike, values: readonly number[], vr?: VR): void {
    const t = tagOf(tag);
    const v = vr ?? (lookupTag(t)?.vrs[0] as VR | undefined) ?? "UN";
    if (v === "DS" || v === "IS") {
      this.setString(
        t,
        values.map((n) => String(n)),
        v,
      );
      return;
    }
    this.set({ tag: t, vr: v, value: encodeBinary(values, v, this.littleEndian), undefinedLength: false });
  }

  /** Sets a sequence element with the given items. */
  setItems(tag: TagLike, items: DicomDataset[]): void {
    this.set({ tag: tagOf(tag), vr: "SQ", value: new Uint8Array(0), items, undefinedLength: true });
  }
}

/**
 * Decodes a binary VR's values from raw bytes.
 *
 * @example
 * ```ts
 * decodeBinary(new Uint8Array([1, 0, 2, 0]), "US", true); // [1, 2]
 * ```
 */
export function decodeBinary(bytes: Uint8Array, vr: VR, littleEndian: boolean): number[] {
  const w = binaryWidth(vr);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.floor(bytes.length / w);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const o = i * w;
    switch (vr) {
      case "US":
      case "OW":
        out[i] = dv.getUint16(o, littleEndian);
        break;
      case "SS":
        out[i] = dv.getInt16(o, littleEndian);
        break;
      case "UL":
      case "OL":
        out[i] = dv.getUint32(o, littleEndian);
        break;
      case "SL":
        out[i] = dv.getInt32(o, littleEndian);
        break;
      case "FL":
      case "OF":
        out[i] = dv.getFloat32(o, littleEndian);
        break;
      case "FD":
      case "OD":
        out[i] = dv.getFloat64(o, littleEndian);
        break;
      case "SV":
        out[i] = Number(dv.getBigInt64(o, littleEndian));
        break;
      case "UV":
      case "OV":
        out[i] = Number(dv.getBigUint64(o, littleEndian));
        break;
      case "AT":
        // An AT value is a (group, element) pair of 16-bit numbers (PS3.5 6.2); decoded per half.
        out[i] = dv.getUint16(o, littleEndian);
        break;
      default:
        out[i] = bytes[o] as number;
    }
  }
  return out;
}

/**
 * Encodes numbers as a binary VR.
 *
 * @example
 * ```ts
 * encodeBinary([512], "US", true); // Uint8Array [0, 2]
 * ```
 */
export function encodeBinary(values: readonly number[], vr: VR, littleEndian: boolean): Uint8Array {
  const w = binaryWidth(vr);
  const out = new Uint8Array(values.length * w);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    const o = i * w;
    switch (vr) {
      case "US":
      case "OW":
      case "AT":
        dv.setUint16(o, v, littleEndian);
        break;
      case "SS":
        dv.setInt16(o, v, littleEndian);
        break;
      case "UL":
      case "OL":
        dv.setUint32(o, v, littleEndian);
        break;
      case "SL":
        dv.setInt32(o, v, littleEndian);
        break;
      case "FL":
      case "OF":
        dv.setFloat32(o, v, littleEndian);
        break;
      case "FD":
      case "OD":
        dv.setFloat64(o, v, littleEndian);
        break;
      case "SV":
        dv.setBigInt64(o, BigInt(Math.trunc(v)), littleEndian);
        break;
      case "UV":
      case "OV":
        dv.setBigUint64(o, BigInt(Math.trunc(v)), littleEndian);
        break;
      default:
        out[o] = v & 0xff;
    }
  });
  return out;
}
