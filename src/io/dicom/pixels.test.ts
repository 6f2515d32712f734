/** Stored pixel values against pydicom (run in a subprocess): exact for lossless syntaxes, ≤ 2 for lossy 8-bit JPEG. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO_ROOT, sharedData } from "../../../test/support/shared-data.js";
import { runCli } from "../../cli/main.js";
import { PIXEL_ARRAY_TYPES } from "../../core/image.js";
import { warmUpCodecs } from "./codec-pool.js";
import { transferSyntax } from "./transfer-syntax.js";

const DIR = sharedData("dicom", "pydicom");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".dcm"))
  .sort();

interface RefEntry {
  ok: boolean;
  shape?: number[];
  dtype?: string;
  ts?: string;
  error?: string;
}

function view(bytes: Buffer, dtype: string): ArrayLike<number> {
  const C = PIXEL_ARRAY_TYPES[dtype as keyof typeof PIXEL_ARRAY_TYPES];
  assert.ok(C, `unknown dtype ${dtype}`);
  const copy = new Uint8Array(bytes);
  return new C(copy.buffer, 0, copy.byteLength / C.BYTES_PER_ELEMENT);
}

async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  let err = "";
  const code = await runCli(argv, { stdout: () => {}, stderr: (t) => (err += t) });
  return { code, err };
}

let work = "";
let ref: Record<string, RefEntry> = {};
let handlers: string[] = [];

describe("radiolens dicom pixels vs pydicom pixel_array", () => {
  before(async () => {
    // Worker start-up and codec loading happen once per process (servers call warmUpCodecs at start), so the
    // per-file time limit below measures each file.
    await warmUpCodecs();
    work = mkdtempSync(join(tmpdir(), "rl-dicom-"));
    execFileSync(
      "/usr/bin/python3",
      [join(REPO_ROOT, "bench", "dicom_pydicom.py"), DIR, join(work, "ref"), "1"],
      {
        stdio: "pipe",
      },
    );
    const manifest = JSON.parse(readFileSync(join(work, "ref", "manifest.json"), "utf8"));
    ref = manifest.files;
    handlers = manifest.handlers;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("matches every file pydicom decodes", async () => {
    const rows: string[] = [];
    let matched = 0;
    let decodable = 0;
    for (const f of FILES) {
      const r = ref[f];
      if (!r?.ok) continue;
      decodable++;
      const prefix = join(work, f);
      const { code, err } = await cli(["dicom", "pixels", join(DIR, f), "--out", prefix]);
      assert.equal(code, 0, `${f}: ${err}`);
      const header = JSON.parse(readFileSync(`${prefix}.json`, "utf8")) as { shape: number[]; dtype: string };
      assert.equal(header.dtype, r.dtype, f);
      const n = (r.shape ?? []).reduce((a, b) => a * b, 1);
      assert.equal(
        header.shape.reduce((a, b) => a * b, 1),
        n,
        f,
      );
      const ours = view(readFileSync(`${prefix}.bin`), header.dtype);
      const theirs = view(readFileSync(join(work, "ref", `${f}.bin`)), r.dtype as string);
      let maxDiff = 0;
      for (let i = 0; i < n; i++)
        maxDiff = Math.max(maxDiff, Math.abs((ours[i] as number) - (theirs[i] as number)));
      const ts = transferSyntax(r.ts ?? "");
      const lossy8 =
        ts.lossy &&
        (ts.pixels === "jpeg-baseline" || ts.pixels === "jpeg-extended") &&
        header.dtype === "uint8";
      assert.ok(lossy8 ? maxDiff <= 2 : maxDiff === 0, `${f} (${ts.name}): max |diff| ${maxDiff}`);
      rows.push(`${f} ${maxDiff}`);
      matched++;
    }
    assert.equal(matched, decodable);
    // Without Pillow (python3-pil) pydicom decodes only native and RLE data: 29 files; with it, 50.
    const floor = handlers.includes("pillow_handler") ? 50 : 29;
    assert.ok(matched >= floor, `pydicom (${handlers.join(", ")}) decoded only ${matched} files`);
  });

  it("ends every other file in success or a typed DicomError (exit 3), within 1 s each", async () => {
    for (const f of FILES) {
      const t = performance.now();
      const { code, err } = await cli(["dicom", "pixels", join(DIR, f), "--out", join(work, `all-${f}`)]);
      const ms = performance.now() - t;
      assert.ok(ms < 1000, `${f} took ${ms} ms`);
      assert.ok(
        code === 0 || (code === 3 && /^error: DICOM_[A-Z_]+: /.test(err)),
        `${f}: exit ${code} ${err}`,
      );
    }
  });

  it("refuses the malformed files of the corpus with their codes", async () => {
    const expected: Record<string, string> = {
      "MR_truncated.dcm": "DICOM_TRUNCATED",
      "no_meta.dcm": "DICOM_NO_META",
      // Read (ADR 029: the transfer syntax is inferred, with a warning), but it has Pixel Data without Rows.
      "meta_missing_tsyntax.dcm": "DICOM_MISSING_ATTRIBUTE",
      "rtplan_truncated.dcm": "DICOM_TRUNCATED",
      "JPEG2000-embedded-sequence-delimiter.dcm": "DICOM_DECODE",
      "empty_charset_LEI.dcm": "DICOM_MISSING_ATTRIBUTE",
    };
    for (const [f, code] of Object.entries(expected)) {
      const r = await cli(["dicom", "pixels", join(DIR, f), "--out", join(work, `bad-${f}`)]);
      assert.equal(r.code, 3, f);
      assert.match(r.err, new RegExp(`^error: ${code}: `), f);
    }
    // --strict refuses what the default policy reads with a warning.
    const strict = await cli([
      "dicom",
      "pixels",
      join(DIR, "meta_missing_tsyntax.dcm"),
      "--out",
      join(work, "strict"),
      "--strict",
    ]);
    assert.equal(strict.code, 3);
    assert.match(strict.err, /^error: DICOM_BAD_META: /);
    // Lenient: the truncated MR is read, its missing tail zero-filled and reported, never silently.
    const prefix = join(work, "lenient-mr");
    const r = await cli(["dicom", "pixels", join(DIR, "MR_truncated.dcm"), "--out", prefix, "--lenient"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: DICOM_BAD_PIXEL_DATA: .*missing 62 bytes read as 0/);
    assert.equal(readFileSync(`${prefix}.bin`).length, 64 * 64 * 2);
  });
});
