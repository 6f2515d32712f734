/** De-identified outputs pass dciodvfy with no Error; a series with zero-padded files de-identifies whole, with audit warnings. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dciodvfyErrors } from "../../test/support/dciodvfy.js";
import { sharedData } from "../../test/support/shared-data.js";
import { parseDicom } from "../io/dicom/index.js";
import type { AuditRecord } from "./audit.js";
import { AUDIT_FILE, deidentifyTree } from "./batch.js";

const SECRET = new Uint8Array(Buffer.from("conformance-secret-0123456789abcdef"));
const tmp = mkdtempSync(join(tmpdir(), "rl-deid-iod-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function audit(out: string): AuditRecord[] {
  return readFileSync(join(out, AUDIT_FILE), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditRecord);
}

describe("de-identified objects", () => {
  it("pass dciodvfy with no Error when the input does (CT and MR, with and without trailing padding)", async () => {
    const input = join(tmp, "in");
    mkdirSync(join(input, "series"), { recursive: true });
    for (const f of ["CT_small.dcm", "MR_small.dcm"]) {
      const bytes = readFileSync(sharedData("dicom", "pydicom", f));
      assert.deepEqual(dciodvfyErrors(sharedData("dicom", "pydicom", f)).errors, [], f);
      writeFileSync(join(input, "series", f), bytes);
      // The same instance with 1000 zero bytes after its last element, as some archives store slices.
      writeFileSync(join(input, "series", `padded-${f}`), Buffer.concat([bytes, Buffer.alloc(1000)]));
    }
    const out = join(tmp, "out");
    const s = await deidentifyTree(input, out, { secret: SECRET, workers: 1 });
    const recs = audit(out);
    // No instance is refused for its padding; MR_small is quarantined by the burned-in rules, as without padding.
    assert.equal(s.failed, 0, JSON.stringify(recs));
    const byInput = new Map(recs.map((r) => [r.input, r]));
    for (const f of ["CT_small.dcm", "MR_small.dcm"]) {
      const plain = byInput.get(`series/${f}`);
      const padded = byInput.get(`series/padded-${f}`);
      assert.equal(padded?.status, plain?.status, f);
      assert.deepEqual(plain?.warnings, undefined);
      assert.deepEqual(padded?.warnings, [
        "DICOM_TRAILING_PADDING: 1000 byte(s) of zero padding after the last element",
      ]);
    }
    const written = recs.filter((r) => r.status === "written");
    assert.ok(written.length >= 2);
    for (const r of written) {
      const path = join(out, r.output as string);
      const { errors, output } = dciodvfyErrors(path);
      assert.deepEqual(errors, [], `${r.input}\n${output}`);
      // The output is written without the padding.
      assert.deepEqual(parseDicom(new Uint8Array(readFileSync(path)), { tolerate: false }).warnings, []);
    }
  });
});
