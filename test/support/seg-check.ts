/** Test helper: decodes a DICOM Segmentation with pydicom (test/support/seg_check.py) and compares it with the expected mask. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SourceSeries } from "../../src/results/source.js";
import { REPO_ROOT } from "./shared-data.js";

const PYTHON = process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";

/** What seg_check.py reports. */
export interface SegCheck {
  readonly ok: boolean;
  readonly frames: number;
  readonly mismatches: number;
  readonly type: string;
  readonly problems: readonly string[];
}

/**
 * Runs the pydicom check on a SEG file: `expected` is the uint8 label volume (binary) or the quantized maps of
 * every segment concatenated (fractional); `labelValues[i]` is the label value of segment i + 1.
 *
 * @throws Error when python3 with pydicom is missing (scripts/setup.sh installs it): a missing peer fails.
 * @example
 * ```ts
 * assert.ok(pydicomSegCheck(segBytes, series, [1, 2], labels).ok);
 * ```
 */
export function pydicomSegCheck(
  seg: Uint8Array,
  series: SourceSeries,
  labelValues: readonly number[],
  expected: Uint8Array,
): SegCheck {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup.sh (python3-pydicom)`);
  const dir = mkdtempSync(join(tmpdir(), "rl-segcheck-"));
  try {
    writeFileSync(join(dir, "seg.dcm"), seg);
    writeFileSync(join(dir, "expected.raw"), expected);
    writeFileSync(
      join(dir, "spec.json"),
      JSON.stringify({
        sources: series.images.map((i) => ({
          uid: i.SOPInstanceUID,
          position: i.ImagePositionPatient ?? null,
        })),
        labelValues,
        rows: series.Rows,
        columns: series.Columns,
      }),
    );
    const r = spawnSync(
      PYTHON,
      [
        join(REPO_ROOT, "test/support/seg_check.py"),
        ...["seg.dcm", "spec.json", "expected.raw"].map((f) => join(dir, f)),
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`seg_check.py failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as SegCheck;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
