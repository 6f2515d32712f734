/** Moves NIfTI's volume-after-volume order (dims 4..7 slowest) to RadioLens's channels-last order and back, on raw bytes. */

/**
 * Reorders `extra` blocks of `nvox` voxels (each `unitsPerVoxel` units of `unit` bytes) between NIfTI order
 * `[e][v]` and channels-last `[v][e]`. Works on bytes through an unsigned view of the unit width, so one
 * monomorphic loop per width serves every datatype and float bit patterns (NaN payloads) are copied untouched.
 *
 * @example
 * ```ts
 * const channelsLast = reorderVolumes(raw, 2, nvox, nt, 1, "toChannelsLast"); // int16 time series
 * ```
 */
export function reorderVolumes(
  raw: Uint8Array,
  elementBytes: number,
  nvox: number,
  extra: number,
  components: number,
  direction: "toChannelsLast" | "toVolumes",
): Uint8Array {
  const out = new Uint8Array(raw.length);
  // 8-byte elements move as two 4-byte units.
  const unit = Math.min(elementBytes, 4);
  const per = (components * elementBytes) / unit;
  const aligned = raw.byteOffset % unit === 0;
  const src = aligned ? raw : raw.slice();
  if (unit === 4) move32(view32(src), new Uint32Array(out.buffer), nvox, extra, per, direction);
  else if (unit === 2) move16(view16(src), new Uint16Array(out.buffer), nvox, extra, per, direction);
  else move8(src, out, nvox, extra, per, direction);
  return out;
}

function view32(b: Uint8Array): Uint32Array {
  return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function view16(b: Uint8Array): Uint16Array {
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

// Three copies of one loop on purpose: each stays monomorphic in V8, several times faster than one shared loop.
// The direction is decided once per call (not per element) and the one-element case, the usual one, has its own
// loop: volumes interleave as a strided gather (to channels last) or scatter (back to volumes).
function move32(s: Uint32Array, d: Uint32Array, nvox: number, extra: number, per: number, dir: string): void {
  const ch = extra * per;
  const last = dir === "toChannelsLast";
  for (let e = 0; e < extra; e++) {
    const vol = e * nvox * per;
    const lane = e * per;
    if (per === 1) {
      if (last) for (let v = 0; v < nvox; v++) d[v * ch + e] = s[vol + v] as number;
      else for (let v = 0; v < nvox; v++) d[vol + v] = s[v * ch + e] as number;
      continue;
    }
    for (let v = 0; v < nvox; v++) {
      const a = vol + v * per;
      const b = v * ch + lane;
      if (last) for (let c = 0; c < per; c++) d[b + c] = s[a + c] as number;
      else for (let c = 0; c < per; c++) d[a + c] = s[b + c] as number;
    }
  }
}

function move16(s: Uint16Array, d: Uint16Array, nvox: number, extra: number, per: number, dir: string): void {
  const ch = extra * per;
  const last = dir === "toChannelsLast";
  for (let e = 0; e < extra; e++) {
    const vol = e * nvox * per;
    const lane = e * per;
    if (per === 1) {
      if (last) for (let v = 0; v < nvox; v++) d[v * ch + e] = s[vol + v] as number;
      else for (let v = 0; v < nvox; v++) d[vol + v] = s[v * ch + e] as number;
      continue;
    }
    for (let v = 0; v < nvox; v++) {
      const a = vol + v * per;
      const b = v * ch + lane;
      if (last) for (let c = 0; c < per; c++) d[b + c] = s[a + c] as number;
      else for (let c = 0; c < per; c++) d[a + c] = s[b + c] as number;
    }
  }
}

function move8(s: Uint8Array, d: Uint8Array, nvox: number, extra: number, per: number, dir: string): void {
  const ch = extra * per;
  const last = dir === "toChannelsLast";
  for (let e = 0; e < extra; e++) {
    const vol = e * nvox * per;
    const lane = e * per;
    if (per === 1) {
      if (last) for (let v = 0; v < nvox; v++) d[v * ch + e] = s[vol + v] as number;
      else for (let v = 0; v < nvox; v++) d[vol + v] = s[v * ch + e] as number;
      continue;
    }
    for (let v = 0; v < nvox; v++) {
      const a = vol + v * per;
      const b = v * ch + lane;
      if (last) for (let c = 0; c < per; c++) d[b + c] = s[a + c] as number;
      else for (let c = 0; c < per; c++) d[a + c] = s[b + c] as number;
    }
  }
}
