/** Done-when checks on every parseable file of ../shared/data/dicom/pydicom: no removed value survives, UIDs, pixels, dcmdump, pydicom. */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { sharedData } from "../../test/support/shared-data.js";
import { type DicomDataset, lookupTag, parseDicom, STRING_VRS, type VR } from "../io/dicom/index.js";
import { parseForDeid } from "./apply-profile.js";
import type { AuditRecord } from "./audit.js";
import { deidentifyTree } from "./batch.js";
import { findRule } from "./profile.js";
import { isStandardUid } from "./uid.js";

const run = promisify(execFile);
const SRC = sharedData("dicom/pydicom");
const SECRET = new Uint8Array(Buffer.from("radiolens-test-secret-0123456789"));
const PIXEL_TAGS = new Set([0x7fe00010, 0x7fe00008, 0x7fe00009]);
const STRUCTURAL = new Set([
  0x00080016, 0x00081150, 0x0008001a, 0x0008010c, 0x00080117, 0x00080118, 0x00020002, 0x00020010,
]);
const NUMERIC_VRS = new Set<VR>([
  "AT",
  "FD",
  "FL",
  "OD",
  "OF",
  "OL",
  "OV",
  "SL",
  "SS",
  "SV",
  "UL",
  "US",
  "UV",
]);
const DUMMIES = new Set(["ANONYMIZED", "19000101", "000000", "19000101000000"]);

interface Candidate {
  readonly text?: string;
  readonly bytes?: Uint8Array;
  readonly where: string;
}

function vrOf(el: { vr: VR; tag: number; items?: unknown }): VR {
  if (el.items) return "SQ";
  return el.vr === "UN" ? (lookupTag(el.tag)?.vrs[0] ?? "UN") : el.vr;
}

/**
 * Values the Basic Profile must not let through, found independently of the engine: every value under a Table
 * E.1-1 row whose Basic Profile action is not K, every private value, every value inside such a sequence, and the
 * unlisted classes the profile covers by VR (person names, dates and times, instance UIDs).
 */
function collect(
  ds: DicomDataset,
  removedAncestor: boolean,
  path: string,
  out: Candidate[],
  kept: string[],
): void {
  for (const el of ds.sorted()) {
    if (PIXEL_TAGS.has(el.tag)) continue;
    const vr = vrOf(el);
    const rule = findRule(el.tag);
    const priv = ((el.tag >>> 16) & 1) === 1;
    const listed = rule !== undefined && rule.basic !== "K" && rule.basic !== "C";
    const byVR =
      vr === "PN" ||
      vr === "DA" ||
      vr === "DT" ||
      vr === "TM" ||
      (vr === "UI" && !STRUCTURAL.has(el.tag) && !isStandardUid(ds.rawString(el.tag) ?? ""));
    const removed = removedAncestor || priv || listed || byVR;
    const where = `${path}/${el.tag.toString(16).padStart(8, "0")}`;
    if (el.items) {
      el.items.forEach((item, i) => {
        // A sequence whose action is X, Z or D takes its whole content with it; U and K sequences are recursed.
        const gone =
          removedAncestor || priv || (rule !== undefined && !rule.basic.includes("U") && rule.basic !== "K");
        collect(item, gone, `${where}[${i}]`, out, kept);
      });
      continue;
    }
    // Coded, numeric and structural values (CS, binary numbers, AT, UIDs of SOP classes and coding schemes) name
    // standards or measure things, not people, and stay inside replaced sequences; they are not candidates.
    const structural =
      !priv &&
      (vr === "CS" ||
        NUMERIC_VRS.has(vr) ||
        ((vr === "DS" || vr === "IS") && /^[\d\s.+\-eE\\]*$/.test(ds.rawString(el.tag) ?? "")) ||
        (vr === "UI" && (STRUCTURAL.has(el.tag) || isStandardUid(ds.rawString(el.tag) ?? ""))));
    if (structural) {
      kept.push(ds.rawString(el.tag) ?? "");
      continue;
    }
    const isString = STRING_VRS.has(vr) || (vr === "UN" && !priv);
    if (isString) {
      const raw = ds.rawString(el.tag) ?? "";
      const parts = [raw, ...raw.split("\\")].map((s) => s.trim()).filter((s) => s.length >= 5);
      if (!removed) kept.push(raw);
      else for (const p of parts) out.push({ text: p, where });
    } else if (removed && el.value.length >= 16) {
      out.push({ bytes: el.value, where });
    }
  }
}

function pixelBytes(ds: DicomDataset): Uint8Array[] {
  const px = ds.get(0x7fe00010);
  if (!px) return [];
  return px.fragments ? [...(px.offsetTable ? [px.offsetTable] : []), ...px.fragments] : [px.value];
}

