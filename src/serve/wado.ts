/** WADO-RS (PS3.18 10.4): Accept negotiation, metadata as DICOM JSON with bulk data by reference, uncompressed frames and rendered images. */
import { createRequire } from "node:module";
import jpeg from "jpeg-js";
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import {
  decodeStoredPixels,
  dicomToImage,
  type ParsedDicom,
  parseDicom,
  readPixelModule,
  transferSyntax,
  type VoiFunction,
} from "../io/dicom/index.js";
import { encodePng } from "../io/image/png.js";
import { NETWORK_PARSE_LIMITS } from "./instances.js";
import type { DicomJson, DicomJsonAttribute } from "./qido.js";

/** One media range of an Accept header (RFC 9110 12.5.1) with its parameters (lower-case names) and weight. */
export interface MediaRange {
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
  readonly q: number;
}

/**
 * Parses an Accept header into media ranges, best first (weight, then order); a missing header accepts anything.
 *
 * @example
 * ```ts
 * parseAccept('multipart/related; type="application/dicom", image/png;q=0.1')[0].params.type; // "application/dicom"
 * ```
 */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === "") return [{ type: "*/*", params: {}, q: 1 }];
  const out: (MediaRange & { i: number })[] = [];
  // Commas inside quoted parameter values do not split ranges.
  const ranges = header.match(/(?:[^,"]|"[^"]*")+/g) ?? [];
  ranges.forEach((range, i) => {
    const [type = "", ...rest] = range.split(";");
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      params[p.slice(0, eq).trim().toLowerCase()] = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, "$1");
    }
    const q = params["q"] === undefined ? 1 : Number(params["q"]);
    delete params["q"];
    const t = type.trim().toLowerCase();
    if (t !== "" && Number.isFinite(q) && q > 0) out.push({ type: t, params, q, i });
  });
  return out.sort((a, b) => b.q - a.q || a.i - b.i).map(({ i: _, ...r }) => r);
}

/** What a resource can give: a media type, and for multipart/related the part type and transfer syntaxes. */
export interface Offer {
  readonly type: string;
  /** For `multipart/related`: the type of each part. */
  readonly partType?: string;
  /** Transfer syntax UIDs this offer can give the parts in; `*` in a request accepts any. */
  readonly transferSyntaxes?: readonly string[];
}

const matchesType = (range: string, type: string): boolean =>
  range === "*/*" || range === type || (range.endsWith("/*") && type.startsWith(range.slice(0, -1)));

/**
 * The first offer the Accept header allows, with the transfer syntax chosen, or a 406 (PS3.18 8.7.3, 10.4.3).
 * `multipart/related` without `type` accepts the offer's part type; a `transfer-syntax` we cannot give refuses it.
 *
 * @throws RadioLensError RL_ERR_NOT_ACCEPTABLE
 * @example
 * ```ts
 * negotiate(req.headers.accept, [{ type: "application/dicom+json" }]);
 * ```
 */
export function negotiate(
  header: string | undefined,
  offers: readonly Offer[],
): { offer: Offer; transferSyntax?: string } {
  for (const range of parseAccept(header)) {
    for (const offer of offers) {
      if (!matchesType(range.type, offer.type)) continue;
      const part = range.params["type"];
      if (offer.partType && part !== undefined && !matchesType(part.toLowerCase(), offer.partType)) continue;
      if (!offer.partType && part !== undefined) continue;
      const ts = range.params["transfer-syntax"];
      if (ts === undefined || ts === "*") {
        const first = offer.transferSyntaxes?.[0];
        return first ? { offer, transferSyntax: first } : { offer };
      }
      // "*" in an offer: any named syntax is worth trying (the caller checks it against the stored files).
      if (offer.transferSyntaxes?.includes(ts) || offer.transferSyntaxes?.includes("*"))
        return { offer, transferSyntax: ts };
    }
  }
  throw new RadioLensError("RL_ERR_NOT_ACCEPTABLE", {
    asked: (header ?? "").slice(0, 200),
    offered: offers.map((o) => (o.partType ? `${o.type}; type="${o.partType}"` : o.type)).join(", "),
  });
}

