/** Part 10 writer (PS3.10 7): File Meta with regenerated group length, dataset in the chosen transfer syntax. */
import { deflateRawSync } from "node:zlib";
import { DicomDataset, type DicomElement } from "./dataset.js";
import { DicomError, tagString } from "./errors.js";
import { transferSyntax } from "./transfer-syntax.js";
import { binaryWidth, LONG_LENGTH_VRS, STRING_VRS, type VR } from "./vr.js";

/**
 * RadioLens's Implementation Class UID (0002,0012), under the UUID-derived root 2.25 (PS3.5 B.2).
 *
 * @example
 * ```ts
 * meta.uid("ImplementationClassUID") === IMPLEMENTATION_CLASS_UID;
 * ```
 */
export const IMPLEMENTATION_CLASS_UID = "2.25.203046518390451834125374470296541729811";
/**
 * Implementation Version Name (0002,0013).
 *
 * @example
 * ```ts
 * meta.string("ImplementationVersionName"); // "RADIOLENS_010"
 * ```
 */
export const IMPLEMENTATION_VERSION_NAME = "RADIOLENS_010";

/** Options of {@link writeDicom}. */
export interface WriteOptions {
  /** Transfer syntax of the output; defaults to the input's (0002,0010). Native ↔ encapsulated is refused. */
  readonly transferSyntaxUID?: string;
}

interface Enc {
  readonly le: boolean;
  readonly explicit: boolean;
}

class Sink {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  push(b: Uint8Array): void {
    if (b.length) {
      this.chunks.push(b);
      this.length += b.length;
    }
  }

  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function header(tag: number, vr: VR, length: number, enc: Enc, forceLong = false): Uint8Array {
  const long = enc.explicit && (LONG_LENGTH_VRS.has(vr) || forceLong);
  const h = new Uint8Array(enc.explicit && !long ? 8 : enc.explicit ? 12 : 8);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, tag >>> 16, enc.le);
  dv.setUint16(2, tag & 0xffff, enc.le);
  if (!enc.explicit) {
    dv.setUint32(4, length >>> 0, enc.le);
    return h;
  }
  h[4] = vr.charCodeAt(0);
  h[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, length >>> 0, enc.le);
  else {
    if (length > 0xffff) {
      throw new DicomError(
        "DICOM_WRITE",
        `Element ${tagString(tag)} (${vr}) of ${length} bytes exceeds the 16-bit length of explicit VR`,
      );
    }
    dv.setUint16(6, length, enc.le);
  }
  return h;
}

function itemHeader(tag: number, length: number, le: boolean): Uint8Array {
  const h = new Uint8Array(8);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, tag >>> 16, le);
  dv.setUint16(2, tag & 0xffff, le);
  dv.setUint32(4, length >>> 0, le);
  return h;
}

function swapped(value: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(value.length);
  const n = value.length - (value.length % width);
  for (let i = 0; i < n; i += width)
    for (let j = 0; j < width; j++) out[i + j] = value[i + width - 1 - j] as number;
  out.set(value.subarray(n), n);
  return out;
}

/**
 * A value of even length (PS3.5 7.1.1): odd values, which the parser tolerates on input (ADR 029), get one
 * padding byte, a space for text VRs and NUL for UI and binary VRs (PS3.5 6.2), so that every written object
 * conforms.
 */
function evenLength(value: Uint8Array, vr: VR): Uint8Array {
  if ((value.length & 1) === 0) return value;
  const out = new Uint8Array(value.length + 1);
  out.set(value);
  out[value.length] = STRING_VRS.has(vr) && vr !== "UI" ? 0x20 : 0x00;
  return out;
}

/** Deepest sequence nesting written, the same bound the parser enforces. */
const MAX_WRITE_DEPTH = 64;

function encodeElement(
  pixelWidth: number,
  el: DicomElement,
  srcLE: boolean,
  enc: Enc,
  encapsulatedOK: boolean,
  out: Sink,
  depth: number,
): void {
  if (el.items) {
    if (el.items.length && depth + 1 > MAX_WRITE_DEPTH) {
      throw new DicomError("DICOM_DEPTH", `Sequences nest deeper than ${MAX_WRITE_DEPTH}`);
    }
    const body = new Sink();
    for (const item of el.items) {
      const inner = new Sink();
      encodeDataset(item, enc, encapsulatedOK, inner, depth + 1);
      if (item.undefinedLength) {
        body.push(itemHeader(0xfffee000, 0xffffffff, enc.le));
        for (const c of inner.chunks) body.push(c);
        body.push(itemHeader(0xfffee00d, 0, enc.le));
      } else {
        body.push(itemHeader(0xfffee000, inner.length, enc.le));
        for (const c of inner.chunks) body.push(c);
      }
    }
    if (el.undefinedLength) {
      out.push(header(el.tag, "SQ", 0xffffffff, enc));
      for (const c of body.chunks) out.push(c);
      out.push(itemHeader(0xfffee0dd, 0, enc.le));
    } else {
      out.push(header(el.tag, "SQ", body.length, enc));
      for (const c of body.chunks) out.push(c);
    }
    return;
  }
  if (el.fragments) {
    if (!encapsulatedOK) {
      throw new DicomError(
        "DICOM_WRITE",
        "Encapsulated Pixel Data cannot be written in a native transfer syntax; decode it first",
      );
    }
    out.push(header(el.tag, el.vr, 0xffffffff, enc));
    const bot = el.offsetTable ?? new Uint8Array(0);
    out.push(itemHeader(0xfffee000, bot.length, true));
    out.push(bot);
    for (const f of el.fragments) {
      // Fragments have even length (PS3.5 A.4); a codestream is padded with a trailing NUL after its EOI.
      const even = evenLength(f, "OB");
      out.push(itemHeader(0xfffee000, even.length, true));
      out.push(even);
    }
    out.push(itemHeader(0xfffee0dd, 0, true));
    return;
  }
  // Native Pixel Data is swapped per sample (Bits Allocated), as readers of big endian files take it
  // (PS3.5 8.1.1): 8-bit samples in OW are not swapped, 32-bit samples are swapped 4 bytes at a time.
  const w = el.tag === 0x7fe00010 && pixelWidth > 0 ? pixelWidth : binaryWidth(el.vr);
  const value = evenLength(srcLE !== enc.le && w > 1 ? swapped(el.value, w) : el.value, el.vr);
  out.push(header(el.tag, el.vr, value.length, enc));
  out.push(value);
}

