/** Helpers for the service's tests and benchmark: a seeded model bundle, test DICOM instances, loopback clients. */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseDicom, writeDicom } from "../../src/io/dicom/index.js";
import { newUid } from "../../src/radiology-reports/sr.js";
import { REPO_ROOT } from "./shared-data.js";

export { writeTestBundle } from "./bundle.js";

/**
 * Copies a DICOM file with fresh Study/Series/SOP Instance UIDs (2.25 UUID roots), so one real file yields many
 * distinct instances.
 *
 * @example
 * ```ts
 * const bytes = withNewUids(readFileSync(sharedData("dicom/pydicom/CT_small.dcm")));
 * ```
 */
export function withNewUids(
  source: Uint8Array | string,
  uids: { StudyInstanceUID?: string; SeriesInstanceUID?: string; SOPInstanceUID?: string } = {},
): Uint8Array {
  const bytes = typeof source === "string" ? new Uint8Array(readFileSync(source)) : source;
  const parsed = parseDicom(bytes);
  const sop = uids.SOPInstanceUID ?? newUid();
  parsed.dataset.setString("StudyInstanceUID", uids.StudyInstanceUID ?? newUid());
  parsed.dataset.setString("SeriesInstanceUID", uids.SeriesInstanceUID ?? newUid());
  parsed.dataset.setString("SOPInstanceUID", sop);
  parsed.meta.setString("MediaStorageSOPInstanceUID", sop);
  return writeDicom(parsed);
}

/**
 * Starts `radiolens serve --config <config>` from the source tree in a child process, as it is deployed (tests
 * that kill it, benchmarks that load it from outside).
 *
 * @example
 * ```ts
 * const child = spawnServe("/tmp/serve.json", { stderr: "pipe" });
 * ```
 */
export function spawnServe(
  config: string,
  opts: { readonly stderr?: "pipe" | "inherit"; readonly env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const code = `const { runCli } = await import("./src/cli/main.ts"); process.exitCode = await runCli(["serve", "--config", ${JSON.stringify(config)}]);`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", opts.stderr ?? "inherit"],
    env: opts.env ?? process.env,
  });
}

/**
 * Resolves with the base URL a server started by {@link spawnServe} (with `stderr: "pipe"`) announces, or rejects
 * when it exits first or stays silent for a minute.
 *
 * @example
 * ```ts
 * const url = await servedUrl(spawnServe("/tmp/serve.json", { stderr: "pipe" }));
 * ```
 */
export function servedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      const m = /HTTP (http:\/\/[0-9.]+:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}