interface DcmjsData {
  DicomMessage: {
    readFile(buf: ArrayBuffer, opts?: Record<string, unknown>): { dict: Record<string, RawAttribute> };
  };
}
interface RawAttribute {
  vr: string;
  Value?: unknown[];
}

/** dcmjs ships a UMD bundle without type declarations; this is the part of its API used here. */
function dcmjsData(): DcmjsData {
  const require = createRequire(import.meta.url);
  return (require("dcmjs") as { data: DcmjsData }).data;
}

const BINARY_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "UN"]);
/** Binary values up to this size travel inline (PS3.18 F.2.7 InlineBinary); larger ones are left to bulk data. */
const INLINE_LIMIT = 4096;

function cleanValue(vr: string, v: unknown): unknown {
  if (vr === "SQ") return itemJson(v as Record<string, RawAttribute>, undefined);
  if (vr === "PN" && v && typeof v === "object") {
    const pn = Object.fromEntries(
      Object.entries(v as Record<string, unknown>).filter(([k, s]) => !k.startsWith("_") && s !== ""),
    );
    return Object.keys(pn).length > 0 ? pn : null;
  }
  // F.2.5: an empty value among others is null.
  return v === "" || v === undefined ? null : v;
}

function itemJson(dict: Record<string, RawAttribute>, pixelDataUri: string | undefined): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(dict).sort()) {
    const raw = dict[tag] as RawAttribute;
    const vr = raw.vr;
    if (tag === "7FE00010" || tag === "7FE00008" || tag === "7FE00009") {
      out[tag] = pixelDataUri ? { vr, BulkDataURI: pixelDataUri } : { vr };
      continue;
    }
    if (BINARY_VRS.has(vr)) {
      const bufs = (raw.Value ?? []) as ArrayBuffer[];
      const bytes = Buffer.concat(bufs.map((b) => Buffer.from(b)));
      out[tag] =
        bytes.length > 0 && bytes.length <= INLINE_LIMIT
          ? ({ vr, InlineBinary: bytes.toString("base64") } as DicomJsonAttribute)
          : { vr };
      continue;
    }
    const values = (raw.Value ?? []).map((v) => cleanValue(vr, v));
    out[tag] = values.length === 0 || values.every((v) => v === null) ? { vr } : { vr, Value: values };
  }
  return out;
}

/**
 * An instance's attributes as DICOM JSON (PS3.18 F.2) for `/metadata`: every attribute but the File Meta, values
 * cleaned of empty strings, sequences nested, small binary values inline, and Pixel Data by `BulkDataURI` — the
 * instance's `/frames/{all}` resource, which answers it uncompressed. `only` (tags) keeps just those attributes.
 *
 * @example
 * ```ts
 * const json = instanceMetadata(bytes, "https://h/dicomweb/studies/1/series/2/instances/3");
 * ```
 */
export function instanceMetadata(
  bytes: Uint8Array,
  instanceUrl: string,
  only?: readonly string[],
): DicomJson {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let dict: Record<string, RawAttribute>;
  try {
    dict = dcmjsData().DicomMessage.readFile(buf).dict;
  } catch (e) {
    throw new RadioLensError(
      "RL_ERR_DICOM",
      { detail: `stored instance is not readable: ${(e as Error).message}` },
      { cause: e },
    );
  }
  if (only) {
    const picked = Object.fromEntries(only.flatMap((t) => (dict[t] ? [[t, dict[t] as RawAttribute]] : [])));
    return itemJson(picked, undefined);
  }
  const frames = Number((dict["00280008"]?.Value?.[0] as number | string | undefined) ?? 1) || 1;
  const list = Array.from({ length: frames }, (_, i) => i + 1).join(",");
  return itemJson(dict, `${instanceUrl}/frames/${list}`);
}

/**
 * Parses a `{frames}` path segment (PS3.18 10.4.1.1.5: comma-separated 1-based frame numbers) against the
 * instance's frame count.
 *
 * @throws RadioLensError RL_ERR_BAD_REQUEST for a malformed list, RL_ERR_NOT_FOUND for a frame past the last.
 * @example
 * ```ts
 * frameList("1,3", 5); // [1, 3]
 * ```
 */
