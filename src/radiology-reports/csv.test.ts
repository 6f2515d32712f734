/** Tests for the report CSV reader/writer: quoted fields with commas, quotes and newlines survive a round trip. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatCsv, parseCsv, readCsv, writeCsv } from "./csv.js";

describe("report CSV", () => {
  it("round-trips fields with newlines, commas and quotes", () => {
    const rows = [
      ["1", 'Line one, "quoted".\n\n2. Line two'],
      ["2", ""],
    ];
    const text = formatCsv(["uid", "findings"], rows);
    const back = parseCsv(text);
    assert.deepEqual(back.columns, ["uid", "findings"]);
    assert.deepEqual(
      back.rows.map((r) => [r["uid"], r["findings"]]),
      rows,
    );
    const dir = mkdtempSync(join(tmpdir(), "rl-csv-"));
    try {
      writeCsv(join(dir, "t.csv"), ["uid", "findings"], rows);
      assert.equal(readFileSync(join(dir, "t.csv"), "utf8"), text);
      assert.equal(readCsv(join(dir, "t.csv")).rows[0]?.["findings"], rows[0]![1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects ragged rows, repeated columns and missing files", () => {
    assert.throws(() => parseCsv("a,b\n1,2,3\n"), { code: "RL_ERR_TABLE_INVALID" });
    assert.throws(() => parseCsv("a,a\n1,2\n"), { code: "RL_ERR_TABLE_INVALID" });
    assert.throws(() => readCsv("/nonexistent/reports.csv"), { code: "RL_ERR_FILE_NOT_FOUND" });
  });
});
