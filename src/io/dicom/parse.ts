/** Part 10 parser (PS3.10 7, PS3.5 7): bytes → File Meta + dataset tree, every declared length checked first. */
import { readFileSync, statSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { RadioLensError } from "../../core/errors.js";
import { DicomDataset, type DicomElement } from "./dataset.js";
import { implicitVRCandidates, lookupTag } from "./dictionary.js";
import { DicomError, type DicomErrorCode, type DicomWarning, tagString } from "./errors.js";
import { TS, transferSyntax } from "./transfer-syntax.js";
import { isVR, LONG_LENGTH_VRS, type VR } from "./vr.js";

/** Limits and strictness of {@link parseDicom}. */
export interface ParseOptions {
  /**
   * Fail on deviations from PS3.5/PS3.10 that could lose or change data (default); `false` reads what it can and
   * reports warnings. Either way, see `tolerate` for the deviations that lose nothing.
   */
  readonly strict?: boolean;
  /**
   * Read the deviations that lose no information (ADR 028: zero padding after the last element, odd value
   * lengths, an invalid VR code on an element the dictionary knows) with warnings (default); `false` fails on them
   * too (the strict mode of `--strict`).
   */
  readonly tolerate?: boolean;
  /** Largest Pixel Data value (native bytes or sum of fragments) accepted; default 1 GiB. */
  readonly maxPixelBytes?: number;
  /** Largest inflated size of a deflated dataset (PS3.5 A.5); default 1 GiB. */
  readonly maxInflatedBytes?: number;
  /** Deepest sequence nesting accepted; default 64 (as DCMTK). */
  readonly maxDepth?: number;
  /** Wall-clock budget for one file in milliseconds; default 2000. */
  readonly timeLimitMs?: number;
  /** Stop before the first top-level element with a tag ≥ this one (e.g. 0x7fe00010 to skip pixels). */
  readonly untilTag?: number;
}

/** A parsed Part 10 file. */
export interface ParsedDicom {
  /** File Meta Information, group 0002 (PS3.10 7.1); empty for a raw dataset read leniently. */
  readonly meta: DicomDataset;
  /** The dataset after the File Meta. */
  readonly dataset: DicomDataset;
  /** Transfer Syntax UID (0002,0010), or the one inferred for a file without File Meta. */
  readonly transferSyntaxUID: string;
  /** The file had the 128-byte preamble and 'DICM' (PS3.10 7.1). */
  readonly hasPreamble: boolean;
  /**
   * Problems parsing stepped over: in lenient mode every recovered deviation; in strict mode only a dataset
   * whose VR encoding contradicts its transfer syntax throughout (read as it is actually encoded).
   */
  readonly warnings: readonly DicomWarning[];
}

/**
 * Defaults of {@link ParseOptions}.
 *
 * @example
 * ```ts
 * parseDicom(bytes, { maxPixelBytes: 4 * DEFAULT_PARSE_LIMITS.maxPixelBytes });
 * ```
 */
export const DEFAULT_PARSE_LIMITS = {
  maxPixelBytes: 2 ** 30,
  maxInflatedBytes: 2 ** 30,
  maxDepth: 64,
  timeLimitMs: 2000,
} as const;

const ItemTag = 0xfffee000;
const ItemDelimitationTag = 0xfffee00d;
const SequenceDelimitationTag = 0xfffee0dd;
const PixelDataTag = 0x7fe00010;
const PixelRepresentationTag = 0x00280103;
const UNDEFINED = 0xffffffff;

interface Encoding {
  readonly le: boolean;
  readonly explicit: boolean;
}

const IMPLICIT_LE: Encoding = { le: true, explicit: false };

class Parser {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  readonly strict: boolean;
  readonly tolerate: boolean;
  readonly warnings: DicomWarning[] = [];
  readonly maxDepth: number;
  readonly maxPixelBytes: number;
  readonly deadline: number;
  readonly timeLimitMs: number;
  ticks = 0;
  root: DicomDataset | undefined;

  constructor(buf: Uint8Array, opts: ParseOptions, start: number) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.strict = opts.strict ?? true;
    this.tolerate = opts.tolerate ?? true;
    this.maxDepth = opts.maxDepth ?? DEFAULT_PARSE_LIMITS.maxDepth;
    this.maxPixelBytes = opts.maxPixelBytes ?? DEFAULT_PARSE_LIMITS.maxPixelBytes;
    this.timeLimitMs = opts.timeLimitMs ?? DEFAULT_PARSE_LIMITS.timeLimitMs;
    this.deadline = start + this.timeLimitMs;
  }

  /** Throws in strict mode, records a warning in lenient mode. */
  lenient(code: DicomErrorCode, message: string, offset: number): void {
    if (this.strict) throw new DicomError(code, message, { offset });
    this.warnings.push({ code, message, offset });
  }

  /**
   * A deviation that loses no information (ADR 028, as DCMTK and pydicom read it): a warning, unless strict mode
   * refuses every deviation (`strict` without `tolerate`).
   */
  tolerated(code: DicomErrorCode, message: string, offset: number): void {
    if (this.strict && !this.tolerate) throw new DicomError(code, message, { offset });
    this.warnings.push({ code, message, offset, tolerated: true });
  }

  /** True when every byte from `p` to `end` is zero. */
  zerosFrom(p: number, end: number): boolean {
    for (let i = p; i < end; i++) if (this.buf[i] !== 0) return false;
    return true;
  }

  tick(offset: number): void {
    if ((++this.ticks & 1023) === 0 && performance.now() > this.deadline) {
      throw new DicomError("DICOM_TIMEOUT", `Parsing took longer than ${this.timeLimitMs} ms`, { offset });
    }
  }

  u16(o: number, le: boolean): number {
    return this.dv.getUint16(o, le);
  }

  u32(o: number, le: boolean): number {
    return this.dv.getUint32(o, le);
  }

  tagAt(o: number, le: boolean): number {
    return ((this.u16(o, le) << 16) | this.u16(o + 2, le)) >>> 0;
  }

  implicitVR(tag: number, ds: DicomDataset): VR {
    const c = implicitVRCandidates(tag);
    if (tag === PixelDataTag) return "OW";
    if (c.length === 1) return c[0] as VR;
    if (c.includes("US") && c.includes("SS")) {
      // PS3.5 A.1 leaves "US or SS" to Pixel Representation (0028,0103): 1 means two's complement.
      const pr = ds.elements.get(PixelRepresentationTag) ?? this.root?.elements.get(PixelRepresentationTag);
      const signed = pr !== undefined && pr.value.length >= 2 && this.u16Of(pr.value, ds.littleEndian) === 1;
      return signed ? "SS" : "US";
    }
    if (c.includes("OW")) return "OW";
    return c[0] as VR;
  }

  u16Of(bytes: Uint8Array, le: boolean): number {
    return new DataView(bytes.buffer, bytes.byteOffset, 2).getUint16(0, le);
  }

  /**
   * Parses elements into `ds` from `p` until `end` (bounded) or an Item Delimitation Item (`inUndefinedItem`),
   * or until `stop` says so for the next tag. Returns the position after what was consumed.
   */
  parseDataset(
    ds: DicomDataset,
    start: number,
    end: number,
    depth: number,
    enc: Encoding,
    inUndefinedItem: boolean,
    stop?: (tag: number) => boolean,
  ): number {
    let p = start;
    for (;;) {
      this.tick(p);
      const left = end - p;
      if (left === 0) {
        if (inUndefinedItem) {
          this.lenient(
            "DICOM_TRUNCATED",
            "Item of undefined length ends without an Item Delimitation Item",
            p,
          );
        }
        return p;
      }
      // Zero padding after the last complete top-level element (some writers round files up to a block size;
      // DCMTK and pydicom stop reading there): the dataset is complete, so it is a tolerated deviation.
      const topLevel = ds === this.root && depth === 0 && !inUndefinedItem && !stop;
      if (topLevel && this.zerosFrom(p, end)) {
        this.tolerated("DICOM_TRAILING_PADDING", `${left} byte(s) of zero padding after the last element`, p);
        return end;
      }
      if (left < 8) {
        const zeros = this.buf.subarray(p, end).every((b) => b === 0);
        this.lenient(
          "DICOM_TRUNCATED",
          `${left} trailing byte(s) too short for an element header${zeros ? " (zero padding)" : ""}`,
          p,
        );
        return end;
      }
      const tag = this.tagAt(p, enc.le);
      if (stop?.(tag)) return p;
      if (tag >>> 16 === 0xfffe) {
        if (tag === ItemDelimitationTag && inUndefinedItem) return p + 8;
        if (tag === SequenceDelimitationTag && inUndefinedItem) {
          this.lenient(
            "DICOM_BAD_SEQUENCE",
            "Sequence Delimitation Item before the Item Delimitation Item",
            p,
          );
          return p;
        }
        this.lenient("DICOM_BAD_SEQUENCE", `Unexpected delimiter ${tagString(tag)} inside a dataset`, p);
        p += 8;
        continue;
      }
      p = this.parseElement(ds, p, end, depth, enc);
    }
  }

  parseElement(ds: DicomDataset, p: number, end: number, depth: number, enc: Encoding): number {
    const tag = this.tagAt(p, enc.le);
    let vr: VR;
    let length: number;
    let hdr: number;
    let explicitUN = false;
    if (enc.explicit) {
      const c0 = this.buf[p + 4] as number;
      const c1 = this.buf[p + 5] as number;
      const code = String.fromCharCode(c0, c1);
      if (isVR(code)) {
        vr = code;
        if (LONG_LENGTH_VRS.has(vr)) {
          if (end - p < 12) {
            throw new DicomError("DICOM_TRUNCATED", `Element ${tagString(tag)} header is cut off`, {
              offset: p,
            });
          }
          length = this.u32(p + 8, enc.le);
          hdr = 12;
        } else {
          length = this.u16(p + 6, enc.le);
          hdr = 8;
        }
        explicitUN = vr === "UN";
      } else {
        const printable = c0 >= 0x20 && c0 < 0x7f && c1 >= 0x20 && c1 < 0x7f;
        const shown = printable
          ? `'${code}'`
          : `0x${c0.toString(16).padStart(2, "0")}${c1.toString(16).padStart(2, "0")}`;
        // The element is most likely implicitly encoded inside an explicit dataset; when the dictionary knows the
        // tag its VR is certain and nothing is lost (tolerated), otherwise the value's meaning is a guess.
        const msg = `Element ${tagString(tag)} has invalid VR ${shown}`;
        if (lookupTag(tag)) this.tolerated("DICOM_BAD_VR", `${msg}; read with the dictionary VR`, p + 4);
        else this.lenient("DICOM_BAD_VR", msg, p + 4);
        vr = this.implicitVR(tag, ds);
        length = this.u32(p + 4, enc.le);
        hdr = 8;
      }
    } else {
      vr = this.implicitVR(tag, ds);
      length = this.u32(p + 4, enc.le);
      hdr = 8;
    }
    const vstart = p + hdr;
    if (length !== UNDEFINED && (length & 1) === 1) {
      // PS3.5 7.1.1 requires even value lengths; the value is read as declared, as DCMTK and pydicom do.
      this.tolerated("DICOM_BAD_LENGTH", `Element ${tagString(tag)} has odd length ${length}`, p);
    }
    if (length === UNDEFINED) {
      if (tag === PixelDataTag && vr !== "SQ" && vr !== "UN") {
        return this.parseEncapsulated(ds, tag, vr, vstart, end);
      }
      if (vr === "SQ" || vr === "UN" || !enc.explicit) {
        // PS3.5 6.2.2: UN of undefined length holds a sequence in Implicit VR Little Endian.
        const itemEnc = explicitUN ? IMPLICIT_LE : enc;
        const el: DicomElement = {
          tag,
          vr: "SQ",
          value: new Uint8Array(0),
          items: [],
          undefinedLength: true,
        };
        this.addElement(ds, el, p);
        return this.parseItems(el, vstart, end, true, depth, itemEnc, ds);
      }
      throw new DicomError("DICOM_BAD_LENGTH", `Element ${tagString(tag)} (${vr}) has undefined length`, {
        offset: p,
      });
    }
    let vend = vstart + length;
    if (length > end - vstart) {
      if (this.strict) {
        throw new DicomError(
          "DICOM_TRUNCATED",
          `Element ${tagString(tag)} declares ${length} bytes but only ${end - vstart} remain`,
          { offset: p },
        );
      }
      this.lenient("DICOM_TRUNCATED", `Element ${tagString(tag)} cut to the ${end - vstart} bytes left`, p);
      vend = end;
    }
    if (tag === PixelDataTag && vend - vstart > this.maxPixelBytes) {
      throw new DicomError(
        "DICOM_TOO_LARGE",
        `Pixel Data of ${vend - vstart} bytes exceeds the limit of ${this.maxPixelBytes}`,
        { offset: p },
      );
    }
    if (vr === "SQ") {
      const el: DicomElement = { tag, vr, value: new Uint8Array(0), items: [], undefinedLength: false };
      this.addElement(ds, el, p);
      this.parseItems(el, vstart, vend, false, depth, enc, ds);
      return vend;
    }
    this.addElement(ds, { tag, vr, value: this.buf.subarray(vstart, vend), undefinedLength: false }, p);
    return vend;
  }

  addElement(ds: DicomDataset, el: DicomElement, p: number): void {
    const before = ds.elements.get(el.tag);
    if (before) {
      // DCMTK keeps the first copy and pydicom the last, so differing copies could change a value (an identifier):
      // an error by default; a byte-identical repeat loses nothing and is tolerated.
      const same =
        before.vr === el.vr &&
        !before.items &&
        !el.items &&
        !before.fragments &&
        !el.fragments &&
        Buffer.from(before.value).equals(Buffer.from(el.value));
      const msg = `Element ${tagString(el.tag)} appears twice`;
      if (same) this.tolerated("DICOM_BAD_VALUE", `${msg} with the same value`, p);
      else this.lenient("DICOM_BAD_VALUE", `${msg}; the last one is kept`, p);
    }
    ds.elements.set(el.tag, el);
  }

  parseItems(
    el: DicomElement,
    start: number,
    end: number,
    undefinedLength: boolean,
    depth: number,
    enc: Encoding,
    parent: DicomDataset,
  ): number {
    const items = el.items as DicomDataset[];
    let p = start;
    for (;;) {
      this.tick(p);
      if (end - p < 8) {
        if (!undefinedLength && p === end) return p;
        this.lenient(
          "DICOM_TRUNCATED",
          undefinedLength
            ? `Sequence ${tagString(el.tag)} ends without a Sequence Delimitation Item`
            : `Sequence ${tagString(el.tag)} has ${end - p} stray trailing byte(s)`,
          p,
        );
        return end;
      }
      const tag = this.tagAt(p, enc.le);
      const length = this.u32(p + 4, enc.le);
      if (tag === SequenceDelimitationTag) {
        if (undefinedLength) return p + 8;
        this.lenient(
          "DICOM_BAD_SEQUENCE",
          `Sequence Delimitation Item in defined-length ${tagString(el.tag)}`,
          p,
        );
        return end;
      }
      if (tag !== ItemTag) {
        this.lenient(
          "DICOM_BAD_SEQUENCE",
          `Sequence ${tagString(el.tag)} holds ${tagString(tag)} instead of an Item`,
          p,
        );
        return undefinedLength ? p : end;
      }
      if (depth + 1 > this.maxDepth) {
        throw new DicomError("DICOM_DEPTH", `Sequences nest deeper than ${this.maxDepth}`, { offset: p });
      }
      const item = new DicomDataset(enc.le, parent.charset());
      items.push(item);
      if (length === UNDEFINED) {
        item.undefinedLength = true;
        p = this.parseDataset(item, p + 8, end, depth + 1, enc, true);
      } else {
        if (length > end - (p + 8)) {
          this.lenient("DICOM_TRUNCATED", `Item of ${length} bytes runs past its sequence or the file`, p);
          p = this.parseDataset(item, p + 8, end, depth + 1, enc, false);
          return end;
        }
        p = this.parseDataset(item, p + 8, p + 8 + length, depth + 1, enc, false);
      }
    }
  }

  parseEncapsulated(ds: DicomDataset, tag: number, vr: VR, start: number, end: number): number {
    // PS3.5 A.4: a Basic Offset Table item, then one item per fragment, then a Sequence Delimitation Item.
    const fragments: Uint8Array[] = [];
    let offsetTable: Uint8Array | undefined;
    let total = 0;
    let p = start;
    const el: DicomElement = { tag, vr, value: new Uint8Array(0), fragments, undefinedLength: true };
    for (;;) {
      this.tick(p);
      if (end - p < 8) {
        this.lenient(
          "DICOM_TRUNCATED",
          "Encapsulated Pixel Data ends without a Sequence Delimitation Item",
          p,
        );
        break;
      }
      const itag = this.tagAt(p, true);
      const length = this.u32(p + 4, true);
      if (itag === SequenceDelimitationTag) {
        p += 8;
        break;
      }
      if (itag !== ItemTag || length === UNDEFINED) {
        this.lenient(
          "DICOM_BAD_SEQUENCE",
          `Encapsulated Pixel Data holds ${tagString(itag)} instead of an Item`,
          p,
        );
        p = end;
        break;
      }
      let len = length;
      if (len > end - (p + 8)) {
        this.lenient(
          "DICOM_TRUNCATED",
          `Pixel Data fragment of ${len} bytes runs past the end of the file`,
          p,
        );
        len = end - (p + 8);
      }
      total += len;
      if (total > this.maxPixelBytes) {
        throw new DicomError(
          "DICOM_TOO_LARGE",
          `Encapsulated Pixel Data exceeds the limit of ${this.maxPixelBytes} bytes`,
          {
            offset: p,
          },
        );
      }
      const value = this.buf.subarray(p + 8, p + 8 + len);
      if (offsetTable === undefined) offsetTable = value;
      else fragments.push(value);
      p += 8 + len;
    }
    el.offsetTable = offsetTable ?? new Uint8Array(0);
    this.addElement(ds, el, start);
    return p;
  }
}

