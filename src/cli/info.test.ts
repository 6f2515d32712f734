/** `radiolens info` on every file and folder of ../shared/data, group help, and unknown formats: one typed error. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { sharedData } from "../../test/support/shared-data.js";
import { parseDicom } from "../io/dicom/parse.js";
import { readImage, sniffFormat } from "../io/index.js";
import { readNifti } from "../io/nifti/index.js";
import { readNpz } from "../io/npz/index.js";
import { COMMAND_ENTRIES, commandGroups } from "./commands/index.js";
import { runCli } from "./main.js";

const PYTHON = "/usr/bin/python3";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

function walk(dir: string, files: string[], dirs: string[]): void {
  dirs.push(dir);
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, files, dirs);
    else files.push(p);
  }
}

/** Whether a RadioLens reader (chosen by content) reads the file without error. */
async function readerAccepts(path: string): Promise<string | undefined> {
  const format = sniffFormat(readFileSync(path));
  try {
    if (format === "npz") readNpz(path);
    else if (format === "nifti" || format === "analyze") readNifti(path);
    else if (format !== undefined) await readImage(path);
    return format;
  } catch {
    return undefined;
  }
}

/** Keys each format's JSON must carry (the field list). */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  dicom: ["transferSyntax", "modality", "rows", "columns", "frames", "pixelSpacing", "pixelStats"],
  nifti: [
    "dims",
    "voxelSize",
    "units",
    "datatype",
    "scaling",
    "qformCode",
    "sformCode",
    "orientation",
    "intensity",
  ],
  png: ["width", "height", "bitDepth", "channels", "colourType"],
  jpeg: ["width", "height", "bitDepth", "channels", "colourType"],
  npz: ["arrays", "splits", "dimensionality"],
};

const SERIES_FIELDS = [
  "instances",
  "rows",
  "columns",
  "pixelSpacing",
  "sliceSpacing",
  "sliceSpacingUniform",
  "missingSlices",
  "orientation",
  "modality",
];

/** Patient-identifying values of the DICOM files (names, IDs, birth dates) that `info` must never print. */
function patientValues(path: string): string[] {
  try {
    const ds = parseDicom(readFileSync(path), { strict: false, untilTag: 0x7fe00010 }).dataset;
    return ["PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDs"]
      .map((k) => ds.rawString(k)?.replace(/\0/g, "").trim() ?? "")
      .filter((v) => v.length >= 4);
  } catch {
    return [];
  }
}

test("info --json on every file and folder of ../shared/data: fields per format, typed errors otherwise", async () => {
  const files: string[] = [];
  const dirs: string[] = [];
  walk(sharedData(), files, dirs);
  const seen = new Map<string, number>();
  for (const f of files) {
    const name = relative(sharedData(), f);
    const accepted = await readerAccepts(f);
    const r = await cli(["info", f, "--json"]);
    if (accepted !== undefined) assert.equal(r.code, 0, `${name} (${accepted}): ${r.err}`);
    if (r.code !== 0) {
      // Damaged or foreign files: one typed line (a catalogue or DICOM code), never an internal error.
      assert.match(r.err, /^error: (RL_ERR|DICOM)_[A-Z_0-9]+: /, name);
      assert.doesNotMatch(r.err, /RL_ERR_INTERNAL/, name);
      assert.equal(r.err.trim().split("\n").length, 1, name);
      if (sniffFormat(readFileSync(f)) === undefined && !/^DICOM_/.test(r.err.slice(7))) {
        assert.match(r.err, /RL_ERR_UNKNOWN_FORMAT: .*tried: png, jpeg, dicom, nifti, npz, analyze/, name);
      }
      continue;
    }
    const d = JSON.parse(r.out);
    const kind =
      d.format === "nifti1" || d.format === "nifti2" || d.format === "analyze" ? "nifti" : d.format;
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
    for (const k of FIELDS[kind] ?? []) assert.ok(k in d, `${name}: ${k} missing`);
    for (const v of patientValues(f))
      assert.ok(!r.out.includes(v), `${name}: a patient identifier is printed`);
  }
  // Every format of the shared data was seen succeeding.
  for (const k of ["dicom", "nifti", "png", "jpeg", "npz"]) assert.ok((seen.get(k) ?? 0) > 0, k);
  assert.ok((seen.get("dicom") ?? 0) >= 100, `only ${seen.get("dicom")} DICOM files described`);
  assert.ok((seen.get("nifti") ?? 0) >= 416, `only ${seen.get("nifti")} NIfTI files described`);

  // Every folder holding DICOM files is a series folder; the MSD task is an MSD folder.
  let seriesFolders = 0;
  for (const dir of dirs) {
    const hasDicom = readdirSync(dir).some((n) => {
      const p = join(dir, n);
      return statSync(p).isFile() && sniffFormat(readFileSync(p)) === "dicom";
    });
    if (!hasDicom) continue;
    const r = await cli(["info", dir, "--json"]);
    assert.equal(r.code, 0, `${dir}: ${r.err}`);
    const d = JSON.parse(r.out);
    assert.equal(d.format, "dicom-series", dir);
    assert.ok(d.series.length > 0, dir);
    for (const s of d.series) for (const k of SERIES_FIELDS) assert.ok(k in s, `${dir}: series ${k}`);
    seriesFolders++;
  }
  assert.ok(seriesFolders >= 10, `${seriesFolders} series folders`);
});

