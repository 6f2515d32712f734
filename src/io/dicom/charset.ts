/** Text decoding and encoding under Specific Character Set (0008,0005), PS3.5 6.1 and PS3.3 C.12.1.1.2. */

/** Defined Terms of (0008,0005) mapped to WHATWG encoding labels Node's TextDecoder understands. */
const LABELS: Readonly<Record<string, string>> = {
  "": "latin1",
  ISO_IR_6: "latin1",
  "ISO 2022 IR 6": "latin1",
  ISO_IR_100: "latin1",
  "ISO 2022 IR 100": "latin1",
  ISO_IR_101: "iso-8859-2",
  "ISO 2022 IR 101": "iso-8859-2",
  ISO_IR_109: "iso-8859-3",
  "ISO 2022 IR 109": "iso-8859-3",
  ISO_IR_110: "iso-8859-4",
  "ISO 2022 IR 110": "iso-8859-4",
  ISO_IR_144: "iso-8859-5",
  "ISO 2022 IR 144": "iso-8859-5",
  ISO_IR_127: "iso-8859-6",
  "ISO 2022 IR 127": "iso-8859-6",
  ISO_IR_126: "iso-8859-7",
  "ISO 2022 IR 126": "iso-8859-7",
  ISO_IR_138: "iso-8859-8",
  "ISO 2022 IR 138": "iso-8859-8",
  ISO_IR_148: "windows-1254",
  "ISO 2022 IR 148": "windows-1254",
  ISO_IR_166: "windows-874",
  "ISO 2022 IR 166": "windows-874",
  ISO_IR_13: "shift_jis",
  "ISO 2022 IR 13": "shift_jis",
  "ISO 2022 IR 87": "iso-2022-jp",
  "ISO 2022 IR 159": "iso-2022-jp",
  "ISO 2022 IR 149": "euc-kr",
  "ISO 2022 IR 58": "gb18030",
  ISO_IR_192: "utf-8",
  GB18030: "gb18030",
  GBK: "gbk",
};

const decoders = new Map<string, InstanceType<typeof TextDecoder>>();

function decoderFor(label: string): InstanceType<typeof TextDecoder> {
  let d = decoders.get(label);
  if (!d) {
    try {
      d = new TextDecoder(label);
    } catch {
      // Node built without full ICU lacks some legacy encodings; latin1 keeps every byte visible.
      d = new TextDecoder("latin1");
    }
    decoders.set(label, d);
  }
  return d;
}

/**
 * Decodes string bytes under the dataset's Specific Character Set values (first value = default repertoire).
 *
 * @example
 * ```ts
 * decodeText(new TextEncoder().encode("Müller"), ["ISO_IR 192"]); // "Müller"
 * ```
 */
export function decodeText(bytes: Uint8Array, charsets: readonly string[]): string {
  const key = (charsets.find((c) => c.trim() !== "") ?? "").trim().replace(/\s+/g, " ");
  const norm = key.replace(/^ISO_IR /, "ISO_IR_");
  // ISO 2022 escape sequences switch repertoires inside a value; with an escape present the Japanese decoder
  // handles the common JIS case, otherwise the first repertoire applies.
  if (charsets.length > 1 && bytes.includes(0x1b)) return decoderFor("iso-2022-jp").decode(bytes);
  return decoderFor(LABELS[norm] ?? "latin1").decode(bytes);
}

/**
 * Encodes text for a dataset with the given Specific Character Set: UTF-8 under ISO_IR 192, else latin1
 * (characters outside it become '?', which the caller must avoid by choosing ISO_IR 192).
 *
 * @example
 * ```ts
 * encodeText("Doe^John", []); // bytes of "Doe^John"
 * ```
 */
export function encodeText(text: string, charsets: readonly string[]): Uint8Array {
  const first = (charsets[0] ?? "").trim();
  if (first === "ISO_IR 192") return new TextEncoder().encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[i] = c < 256 ? c : 0x3f;
  }
  return out;
}
