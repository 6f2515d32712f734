/** deidentifyTree over folders and zips: mirrored tree, quarantine listing, resume without duplicates, determinism, CLI. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { zipSync } from "fflate";
import { sharedData } from "../../test/support/shared-data.js";
import { deidCommand } from "../cli/commands/deid.js";
import { isRadioLensError } from "../core/errors.js";
import { parseDicom } from "../io/dicom/index.js";
import type { AuditRecord } from "./audit.js";
import { AUDIT_FILE, deidentifyFile, deidentifyTree, readSecretFile } from "./batch.js";
import { readPseudonymTable } from "./pseudonym.js";

const SECRET = new Uint8Array(Buffer.from("batch-test-secret-0123456789abcdef"));
const OTHER = new Uint8Array(Buffer.from("batch-other-secret-0123456789abcde"));
const FILES = [
  "CT_small.dcm",
  "MR_small.dcm",
  "rtplan.dcm",
  "JPEG2000.dcm",
  "rtstruct.dcm",
  "MR_truncated.dcm",
];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      if (n.isDirectory()) walk(join(d, n.name));
      else out.push(relative(dir, join(d, n.name)));
    }
  };
  walk(dir);
  return out.sort();
}

function audit(out: string): AuditRecord[] {
  return readFileSync(join(out, AUDIT_FILE), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditRecord);
}

describe("deidentifyTree", () => {
  let tmp: string;
  let input: string;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "rl-deid-batch-"));
    input = join(tmp, "in");
    mkdirSync(join(input, "series", "a"), { recursive: true });
    for (const [i, f] of FILES.entries()) {
      copyFileSync(sharedData("dicom/pydicom", f), join(input, i % 2 ? join("series", "a", f) : f));
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("mirrors relative paths, lists quarantined and failed instances, never touches the input", async () => {
    const snapshot = listFiles(input).map((f) => readFileSync(join(input, f)));
    const out = join(tmp, "out1");
    const s = await deidentifyTree(input, out, {
      secret: SECRET,
      workers: 2,
      pseudonymTable: join(tmp, "pt.json"),
    });
    assert.equal(s.total, 6);
    assert.equal(s.written, 4);
    assert.equal(s.quarantined, 1);
    assert.equal(s.failed, 1);
    const recs = audit(out);
    assert.equal(recs.length, 6);
    const mr = recs.find((r) => r.input === "series/a/MR_small.dcm");
    assert.equal(mr?.status, "quarantined");
    assert.deepEqual(mr?.quarantine, ["image-type-secondary"]);
    assert.equal(recs.find((r) => r.input === "series/a/MR_truncated.dcm")?.status, "failed");
    assert.deepEqual(
      listFiles(out).filter((f) => f.endsWith(".dcm")),
      ["CT_small.dcm", "rtplan.dcm", "rtstruct.dcm", "series/a/JPEG2000.dcm"],
    );
    for (const [i, f] of listFiles(input).entries()) {
      assert.ok(readFileSync(join(input, f)).equals(snapshot[i] as Buffer), `${f} changed`);
    }
    const table = readPseudonymTable(join(tmp, "pt.json"), SECRET);
    const ctId = parseDicom(new Uint8Array(readFileSync(join(input, "CT_small.dcm")))).dataset.string(
      "PatientID",
    ) as string;
    assert.equal(
      table.get(ctId),
      parseDicom(new Uint8Array(readFileSync(join(out, "CT_small.dcm")))).dataset.string("PatientID"),
    );
    const auditText = readFileSync(join(out, AUDIT_FILE), "utf8");
    assert.ok(!auditText.includes(ctId), "the audit holds no identifier");
  });

  it("gives byte-identical outputs for the same secret (any worker count) and other UIDs for another secret", async () => {
    const a = join(tmp, "same-a");
    const b = join(tmp, "same-b");
    const c = join(tmp, "other");
    await deidentifyTree(input, a, { secret: SECRET, workers: 2 });
    await deidentifyTree(input, b, { secret: SECRET, workers: 0, durable: false });
    await deidentifyTree(input, c, { secret: OTHER, workers: 1, durable: false });
    const files = listFiles(a).filter((f) => f.endsWith(".dcm"));
    assert.equal(files.length, 4);
    for (const f of files) {
      assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between runs`);
      const ua = parseDicom(new Uint8Array(readFileSync(join(a, f)))).dataset.uid("SOPInstanceUID");
      const uc = parseDicom(new Uint8Array(readFileSync(join(c, f)))).dataset.uid("SOPInstanceUID");
      assert.notEqual(ua, uc, `${f}: same UID under another secret`);
    }
  });

  it("resumes an interrupted run without duplicates and refuses other settings", async () => {
    const out = join(tmp, "resume");
    await deidentifyTree(input, out, { secret: SECRET, workers: 0, durable: false });
    const full = readFileSync(join(out, AUDIT_FILE), "utf8").split("\n").filter(Boolean);
    const expected = listFiles(out).map((f) => [f, readFileSync(join(out, f))] as const);
    // Interrupt: two records kept, a torn third line, one output lost, a leftover temporary file.
    writeFileSync(
      join(out, AUDIT_FILE),
      `${full.slice(0, 2).join("\n")}\n${(full[2] as string).slice(0, 25)}`,
    );
    rmSync(join(out, "rtplan.dcm"));
    writeFileSync(join(out, "series/a/.JPEG2000.dcm.1234.abcdef01.tmp"), "partial");
    const s = await deidentifyTree(input, out, { secret: SECRET, workers: 0, durable: false });
    assert.equal(s.resumed, 1, "CT_small kept; rtplan redone since its output vanished");
    const recs = audit(out);
    assert.equal(recs.length, 6);
    assert.equal(new Set(recs.map((r) => r.input)).size, 6, "no duplicate audit records");
    assert.ok(!existsSync(join(out, "series/a/.JPEG2000.dcm.1234.abcdef01.tmp")));
    for (const [f, bytes] of expected) {
      if (f === AUDIT_FILE) continue;
      assert.ok(existsSync(join(out, f)), `${f} missing after resume`);
      assert.ok(readFileSync(join(out, f)).equals(bytes), `${f} differs after resume`);
    }
    await assert.rejects(deidentifyTree(input, out, { secret: OTHER }), (e) =>
      isRadioLensError(e, "RL_ERR_DEID_RESUME_MISMATCH"),
    );
    await assert.rejects(deidentifyTree(input, out, { secret: SECRET, options: { retainUIDs: true } }), (e) =>
      isRadioLensError(e, "RL_ERR_DEID_RESUME_MISMATCH"),
    );
  });

  it("resumes a run killed mid-way (SIGKILL) to the same outputs as an uninterrupted run", async () => {
    const big = join(tmp, "big");
    const src = sharedData("dicom/pydicom");
    const names = readdirSync(src)
      .filter((f) => f.endsWith(".dcm") && !f.includes("truncated"))
      .slice(0, 40);
    for (let r = 0; r < 3; r++) {
      mkdirSync(join(big, `r${r}`), { recursive: true });
      for (const f of names) copyFileSync(join(src, f), join(big, `r${r}`, f));
    }
    const clean = join(tmp, "big-clean");
    await deidentifyTree(big, clean, { secret: SECRET, workers: 0, durable: false });
    const killed = join(tmp, "big-killed");
    const script = `import { deidentifyTree } from ${JSON.stringify(new URL("./batch.ts", import.meta.url).href)};
await deidentifyTree(${JSON.stringify(big)}, ${JSON.stringify(killed)}, { secret: new Uint8Array(Buffer.from(${JSON.stringify(Buffer.from(SECRET).toString())})), workers: 0 });`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: "ignore",
    });
    await new Promise<void>((resolveKill) => {
      const poll = setInterval(() => {
        const p = join(killed, AUDIT_FILE);
        const lines = existsSync(p) ? readFileSync(p, "utf8").split("\n").length - 1 : 0;
        if (lines >= 10 || child.exitCode !== null) {
          clearInterval(poll);
          child.kill("SIGKILL");
          resolveKill();
        }
      }, 5);
    });
    await new Promise((r) => child.once("exit", r));
    const partial = readFileSync(join(killed, AUDIT_FILE), "utf8").split("\n").length - 1;
    assert.ok(partial < 120, `the run was not interrupted (${partial} lines)`);
    const s = await deidentifyTree(big, killed, { secret: SECRET, workers: 0, durable: false });
    assert.equal(s.total, 120);
    const recs = audit(killed);
    assert.equal(recs.length, 120);
    assert.equal(new Set(recs.map((r) => r.input)).size, 120, "no duplicate audit records");
    const a = listFiles(clean).filter((f) => f.endsWith(".dcm"));
    assert.deepEqual(
      listFiles(killed).filter((f) => f.endsWith(".dcm")),
      a,
      "same files, no leftovers",
    );
    for (const f of a)
      assert.ok(readFileSync(join(clean, f)).equals(readFileSync(join(killed, f))), `${f} differs`);
  });

  it("names outputs by the replaced UIDs with layout uid, so input names cannot leak", async () => {
    const named = join(tmp, "in-named", "DOE_JOHN");
    mkdirSync(named, { recursive: true });
    copyFileSync(sharedData("dicom/pydicom/CT_small.dcm"), join(named, "DOE_JOHN_CT.dcm"));
    const out = join(tmp, "uid-out");
    const s = await deidentifyTree(join(tmp, "in-named"), out, {
      secret: SECRET,
      layout: "uid",
      workers: 0,
      durable: false,
    });
    assert.equal(s.written, 1);
    const files = listFiles(out).filter((f) => f.endsWith(".dcm"));
    assert.equal(files.length, 1);
    assert.ok(!(files[0] as string).includes("DOE"));
    const ds = parseDicom(new Uint8Array(readFileSync(join(out, files[0] as string)))).dataset;
    assert.equal(
      files[0],
      `${ds.uid("StudyInstanceUID")}/${ds.uid("SeriesInstanceUID")}/${ds.uid("SOPInstanceUID")}.dcm`,
    );
    assert.equal(audit(out)[0]?.output, files[0]);
  });

  it("de-identifies a single file with deidentifyFile and writes nothing for a quarantined one", () => {
    const out = join(tmp, "single", "ct.dcm");
    const r = deidentifyFile(sharedData("dicom/pydicom/CT_small.dcm"), out, { secret: SECRET });
    assert.equal(r.record.status, "written");
    assert.equal(
      parseDicom(new Uint8Array(readFileSync(out))).dataset.string("PatientIdentityRemoved"),
      "YES",
    );
    const q = deidentifyFile(sharedData("dicom/pydicom/MR_small.dcm"), join(tmp, "single", "mr.dcm"), {
      secret: SECRET,
    });
    assert.equal(q.record.status, "quarantined");
    assert.ok(!existsSync(join(tmp, "single", "mr.dcm")));
  });

  it("reads zip archives and refuses entries that would leave the output folder", async () => {
    const zipPath = join(tmp, "study.zip");
    writeFileSync(
      zipPath,
      zipSync({
        "study/CT_small.dcm": new Uint8Array(readFileSync(sharedData("dicom/pydicom/CT_small.dcm"))),
        "../escape.dcm": new Uint8Array(readFileSync(sharedData("dicom/pydicom/rtplan.dcm"))),
      }),
    );
    const out = join(tmp, "zip-out");
    const s = await deidentifyTree(zipPath, out, { secret: SECRET });
    assert.equal(s.written, 1);
    assert.equal(s.failed, 1);
    assert.ok(existsSync(join(out, "study/CT_small.dcm")));
    assert.ok(!existsSync(join(tmp, "escape.dcm")));
  });

  it("runs as the `radiolens deid` command and rejects a short secret", async () => {
    const key = join(tmp, "deid.key");
    writeFileSync(key, "cli-secret-0123456789abcdef\n");
    assert.equal(readSecretFile(key).length, 27, "trailing newline dropped");
    const out = join(tmp, "cli-out");
    let stdout = "";
    const code = await deidCommand.run(
      {
        values: { "secret-file": key, option: ["retain-modified-dates"], workers: "1", "no-fsync": true },
        positionals: [input, out],
      },
      { stdout: (t) => (stdout += t), stderr: () => {}, isTTY: false },
    );
    assert.equal(code, 3, "a failed instance gives exit code 3");
    assert.match(stdout, /4 written, 1 quarantined, 1 failed of 6/);
    const ds = parseDicom(new Uint8Array(readFileSync(join(out, "CT_small.dcm")))).dataset;
    assert.deepEqual(
      ds.items("DeidentificationMethodCodeSequence").map((i) => i.string("CodeValue")),
      ["113100", "113107"],
    );
    writeFileSync(key, "short");
    await assert.rejects(
      deidCommand.run(
        { values: { "secret-file": key }, positionals: [input, join(tmp, "cli-bad")] },
        { stdout: () => {}, stderr: () => {}, isTTY: false },
      ),
      (e) => isRadioLensError(e, "RL_ERR_DEID_SECRET") && e.exitCode === 2,
    );
  });
});