test("info on a DICOM series folder: the series → volume report", async () => {
  const r = await cli(["info", sharedData("dicom/pydicom/dicomdirtests/98892001/CT5N"), "--json"]);
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.equal(d.format, "dicom-series");
  assert.equal(d.series.length, 1);
  const s = d.series[0];
  assert.equal(s.modality, "CT");
  assert.equal(s.instances, 5);
  assert.deepEqual([s.rows, s.columns], [16, 16]);
  assert.equal(s.sliceSpacingUniform, true);
  assert.equal(s.missingSlices, 0);
  assert.equal(s.orientation, "LPS");
  assert.ok(s.sliceSpacing > 0);
  const text = await cli(["info", sharedData("dicom/pydicom/dicomdirtests/98892001/CT5N")]);
  assert.match(text.out, /slice spacing: [\d.]+ \(uniform\), missing slices 0/);
});

test("info on NIfTI agrees with nibabel: shape, voxel size, datatype, orientation, intensity range", async () => {
  const dir = sharedData("nifti/nibabel");
  const names = ["anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "standard.nii.gz"];
  names.push("reoriented_anat_moved.nii", "functional.nii");
  const paths = [...names.map((n) => join(dir, n)), sharedData("nifti/niivue/FLAIR.nii.gz")];
  paths.push(sharedData("segmentation/msd-hippocampus/imagesTr/hippocampus_001.nii.gz"));
  const script = `
import json, sys, nibabel as nib, numpy as np
out = []
for p in sys.argv[1:]:
    i = nib.load(p)
    a = np.asarray(i.dataobj).astype(np.float64) * 1.0
    f = i.get_fdata()
    out.append({"shape": list(i.shape), "zooms": [float(z) for z in i.header.get_zooms()],
                "dtype": str(i.get_data_dtype().newbyteorder("=")), "axcodes": "".join(nib.aff2axcodes(i.affine)),
                "min": float(np.nanmin(f)), "max": float(np.nanmax(f))})
print(json.dumps(out))`;
  const ref = JSON.parse(execFileSync(PYTHON, ["-c", script, ...paths], { encoding: "utf8" }));
  const dtypeNames: Record<string, string> = { int16: "int16", uint8: "uint8", float32: "float32" };
  for (const [k, p] of paths.entries()) {
    const r = await cli(["info", p, "--json"]);
    assert.equal(r.code, 0, r.err);
    const d = JSON.parse(r.out);
    const e = ref[k];
    assert.deepEqual(d.dims, e.shape, p);
    assert.deepEqual(
      d.voxelSize.map((v: number) => Math.fround(v)),
      e.zooms.map((v: number) => Math.fround(v)),
      p,
    );
    assert.equal(d.datatype, dtypeNames[e.dtype] ?? e.dtype, p);
    assert.equal(d.orientation, e.axcodes, p);
    assert.ok(Math.abs(d.intensity.min - e.min) <= 1e-4 * Math.max(1, Math.abs(e.min)), p);
    assert.ok(Math.abs(d.intensity.max - e.max) <= 1e-4 * Math.max(1, Math.abs(e.max)), p);
  }
});

test("info on PNG, JPEG, MedMNIST npz and the MSD task folder", async () => {
  const png = JSON.parse((await cli(["info", sharedData("xray/COVID-00045.png"), "--json"])).out);
  assert.deepEqual(
    [png.format, png.width, png.height, png.bitDepth, png.channels],
    ["png", 1962, 1862, 8, 1],
  );
  assert.equal(png.colourType, "grayscale");
  const jpg = JSON.parse((await cli(["info", sharedData("xray/COVID-00001.jpg"), "--json"])).out);
  assert.deepEqual([jpg.format, jpg.width, jpg.height, jpg.bitDepth], ["jpeg", 1151, 972, 8]);

  const npz = JSON.parse((await cli(["info", sharedData("medmnist/pneumoniamnist.npz"), "--json"])).out);
  assert.equal(npz.dimensionality, "2D");
  assert.deepEqual(npz.imageSize, [28, 28]);
  // The official class counts (README of ../shared/data).
  const counts = Object.fromEntries(
    npz.splits.map((s: { split: string; labelCounts: object }) => [s.split, s.labelCounts]),
  );
  assert.deepEqual(counts, {
    train: { 0: 1214, 1: 3494 },
    val: { 0: 135, 1: 389 },
    test: { 0: 234, 1: 390 },
  });
  const a3d = JSON.parse((await cli(["info", sharedData("medmnist/adrenalmnist3d.npz"), "--json"])).out);
  assert.equal(a3d.dimensionality, "3D");
  assert.deepEqual(a3d.imageSize, [28, 28, 28]);
  const retina = JSON.parse((await cli(["info", sharedData("medmnist/retinamnist.npz"), "--json"])).out);
  assert.deepEqual([retina.dimensionality, retina.channels], ["2D", 3]);
  assert.deepEqual(Object.keys(retina.splits[0].labelCounts).sort(), ["0", "1", "2", "3", "4"]);

  const msd = JSON.parse((await cli(["info", sharedData("segmentation/msd-hippocampus"), "--json"])).out);
  assert.equal(msd.format, "msd");
  assert.deepEqual([msd.imagesTr, msd.labelsTr, msd.pairs], [208, 208, 208]);
  assert.deepEqual(msd.labelValues, [0, 1, 2]);
  assert.deepEqual(msd.gridMismatches, []);
});

test("a text file given to info or convert: RL_ERR_UNKNOWN_FORMAT listing the formats tried", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-info-"));
  const txt = join(dir, "notes.dcm");
  writeFileSync(txt, "Findings: no acute cardiopulmonary process.\n".repeat(20));
  for (const argv of [
    ["info", txt],
    ["convert", txt, join(dir, "out.png")],
    ["convert", txt, join(dir, "out.nii.gz")],
  ]) {
    const r = await cli(argv);
    assert.equal(r.code, 3, argv.join(" "));
    assert.match(r.err, /^error: RL_ERR_UNKNOWN_FORMAT: .*\(tried: png, jpeg, dicom, nifti, npz, analyze\)/);
    assert.doesNotMatch(r.err, /DICOM_/);
    assert.deepEqual(readdirSync(dir), ["notes.dcm"], "nothing written");
  }
  const folder = await cli(["info", dir]);
  assert.match(folder.err, /^error: RL_ERR_UNKNOWN_FORMAT: .*DICOM series folder/);
});