function hasDicm(b: Uint8Array, at: number): boolean {
  return (
    b.length >= at + 4 && b[at] === 0x44 && b[at + 1] === 0x49 && b[at + 2] === 0x43 && b[at + 3] === 0x4d
  );
}

/** Whether the dataset at `p` is really explicit VR, judged from its first element header. */
function actualExplicitVR(b: Uint8Array, p: number, declared: boolean, le: boolean): boolean {
  if (b.length - p < 8) return declared;
  const looksExplicit = isVR(String.fromCharCode(b[p + 4] as number, b[p + 5] as number));
  if (declared === looksExplicit) return declared;
  const dv = new DataView(b.buffer, b.byteOffset + p, 8);
  if (declared) {
    // Implicit reading must give a length that fits in the file.
    return dv.getUint32(4, le) > b.length - p - 8 ? declared : false;
  }
  // An implicit dataset whose first "length" spells a VR the dictionary agrees with is explicit.
  const tag = ((dv.getUint16(0, le) << 16) | dv.getUint16(2, le)) >>> 0;
  const code = String.fromCharCode(b[p + 4] as number, b[p + 5] as number);
  return implicitVRCandidates(tag).includes(code as VR) ? true : declared;
}

/** Guesses the encoding of a raw dataset from its first element header (for files without File Meta). */
function inferTransferSyntax(b: Uint8Array, p: number): string {
  if (b.length - p < 8) return TS.ImplicitVRLittleEndian;
  const dv = new DataView(b.buffer, b.byteOffset + p, 8);
  const explicit = isVR(String.fromCharCode(b[p + 4] as number, b[p + 5] as number));
  const groupLE = dv.getUint16(0, true);
  const groupBE = dv.getUint16(0, false);
  // Groups of a dataset are small numbers (0x0002..0x7FE0): byte order is the one giving a plausible group.
  const bigEndian = explicit && groupLE > 0x00ff && groupBE <= 0x00ff;
  if (bigEndian) return TS.ExplicitVRBigEndian;
  return explicit ? TS.ExplicitVRLittleEndian : TS.ImplicitVRLittleEndian;
}