function uidPairs(a: DicomDataset, b: DicomDataset, pairs: [number, string, string][]): void {
  for (const el of b.sorted()) {
    const o = a.get(el.tag);
    if (!o) continue;
    if (el.items && o.items) {
      el.items.forEach((item, i) => {
        const oi = o.items?.[i];
        if (oi) uidPairs(oi, item, pairs);
      });
      continue;
    }
    if (vrOf(el) !== "UI" || ((el.tag >>> 16) & 1) === 1) continue;
    const ov = (a.rawString(el.tag) ?? "").split("\\");
    const nv = (b.rawString(el.tag) ?? "").split("\\");
    ov.forEach((v, i) => {
      if (v.trim() !== "") pairs.push([el.tag, v.trim(), (nv[i] ?? "").trim()]);
    });
  }
}

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const hasPydicom = spawnSync(PYTHON, ["-c", "import pydicom"]).status === 0;
const hasDcmdump = spawnSync("dcmdump", ["--version"]).status === 0;
const hasDciodvfy = spawnSync("sh", ["-c", "command -v dciodvfy"]).status === 0;

describe("de-identification of the pydicom test files (Basic Profile)", () => {
  let out: string;
  let records: AuditRecord[];

  before(async () => {
    out = mkdtempSync(join(tmpdir(), "rl-deid-"));
    // Burned-in quarantine off so every parseable instance's metadata is checked; quarantine has its own test.
    await deidentifyTree(SRC, out, { secret: SECRET, keepBurnedIn: true, workers: 2, durable: false });
    records = readFileSync(join(out, "deid-audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditRecord);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it("writes every file that parses and fails only files that do not parse", (t) => {
    let parses = 0;
    for (const r of records) {
      let ok = true;
      try {
        parseForDeid(new Uint8Array(readFileSync(join(SRC, r.input))));
      } catch {
        ok = false;
      }
      if (ok) parses++;
      if (ok)
        assert.ok(
          r.status === "written" || r.quarantine?.includes("media-storage-directory"),
          `${r.input}: ${r.status}`,
        );
      else assert.equal(r.status, "failed", r.input);
    }
    assert.ok(parses >= 150, `only ${parses} parseable files`);
    t.diagnostic(
      `${parses} of ${records.length} files parse; ${records.filter((r) => r.status === "written").length} written`,
    );
  });

  it("lets no removed, emptied or replaced value survive anywhere in the output", (t) => {
    let checked = 0;
    for (const r of records.filter((x) => x.status === "written")) {
      const input = new Uint8Array(readFileSync(join(SRC, r.input)));
      const output = Buffer.from(readFileSync(join(out, r.output as string)));
      const orig = parseForDeid(input);
      const cands: Candidate[] = [];
      const kept: string[] = [];
      collect(orig.meta, false, "meta", [], kept);
      collect(orig.dataset, false, "", cands, kept);
      const keptText = kept.join("\u0001");
      const pixels = pixelBytes(orig.dataset).map((p) => Buffer.from(p));
      const text = output.toString("latin1");
      for (const c of cands) {
        if (c.text !== undefined) {
          if (DUMMIES.has(c.text) || keptText.includes(c.text)) continue;
          if (pixels.some((p) => p.includes(Buffer.from(c.text as string, "latin1")))) continue;
          assert.ok(!text.includes(c.text), `${r.input}: value of ${c.where} survives`);
        } else if (c.bytes) {
          if (c.bytes.every((b) => b === 0 || b === 0x20)) continue;
          if (pixels.some((p) => p.includes(Buffer.from(c.bytes as Uint8Array)))) continue;
          assert.equal(output.indexOf(Buffer.from(c.bytes)), -1, `${r.input}: bytes of ${c.where} survive`);
        }
        checked++;
      }
    }
    assert.ok(checked > 1000, `only ${checked} values checked`);
    t.diagnostic(`${checked} removed/replaced values searched for in the outputs`);
  });

  it("remaps UIDs consistently across the set, keeps SOP Class UIDs and keeps pixel data byte-identical", (t) => {
    const map = new Map<string, string>();
    let remapped = 0;
    for (const r of records.filter((x) => x.status === "written")) {
      const orig = parseForDeid(new Uint8Array(readFileSync(join(SRC, r.input))));
      const res = parseDicom(new Uint8Array(readFileSync(join(out, r.output as string))));
      assert.equal(res.dataset.uid("SOPClassUID"), orig.dataset.uid("SOPClassUID"), r.input);
      assert.equal(res.meta.uid("MediaStorageSOPInstanceUID"), res.dataset.uid("SOPInstanceUID"), r.input);
      assert.equal(res.dataset.string("PatientIdentityRemoved"), "YES");
      assert.equal(res.dataset.items("DeidentificationMethodCodeSequence")[0]?.string("CodeValue"), "113100");
      const pairs: [number, string, string][] = [];
      uidPairs(orig.dataset, res.dataset, pairs);
      for (const [tag, o, n] of pairs) {
        if (isStandardUid(o) || STRUCTURAL.has(tag)) {
          assert.equal(n, o, `${r.input} ${tag.toString(16)} standard UID changed`);
          continue;
        }
        assert.notEqual(n, o, `${r.input} ${tag.toString(16)} UID not replaced`);
        assert.match(n, /^2\.25\.\d+$/);
        assert.ok(n.length <= 64);
        const prev = map.get(o);
        if (prev !== undefined) assert.equal(n, prev, `${r.input}: UID mapped two ways`);
        map.set(o, n);
        remapped++;
      }
      const a = pixelBytes(orig.dataset);
      const b = pixelBytes(res.dataset);
      assert.equal(b.length, a.length, `${r.input}: pixel fragments`);
      for (const [i, p] of a.entries()) {
        assert.ok(Buffer.from(p).equals(Buffer.from(b[i] as Uint8Array)), `${r.input}: pixel bytes differ`);
      }
      const pre = readFileSync(join(out, r.output as string)).subarray(0, 128);
      assert.ok(
        pre.every((x) => x === 0),
        "preamble zeroed",
      );
    }
    assert.ok(remapped > 300, `only ${remapped} UIDs remapped`);
    t.diagnostic(`${remapped} UID values remapped, ${map.size} distinct`);
    assert.ok(new Set(map.values()).size === map.size, "two UIDs share one replacement");
  });

  it("reads in dcmtk dcmdump with no error the input did not already have", async () => {
    // scripts/setup.sh installs dcmtk: a missing peer fails the check instead of skipping it.
    assert.ok(hasDcmdump, "dcmdump (Debian dcmtk) is not installed: run scripts/setup.sh");
    const written = records.filter((x) => x.status === "written");
    // One dcmdump per side (+F heads each file's section with its name); errors go to the same stream.
    const dump = async (paths: string[]): Promise<Set<string>[]> => {
      const { stdout } = await run("sh", ["-c", 'dcmdump +F "$@" 2>&1; true', "sh", ...paths], {
        maxBuffer: 256 * 2 ** 20,
      });
      const sections: Set<string>[] = [];
      for (const line of stdout.split("\n")) {
        if (/^# dcmdump \(\d+\/\d+\): /.test(line)) sections.push(new Set());
        else if (line.startsWith("E:")) sections.at(-1)?.add(line.replace(/\/\S+/g, "<path>"));
      }
      return sections;
    };
    const [a, b] = await Promise.all([
      dump(written.map((r) => join(SRC, r.input))),
      dump(written.map((r) => join(out, r.output as string))),
    ]);
    assert.equal(a.length, written.length);
    assert.equal(b.length, written.length);
    written.forEach((r, i) => {
      for (const e of b[i] as Set<string>)
        assert.ok((a[i] as Set<string>).has(e), `${r.input}: new dcmdump error ${e}`);
    });
  });

  it("adds no dicom3tools dciodvfy IOD error to the input's (sample of 16 instances)", async () => {
    assert.ok(hasDciodvfy, "dciodvfy (Debian dicom3tools) is not installed: run scripts/setup.sh");
    const written = records.filter((x) => x.status === "written");
    const step = Math.max(1, Math.floor(written.length / 16));
    const sample = written.filter((_, i) => i % step === 0).slice(0, 16);
    const errors = async (p: string): Promise<Set<string>> => {
      const { stdout } = await run("sh", ["-c", 'dciodvfy "$1" 2>&1; true', "sh", p], {
        maxBuffer: 64 * 2 ** 20,
      });
      // Values inside <> change by design (UIDs, dates); the error's kind must not be new.
      return new Set(
        stdout
          .split("\n")
          .filter((l) => l.startsWith("Error"))
          .map((l) => l.replace(/<[^>]*>/g, "<>")),
      );
    };
    for (const r of sample) {
      const [a, b] = await Promise.all([errors(join(SRC, r.input)), errors(join(out, r.output as string))]);
      for (const e of b) assert.ok(a.has(e), `${r.input}: new dciodvfy error ${e}`);
    }
  });

  it("reads in pydicom (every element decoded) wherever the input does", () => {
    assert.ok(hasPydicom, "python3-pydicom is not installed: run scripts/setup.sh");
    const pairs = records
      .filter((x) => x.status === "written")
      .map((r) => [join(SRC, r.input), join(out, r.output as string)]);
    const script = `
import json, sys, warnings
warnings.simplefilter("ignore")
import pydicom
def rd(p):
    ds = pydicom.dcmread(p, force=True)
    for el in ds.iterall():
        el.value
    return True
bad = []
for a, b in json.load(sys.stdin):
    try:
        rd(a)
    except Exception:
        continue
    try:
        rd(b)
    except Exception as e:
        bad.append([b, str(e)])
print(json.dumps(bad))
`;
    const res = spawnSync(PYTHON, ["-c", script], {
      input: JSON.stringify(pairs),
      encoding: "utf8",
      maxBuffer: 2 ** 26,
    });
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), []);
  });
});