export function frameList(text: string, frames: number): number[] {
  if (!/^\d{1,9}(,\d{1,9})*$/.test(text))
    throw new RadioLensError("RL_ERR_BAD_REQUEST", {
      detail: "frames must be a comma-separated list of frame numbers from 1",
    });
  const list = text.split(",").map(Number);
  if (list.some((n) => n < 1))
    throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "frame numbers start at 1" });
  if (list.length > 10000) throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "at most 10000 frames" });
  const past = list.find((n) => n > frames);
  if (past !== undefined)
    throw new RadioLensError("RL_ERR_NOT_FOUND", { what: `frame ${past} of ${frames}` });
  return list;
}

/** Explicit VR Little Endian: the transfer syntax of uncompressed frames (PS3.18 8.7.3.5.2). */
export const EXPLICIT_LE = "1.2.840.10008.1.2.1";

/** The parsed instance, or a 400-class DICOM error for one that cannot be read. */
export function parseStored(bytes: Uint8Array): ParsedDicom {
  const plain = Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
  return parseDicom(plain, NETWORK_PARSE_LIMITS);
}

/** The number of frames of an instance with Pixel Data; 0 without. */
export function frameCount(parsed: ParsedDicom): number {
  const ds = parsed.dataset;
  if (!ds.get(0x7fe00010) && !ds.get(0x7fe00008) && !ds.get(0x7fe00009)) return 0;
  return readPixelModule(ds, NETWORK_PARSE_LIMITS.maxPixelBytes).frames;
}

/**
 * The requested frames as uncompressed little-endian bytes (PS3.18 10.4.1.1.5, one part each): native little
 * endian Pixel Data is sliced as stored (bit-packed 1-bit frames included), anything else is decoded first, its
 * samples written at their Bits Allocated width, interleaved per pixel.
 *
 * @example
 * ```ts
 * const [first] = await uncompressedFrames(parsed, [1]);
 * ```
 */
export async function uncompressedFrames(
  parsed: ParsedDicom,
  frames: readonly number[],
): Promise<Uint8Array[]> {
  const ds = parsed.dataset;
  const m = readPixelModule(ds, NETWORK_PARSE_LIMITS.maxPixelBytes);
  const el = ds.get(0x7fe00010) ?? ds.get(0x7fe00008) ?? ds.get(0x7fe00009);
  if (!el) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "Pixel Data (7FE0,0010) of the instance" });
  const ts = transferSyntax(parsed.transferSyntaxUID);
  const floatBits = el.tag === 0x7fe00008 ? 32 : el.tag === 0x7fe00009 ? 64 : 0;
  const bits = floatBits || m.bitsAllocated;
  const frameBits = m.rows * m.cols * m.samples * bits;
  if (!ts.encapsulated && ts.littleEndian && frameBits % 8 === 0) {
    const size = frameBits / 8;
    return frames.map((n) => {
      const start = (n - 1) * size;
      if (start + size > el.value.length)
        throw new RadioLensError("RL_ERR_DICOM", { detail: `Pixel Data is shorter than frame ${n}` });
      return el.value.subarray(start, start + size);
    });
  }
  if (bits === 1)
    throw new RadioLensError("RL_ERR_NOT_IMPLEMENTED", {
      feature: "uncompressed frames of bit-packed Pixel Data whose frames do not end on a byte",
    });
  const stored = await decodeStoredPixels(parsed, {
    frames: frames.map((n) => n - 1),
    maxPixelBytes: NETWORK_PARSE_LIMITS.maxPixelBytes,
  });
  const per = m.rows * m.cols * m.samples;
  const width = bits / 8;
  return frames.map((_, i) => {
    const out = Buffer.alloc(per * width);
    for (let j = 0; j < per; j++) {
      const v = Number(stored.data[i * per + j]);
      if (floatBits === 32) out.writeFloatLE(v, j * 4);
      else if (floatBits === 64) out.writeDoubleLE(v, j * 8);
      else if (width === 1) out[j] = v & 0xff;
      else if (width === 2) out.writeUInt16LE(v & 0xffff, j * 2);
      else out.writeUInt32LE(v >>> 0, j * 4);
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  });
}

