/** Test helper: PixelMed's DicomSRValidator (Debian `pixelmed-apps`), which checks an SR against its IOD and its root template (e.g. TID 1500). */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

const JAR = "/usr/share/java/pixelmed.jar";

/**
 * Validates one SR file and resolves with the validator's "Error" lines and its whole output. The XPath limits
 * of current JDKs are lifted (the validator's stylesheets exceed the default 10,000 operators, which fails
 * `/usr/bin/DicomSRValidator` as packaged). A missing validator is a failure: scripts/setup.sh installs it.
 *
 * @throws Error when pixelmed or java is not installed.
 * @example
 * ```ts
 * const r = await pixelmedSrErrors("/tmp/sr.dcm");
 * assert.deepEqual(r.errors, []);
 * ```
 */
export function pixelmedSrErrors(path: string): Promise<{ errors: string[]; output: string }> {
  if (!existsSync(JAR)) throw new Error(`${JAR} is missing: run scripts/setup.sh (pixelmed-apps)`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      "java",
      [
        "-Djdk.xml.xpathExprOpLimit=0",
        "-Djdk.xml.xpathExprGrpLimit=0",
        "-Djdk.xml.xpathTotalOpLimit=0",
        "-cp",
        JAR,
        "com.pixelmed.validate.DicomSRValidator",
        path,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString("latin1");
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString("latin1");
    });
    child.on("error", reject);
    child.on("close", () => {
      if (!/IOD validation complete/.test(output))
        reject(new Error(`DicomSRValidator did not finish: ${output}`));
      else resolve({ errors: output.split("\n").filter((l) => /^Error/.test(l)), output });
    });
  });
}
