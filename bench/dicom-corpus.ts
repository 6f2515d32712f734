/**
 * Corpus run: every public DICOM test file on this machine (the shared pydicom set, Debian packages' test files,
 * npm packages' test data), our stored pixels against pydicom + GDCM and against DCMTK wherever they decode.
 *
 * Usage: node --import tsx bench/dicom-corpus.ts   (prints one line per file and the counts the README states)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { PIXEL_ARRAY_TYPES } from "../src/core/image.js";
import { warmUpCodecs } from "../src/io/dicom/codec-pool.js";
import { readDicomFile, transferSyntax } from "../src/io/dicom/index.js";
import { decodeStoredPixels, type StoredPixels } from "../src/io/dicom/pixels.js";
import { REPO_ROOT, sharedData } from "../test/support/shared-data.js";

/** Folders of public DICOM test files, with where they come from. */
const CORPORA: [string, string][] = [
  [sharedData("dicom", "pydicom"), "pydicom test files (../shared/data)"],
  ["/usr/lib/python3/dist-packages/pydicom/data/test_files", "Debian python3-pydicom test files"],
  ["/usr/lib/python3/dist-packages/pydicom/data/charset_files", "Debian python3-pydicom charset files"],
  ["/usr/lib/python3/dist-packages/pydicom/data/palettes", "Debian python3-pydicom palettes"],
  ["/usr/lib/python3/dist-packages/nibabel/nicom/tests/data", "Debian python3-nibabel DICOM test files"],
  ["/usr/lib/python3/dist-packages/nibabel/tests/data", "Debian python3-nibabel test files"],
  ["/usr/share/doc/dicom3tools/examples", "Debian dicom3tools examples"],
  ["/usr/share/doc/libgdcm3.0/examples", "Debian libgdcm3.0 examples"],
  [
    join(REPO_ROOT, "node_modules", "jpeg-lossless-decoder-js", "tests", "data"),
    "npm jpeg-lossless-decoder-js tests",
  ],
];

interface Ref {
  ok: boolean;
  shape?: number[];
  dtype?: string;
  error?: string;
}

function sameValues(px: StoredPixels, bytes: Uint8Array, dtype: string | undefined): boolean {
  const C = PIXEL_ARRAY_TYPES[(dtype ?? px.dtype) as keyof typeof PIXEL_ARRAY_TYPES];
  if (!C) return false;
  const copy = new Uint8Array(bytes);
  const ref = new C(copy.buffer, 0, copy.byteLength / C.BYTES_PER_ELEMENT);
  if (ref.length !== px.data.length) return false;
  for (let i = 0; i < ref.length; i++) if (Number(ref[i]) !== Number(px.data[i])) return false;
  return true;
}

/**
 * DCMTK's decompressor (and options) for a pixel encoding; native data is compared as stored. `+cn`: no YCbCr →
 * RGB conversion, so that DCMTK returns the codestream's own components as pydicom and RadioLens do (ADR 022).
 */
function dcmtkTool(uid: string): [string, ...string[]] | undefined {
  const p = transferSyntax(uid).pixels;
  if (p === "jpeg-baseline" || p === "jpeg-extended" || p === "jpeg-lossless") return ["dcmdjpeg", "+cn"];
  if (p === "jpeg-ls") return ["dcmdjpls"];
  if (p === "rle") return ["dcmdrle"];
  return undefined;
}

/** Whether DCMTK reads the whole file without an error (dcmdump; warnings allowed, as DCMTK itself does). */
function dcmtkReads(path: string): boolean {
  try {
    const r = execFileSync("sh", ["-c", 'dcmdump -q "$1" >/dev/null 2>&1; echo $?', "sh", path], {
      encoding: "utf8",
    });
    return r.trim() === "0";
  } catch {
    return false;
  }
}

