/** Reader for NumPy .npz archives (zip of .npy; stored, deflate and zip64 entries) through fflate. */
import { readFileSync, statSync } from "node:fs";
import { unzipSync } from "fflate";
import { RadioLensError } from "../../core/errors.js";
import { type NpyArray, NpyFormatError, parseNpy } from "./npy.js";

export type { NpyArray, NpyDType } from "./npy.js";
export { parseNpy } from "./npy.js";

/** Arrays of an .npz archive by name (without the `.npy` suffix). */
export type NpzArrays = ReadonlyMap<string, NpyArray>;

function readBytes(path: string): Uint8Array {
  try {
    if (!statSync(path).isFile())
      throw new RadioLensError("RL_ERR_NPZ_INVALID", { path, detail: "it is not a file" });
    return readFileSync(path);
  } catch (e) {
    if (e instanceof RadioLensError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message });
  }
}

/**
 * True when the bytes are a zip archive (local file header "PK\x03\x04", APPNOTE 4.3.7) whose first member is a
 * `.npy` array, as `numpy.savez` writes them.
 *
 * @example
 * ```ts
 * isNpz(readFileSync("pneumoniamnist.npz")); // true
 * ```
 */
export function isNpz(bytes: Uint8Array): boolean {
  if (bytes.length < 30 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || bytes[2] !== 3 || bytes[3] !== 4)
    return false;
  const nameLength = (bytes[26] as number) | ((bytes[27] as number) << 8);
  if (nameLength < 4 || 30 + nameLength > bytes.length) return false;
  const name = String.fromCharCode(...bytes.subarray(30, 30 + nameLength));
  return name.endsWith(".npy");
}

/**
 * Reads every array of an .npz file (or bytes). `only` limits decoding to the named arrays.
 *
 * @example
 * ```ts
 * const npz = readNpz("pneumoniamnist.npz");
 * const x = npz.get("train_images"); // { dtype: "uint8", shape: [4708, 28, 28], data }
 * ```
 */
export function readNpz(source: string | Uint8Array, only?: readonly string[]): NpzArrays {
  const path = typeof source === "string" ? source : "<bytes>";
  const bytes = typeof source === "string" ? readBytes(source) : source;
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new RadioLensError("RL_ERR_NPZ_INVALID", { path, detail: "no zip signature (PK) at the start" });
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, only ? { filter: (f) => only.includes(f.name.replace(/\.npy$/, "")) } : {});
  } catch (e) {
    throw new RadioLensError("RL_ERR_NPZ_INVALID", { path, detail: `zip: ${(e as Error).message}` });
  }
  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(files)) {
    if (!name.endsWith(".npy")) continue;
    const key = name.slice(0, -4);
    try {
      out.set(key, parseNpy(data));
    } catch (e) {
      if (e instanceof NpyFormatError)
        throw new RadioLensError("RL_ERR_NPZ_INVALID", { path, detail: `${name}: ${e.message}` });
      throw e;
    }
  }
  if (only) {
    for (const k of only) {
      if (!out.has(k))
        throw new RadioLensError("RL_ERR_NPZ_MISSING_KEY", { path, key: k, keys: listKeys(bytes) });
    }
  }
  return out;
}

/**
 * Names of the arrays in an .npz (reads the central directory only).
 *
 * @example
 * ```ts
 * listKeys(readFileSync("pneumoniamnist.npz")); // "train_images, train_labels, ..."
 * ```
 */
export function listKeys(bytes: Uint8Array): string {
  const names: string[] = [];
  unzipSync(bytes, {
    filter: (f) => {
      names.push(f.name.replace(/\.npy$/, ""));
      return false;
    },
  });
  return names.join(", ");
}