/** Options of the rendered resources (PS3.18 8.3.5.1): the window and the JPEG quality. */
export interface RenderOptions {
  /** `window=center,width[,linear|linear-exact|sigmoid]`; default the instance's own VOI. */
  readonly window?: { readonly center: number; readonly width: number; readonly fn: VoiFunction };
  /** JPEG quality 1-100 (default 90). */
  readonly quality?: number;
}

/**
 * Reads the rendered resources' query parameters (PS3.18 8.3.5.1.2 quality, 8.3.5.1.3 window); anything else is
 * a 400.
 *
 * @throws RadioLensError RL_ERR_BAD_REQUEST
 * @example
 * ```ts
 * renderOptions({ window: "40,400,linear", quality: "80" });
 * ```
 */
export function renderOptions(query: Readonly<Record<string, unknown>>): RenderOptions {
  const bad = (detail: string): RadioLensError => new RadioLensError("RL_ERR_BAD_REQUEST", { detail });
  let out: RenderOptions = {};
  for (const [k, v] of Object.entries(query)) {
    if (typeof v !== "string") throw bad(`${k} is given more than once`);
    if (k === "window") {
      const [c, w, f = "linear"] = v.split(",");
      const center = Number(c);
      const width = Number(w);
      const fns: Record<string, VoiFunction> = {
        linear: "LINEAR",
        "linear-exact": "LINEAR_EXACT",
        sigmoid: "SIGMOID",
      };
      const fn = fns[f.toLowerCase()];
      if (c === undefined || w === undefined || c === "" || w === "" || !Number.isFinite(center) || !fn)
        throw bad("window must be center,width[,linear|linear-exact|sigmoid]");
      if (!(width >= (fn === "LINEAR" ? 1 : Number.MIN_VALUE)))
        throw bad("window width must be at least 1 (linear) or above 0 (PS3.3 C.11.2.1.2)");
      out = { ...out, window: { center, width, fn } };
    } else if (k === "quality") {
      const q = Number(v);
      if (!Number.isInteger(q) || q < 1 || q > 100) throw bad("quality must be an integer 1-100");
      out = { ...out, quality: q };
    } else throw bad(`unknown parameter "${k}" of a rendered resource (window, quality)`);
  }
  return out;
}

/**
 * One frame (1-based) of an instance rendered for display: VOI window (the request's, else the instance's), MONOCHROME1
 * inverted, 8-bit grey or RGB, as PS3.18 8.3.5.1 asks of a rendered resource.
 *
 * @example
 * ```ts
 * const img = await renderFrame(parsed, 1, { window: { center: 40, width: 400, fn: "LINEAR" } });
 * ```
 */
export async function renderFrame(
  parsed: ParsedDicom,
  frame: number,
  o: RenderOptions,
): Promise<MedicalImage> {
  return dicomToImage(parsed, {
    output: "display",
    frames: [frame - 1],
    maxPixelBytes: NETWORK_PARSE_LIMITS.maxPixelBytes,
    ...(o.window
      ? { voi: { kind: "window", center: o.window.center, width: o.window.width, fn: o.window.fn } }
      : {}),
  });
}

/**
 * A display image as PNG or JPEG bytes (JPEG baseline through jpeg-js at `quality`).
 *
 * @example
 * ```ts
 * encodeRendered(img, "image/jpeg", 90);
 * ```
 */
export function encodeRendered(
  img: MedicalImage,
  type: "image/png" | "image/jpeg",
  quality = 90,
): Uint8Array {
  const shape = img.shape.length === 4 ? img.shape.slice(1) : img.shape;
  const [rows, cols, ch = 1] = shape as [number, number, number?];
  const plain = { ...img, shape: [rows, cols, ch] as const };
  if (type === "image/png") return encodePng(plain as MedicalImage);
  const rgba = Buffer.alloc(rows * cols * 4);
  for (let i = 0; i < rows * cols; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Number(img.data[i * ch + (ch === 1 ? 0 : c)]);
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: cols, height: rows }, quality).data);
}