/**
 * Parses a DICOM Part 10 file (or, leniently, a raw dataset) into File Meta and dataset.
 * Values are views into `bytes` (or into the inflated copy for deflated files), so nothing is copied.
 *
 * @throws DicomError for every failure; never anything else for any input bytes.
 * @example
 * ```ts
 * const { dataset, transferSyntaxUID } = parseDicom(new Uint8Array(readFileSync("CT_small.dcm")));
 * dataset.number("Rows"); // 128
 * ```
 */
export function parseDicom(bytes: Uint8Array, options: ParseOptions = {}): ParsedDicom {
  // A Node Buffer's slice() is a view, not a copy; value extraction relies on copying slices, so use a plain view.
  const plain = Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
  try {
    return parseInner(plain, options);
  } catch (e) {
    if (e instanceof DicomError) throw e;
    // Any other failure (a DataView range error on hostile input, an allocation refused) is still a damaged file.
    throw new DicomError("DICOM_BAD_LENGTH", `Damaged file: ${(e as Error)?.message ?? String(e)}`, {
      cause: e,
    });
  }
}

function parseInner(bytes: Uint8Array, options: ParseOptions): ParsedDicom {
  const t0 = performance.now();
  const parser = new Parser(bytes, options, t0);
  const meta = new DicomDataset(true);
  let p = 0;
  let hasPreamble = false;
  if (hasDicm(bytes, 128)) {
    hasPreamble = true;
    p = 132;
  } else if (hasDicm(bytes, 0)) {
    parser.lenient("DICOM_NO_META", "File starts with 'DICM' but has no 128-byte preamble", 0);
    p = 4;
  } else {
    parser.lenient("DICOM_NO_META", "No 128-byte preamble and 'DICM' prefix (PS3.10 7.1)", 0);
  }
  // File Meta Information: group 0002, always Explicit VR Little Endian (PS3.10 7.1).
  if (
    bytes.length - p >= 8 &&
    new DataView(bytes.buffer, bytes.byteOffset + p, 2).getUint16(0, true) === 0x0002
  ) {
    const metaExplicit = isVR(String.fromCharCode(bytes[p + 4] as number, bytes[p + 5] as number));
    if (!metaExplicit) parser.lenient("DICOM_BAD_META", "File Meta Information is not Explicit VR", p);
    p = parser.parseDataset(
      meta,
      p,
      bytes.length,
      0,
      { le: true, explicit: metaExplicit },
      false,
      (t) => t >>> 16 !== 0x0002,
    );
  } else if (hasPreamble) {
    parser.lenient("DICOM_BAD_META", "No File Meta Information after 'DICM'", p);
  }
  let tsUID = meta.string(0x00020010);
  if (tsUID === undefined) {
    tsUID = inferTransferSyntax(bytes, p);
    // The dataset's first element tells its encoding (as DCMTK and pydicom infer it); native pixel data needs
    // nothing more, while encapsulated pixel data without a transfer syntax cannot be decoded and fails there.
    if (hasPreamble) {
      parser.tolerated(
        "DICOM_BAD_META",
        `File Meta Information lacks Transfer Syntax UID (0002,0010); read as ${transferSyntax(tsUID).name}, from the encoding of the first element`,
        p,
      );
    }
  }
  const ts = transferSyntax(tsUID);
  let buf = bytes;
  if (ts.deflated) {
    const maxOut = options.maxInflatedBytes ?? DEFAULT_PARSE_LIMITS.maxInflatedBytes;
    try {
      buf = new Uint8Array(inflateRawSync(bytes.subarray(p), { maxOutputLength: maxOut }));
    } catch (e) {
      const tooLarge = (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new DicomError(
        tooLarge ? "DICOM_TOO_LARGE" : "DICOM_INFLATE",
        tooLarge ? `Deflated dataset inflates past ${maxOut} bytes` : "Deflated dataset does not inflate",
        { offset: p, cause: e },
      );
    }
    p = 0;
  }
  const body = buf === bytes ? parser : new Parser(buf, options, t0);
  const dataset = new DicomDataset(ts.littleEndian);
  body.root = dataset;
  const until = options.untilTag;
  const explicit = actualExplicitVR(buf, p, ts.explicitVR, ts.littleEndian);
  if (explicit !== ts.explicitVR) {
    // Writers that label an implicit dataset explicit (and the reverse) exist; the first element tells which
    // encoding is real, and it applies to the whole dataset, so nothing is guessed element by element.
    body.warnings.push({
      code: "DICOM_BAD_VR",
      message: `Dataset is ${explicit ? "explicit" : "implicit"} VR although ${ts.name} says otherwise; read as encoded`,
      offset: p,
    });
  }
  body.parseDataset(
    dataset,
    p,
    buf.length,
    0,
    { le: ts.littleEndian, explicit },
    false,
    until === undefined ? undefined : (t) => t >>> 0 >= until >>> 0,
  );
  const warnings = body === parser ? parser.warnings : [...parser.warnings, ...body.warnings];
  return { meta, dataset, transferSyntaxUID: tsUID, hasPreamble, warnings };
}

/**
 * Reads and parses a DICOM file; the file size is checked against the limits before it is read.
 *
 * @throws RadioLensError RL_ERR_FILE_NOT_FOUND when the path does not exist, RL_ERR_IO when it cannot be read;
 * DicomError for everything about the bytes.
 * @example
 * ```ts
 * const { dataset } = readDicomFile("CT_small.dcm", { strict: false });
 * ```
 */
export function readDicomFile(path: string, options: ParseOptions = {}): ParsedDicom {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new RadioLensError("RL_ERR_IO", { path, detail: "not a regular file" });
    size = st.size;
  } catch (e) {
    if (e instanceof RadioLensError) throw e;
    throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path }, { cause: e });
  }
  const cap = (options.maxPixelBytes ?? DEFAULT_PARSE_LIMITS.maxPixelBytes) + 64 * 2 ** 20;
  if (size > cap)
    throw new DicomError("DICOM_TOO_LARGE", `File of ${size} bytes exceeds the limit of ${cap} bytes`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message }, { cause: e });
  }
  return parseDicom(bytes, options);
}