test("radiolens <group> and <group> --help list the group's subcommands", async () => {
  const groups = commandGroups();
  assert.deepEqual(groups, ["dicom", "benchmark", "gan", "reports", "batch"]);
  for (const g of groups) {
    const subs = COMMAND_ENTRIES.filter((e) => e.name.startsWith(`${g} `));
    for (const argv of [[g], [g, "--help"], [g, "-h"]]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, `${argv.join(" ")}: ${r.err}`);
      assert.match(r.out, new RegExp(`^Usage: radiolens ${g} <subcommand>`));
      for (const s of subs) assert.match(r.out, new RegExp(`\\n  ${s.name} +\\S`), s.name);
    }
    const bad = await cli([g, "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, new RegExp(`RL_ERR_USAGE: unknown command '${g} nope' \\(${g} subcommands: `));
  }
});

test("--version, --help, info, convert, dicom pixels, deid, metrics and reports load neither tfjs nor ONNX Runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "rl-lazy-"));
  const hook = join(dir, "hook.mjs");
  // A module resolve hook that names every tfjs or onnxruntime module the process loads.
  writeFileSync(
    hook,
    `import { register } from "node:module";
register("data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(/tfjs|onnxruntime/.test(r.url))console.log('HEAVY '+r.url);return r;}");`,
  );
  const main = new URL("./main.ts", import.meta.url).href;
  const loaded = (argv: string[]): string =>
    execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        hook,
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(main)}); await m.runCli(${JSON.stringify(argv)}, { stdout: () => {}, stderr: () => {}, isTTY: false });`,
      ],
      { encoding: "utf8" },
    );
  const nifti = sharedData("segmentation/msd-hippocampus/imagesTr/hippocampus_001.nii.gz");
  assert.doesNotMatch(loaded(["info", nifti, "--json"]), /HEAVY/);
  assert.doesNotMatch(loaded(["convert", nifti, join(dir, "s.png"), "--slice", "3"]), /HEAVY/);
  for (const argv of [
    ["--version"],
    ["--help"],
    ["gan", "--help"],
    ["dicom", "pixels", sharedData("dicom/pydicom/CT_small.dcm"), "--out", join(dir, "px")],
    ["deid", "--help"],
    ["metrics", "--help"],
    ["reports", "label", "--help"],
  ])
    assert.doesNotMatch(loaded(argv), /HEAVY/, argv.join(" "));
  // The hook sees tfjs when a command needs it.
  assert.match(loaded(["models"]), /HEAVY .*tfjs/);
});
