/** Test helper: the Error lines dicom3tools' `dciodvfy` reports for a DICOM file (IOD conformance, PS3.3). */
import { spawnSync } from "node:child_process";

/**
 * Runs `dciodvfy` (Debian `dicom3tools`, installed by scripts/setup.sh) on a file and returns its "Error" lines.
 * A missing tool is a failure, not a skip: every object RadioLens writes must be checked on every machine.
 *
 * @throws Error when dciodvfy is not installed.
 * @example
 * ```ts
 * assert.deepEqual(dciodvfyErrors("/tmp/sc.dcm"), []);
 * ```
 */
export function dciodvfyErrors(path: string): { errors: string[]; output: string } {
  const r = spawnSync("dciodvfy", [path], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  if (r.error)
    throw new Error(`dciodvfy cannot run (${r.error.message}); run scripts/setup.sh (dicom3tools)`);
  const output = `${r.stdout}${r.stderr}`;
  return { errors: output.split("\n").filter((l) => l.startsWith("Error")), output };
}