/** Files of a folder that pydicom reads (dcmread without force, every element's value decoded). */
function pydicomReads(dir: string): Set<string> {
  const script = [
    "import sys, os, json, warnings, pydicom",
    "warnings.simplefilter('ignore')",
    "ok = []",
    "for f in sorted(os.listdir(sys.argv[1])):",
    "    if not f.endswith('.dcm'): continue",
    "    try:",
    "        ds = pydicom.dcmread(os.path.join(sys.argv[1], f))",
    "        [e.value for e in ds.iterall()]",
    "        ok.append(f)",
    "    except Exception:",
    "        pass",
    "print(json.dumps(ok))",
  ].join("\n");
  const out = execFileSync("/usr/bin/python3", ["-c", script, dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return new Set(JSON.parse(out) as string[]);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "rl-corpus-"));
  await warmUpCodecs();
  const t = { files: 0, ours: 0, py: 0, pyEqual: 0, pyDiff: 0, dcmtk: 0, dcmtkEqual: 0, dcmtkDiff: 0 };
  const reads = { both: 0, oursToo: 0 };
  const refused: string[] = [];
  const lossless = { files: 0, pyEqual: 0, dcmtkEqual: 0, both: 0 };
  const diffs: string[] = [];
  try {
    for (const [dir, what] of CORPORA) {
      if (!existsSync(dir)) {
        console.log(`# ${what}: ${dir} not present`);
        continue;
      }
      const files = readdirSync(dir)
        .filter((f) => f.endsWith(".dcm"))
        .sort();
      if (files.length === 0) continue;
      const refDir = join(work, `ref-${t.files}`);
      execFileSync("/usr/bin/python3", [join(REPO_ROOT, "bench", "dicom_pydicom.py"), dir, refDir, "1"], {
        stdio: ["ignore", "ignore", "pipe"],
        maxBuffer: 64 << 20,
      });
      const manifest = JSON.parse(readFileSync(join(refDir, "manifest.json"), "utf8")) as {
        files: Record<string, Ref>;
      };
      console.log(`# ${what}: ${files.length} files (${dir})`);
      const pyReads = pydicomReads(dir);
      for (const f of files) {
        t.files++;
        const path = join(dir, f);
        // Read (not decode): what `info`, `deid`, STOW and C-STORE need, with the default policy (ADR 029).
        if (pyReads.has(f) && dcmtkReads(path)) {
          reads.both++;
          try {
            readDicomFile(path);
            reads.oursToo++;
          } catch (e) {
            refused.push(`${what}/${f}: ${(e as { code?: string }).code ?? (e as Error).message}`);
          }
        }
        let px: StoredPixels | undefined;
        let ourError = "";
        try {
          px = await decodeStoredPixels(readDicomFile(path));
          t.ours++;
        } catch (e) {
          ourError = (e as { code?: string }).code ?? (e as Error).message;
        }
        const ref = manifest.files[f];
        let py = "-";
        if (ref?.ok) {
          t.py++;
          const equal = px !== undefined && sameValues(px, readFileSync(join(refDir, `${f}.bin`)), ref.dtype);
          py = equal ? "equal" : "DIFFERS";
          if (equal) t.pyEqual++;
          else {
            t.pyDiff++;
            diffs.push(`${what}/${f} vs pydicom (${ourError || "values"})`);
          }
        }
        let dc = "-";
        let uid = "";
        try {
          uid = readDicomFile(path, { strict: false, untilTag: 0x7fe00010 }).transferSyntaxUID;
        } catch {
          // No transfer syntax to choose a DCMTK tool by.
        }
        const tool = uid ? dcmtkTool(uid) : undefined;
        if (tool) {
          const out = join(work, `dcmtk-${t.files}-${basename(f)}`);
          let theirs: StoredPixels | undefined;
          try {
            execFileSync(tool[0], [...tool.slice(1), path, out], { stdio: "pipe" });
            theirs = await decodeStoredPixels(readDicomFile(out));
          } catch {
            // DCMTK refuses the file (or writes something we cannot read): no DCMTK comparison.
          }
          if (theirs) {
            t.dcmtk++;
            const equal =
              px !== undefined &&
              theirs.data.length === px.data.length &&
              theirs.data.every((v, i) => Number(v) === Number(px?.data[i]));
            dc = equal ? "equal" : "DIFFERS";
            if (equal) t.dcmtkEqual++;
            else {
              t.dcmtkDiff++;
              diffs.push(`${what}/${f} vs DCMTK ${tool[0]} (${ourError || "values"})`);
            }
          }
        }
        if (uid && transferSyntax(uid).pixels === "jpeg-lossless" && (py !== "-" || dc !== "-" || px)) {
          lossless.files++;
          if (py === "equal") lossless.pyEqual++;
          if (dc === "equal") lossless.dcmtkEqual++;
          if (py === "equal" && dc === "equal") lossless.both++;
        }
        console.log(
          `${f.padEnd(48)} ours ${(px ? "ok" : ourError).padEnd(24)} pydicom ${py.padEnd(8)} dcmtk ${dc}`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `\n${t.files} files; ours decoded ${t.ours}; pydicom+GDCM decoded ${t.py}: equal ${t.pyEqual}, different ${t.pyDiff}; DCMTK decompressed ${t.dcmtk} compressed files: equal ${t.dcmtkEqual}, different ${t.dcmtkDiff}`,
  );
  console.log(
    `JPEG Lossless (with Pixel Data): ${lossless.files} files; equal to pydicom+GDCM ${lossless.pyEqual}, to DCMTK ${lossless.dcmtkEqual}, to both ${lossless.both}`,
  );
  console.log(
    `read without error by both pydicom and DCMTK: ${reads.both}; read by RadioLens: ${reads.oursToo}`,
  );
  for (const d of diffs) console.log(`differs: ${d}`);
  for (const r of refused) console.log(`refused: ${r}`);
}

await main();
process.exit(0);