function encodeDataset(ds: DicomDataset, enc: Enc, encapsulatedOK: boolean, out: Sink, depth = 0): void {
  const sorted = ds.sorted();
  const bitsAllocated = ds.elements.has(0x00280100) ? (ds.number(0x00280100) ?? 0) : 0;
  const pixelWidth = bitsAllocated >= 16 ? bitsAllocated / 8 : bitsAllocated > 0 ? 1 : 0;
  let i = 0;
  while (i < sorted.length) {
    const group = (sorted[i] as DicomElement).tag >>> 16;
    const groupSink = new Sink();
    let lengthEl: DicomElement | undefined;
    for (; i < sorted.length && (sorted[i] as DicomElement).tag >>> 16 === group; i++) {
      const el = sorted[i] as DicomElement;
      // Group Length (gggg,0000) is recomputed so that it stays true after edits (PS3.5 7.2).
      if ((el.tag & 0xffff) === 0 && el.vr === "UL" && !el.items) lengthEl = el;
      else encodeElement(pixelWidth, el, ds.littleEndian, enc, encapsulatedOK, groupSink, depth);
    }
    if (lengthEl) {
      const v = new Uint8Array(4);
      new DataView(v.buffer).setUint32(0, groupSink.length, enc.le);
      out.push(header(lengthEl.tag, "UL", 4, enc));
      out.push(v);
    }
    for (const c of groupSink.chunks) out.push(c);
  }
}

/**
 * Serializes File Meta + dataset as a Part 10 file: a zeroed 128-byte preamble (never the input's, which may
 * carry an executable), 'DICM', File Meta in Explicit VR Little Endian with (0002,0000) recomputed and
 * (0002,0010) set to the output transfer syntax, then the dataset. Sequences and items keep their
 * defined/undefined length encoding, so parse → write → parse gives the same tree and identical pixel bytes.
 *
 * @throws DicomError DICOM_WRITE when a value cannot be encoded in the chosen transfer syntax.
 * @example
 * ```ts
 * const parsed = parseDicom(bytes);
 * parsed.dataset.setString("PatientName", "Anonymous");
 * writeFileSync("out.dcm", writeDicom(parsed));
 * ```
 */
export function writeDicom(
  parsed: {
    readonly meta: DicomDataset;
    readonly dataset: DicomDataset;
    readonly transferSyntaxUID?: string;
  },
  options: WriteOptions = {},
): Uint8Array {
  const srcTS = parsed.transferSyntaxUID ?? parsed.meta.string(0x00020010) ?? "1.2.840.10008.1.2.1";
  const tsUID = options.transferSyntaxUID ?? srcTS;
  const ts = transferSyntax(tsUID);
  const src = transferSyntax(srcTS);
  if (src.encapsulated !== ts.encapsulated && parsed.dataset.get(0x7fe00010)?.fragments) {
    throw new DicomError(
      "DICOM_WRITE",
      `Cannot change encapsulated ${src.name} to ${ts.name} without transcoding pixels`,
    );
  }
  const meta = new DicomDataset(true);
  for (const el of parsed.meta.sorted()) if (el.tag !== 0x00020000) meta.set(el);
  if (!meta.has(0x00020001))
    meta.set({ tag: 0x00020001, vr: "OB", value: new Uint8Array([0, 1]), undefinedLength: false });
  const sopClass = parsed.dataset.uid(0x00080016);
  const sopInstance = parsed.dataset.uid(0x00080018);
  if (!meta.has(0x00020002) && sopClass) meta.setString(0x00020002, sopClass, "UI");
  if (!meta.has(0x00020003) && sopInstance) meta.setString(0x00020003, sopInstance, "UI");
  meta.setString(0x00020010, tsUID, "UI");
  if (!meta.has(0x00020012)) meta.setString(0x00020012, IMPLEMENTATION_CLASS_UID, "UI");
  if (!meta.has(0x00020013)) meta.setString(0x00020013, IMPLEMENTATION_VERSION_NAME, "SH");
  const metaEnc: Enc = { le: true, explicit: true };
  const metaSink = new Sink();
  encodeDataset(meta, metaEnc, false, metaSink);
  const out = new Sink();
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  out.push(preamble);
  const gl = new Uint8Array(4);
  new DataView(gl.buffer).setUint32(0, metaSink.length, true);
  out.push(header(0x00020000, "UL", 4, metaEnc));
  out.push(gl);
  for (const c of metaSink.chunks) out.push(c);
  const body = new Sink();
  encodeDataset(parsed.dataset, { le: ts.littleEndian, explicit: ts.explicitVR }, ts.encapsulated, body);
  if (ts.deflated) out.push(new Uint8Array(deflateRawSync(body.concat())));
  else for (const c of body.chunks) out.push(c);
  return out.concat();
}
