/** De-identification benchmark: files/s of RadioLens (PS3.15 Basic Profile) against a dcmtk dcmodify baseline on the same files, as a ratio. */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { deidentifyTree, PROFILE_ROWS, parseForDeid } from "../src/deid/index.js";
import { sharedData } from "../test/support/shared-data.js";

const REPEAT = Number(process.env["RADIOLENS_BENCH_REPEAT"] ?? 8);
const SECRET = new Uint8Array(Buffer.from("bench-secret-0123456789abcdefghij"));

function parseable(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isFile())
    .filter((f) => {
      try {
        parseForDeid(new Uint8Array(readFileSync(join(dir, f))));
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

/** dcmodify arguments doing the nearest thing dcmtk offers: erase X rows everywhere, empty Z/D rows, new UIDs, no privates. */
function dcmodifyArgs(): string[] {
  const args = ["-nb", "-ie", "-imt", "-ep", "-gst", "-gse", "-gin"];
  for (const [tag, , , basic] of PROFILE_ROWS) {
    if (
      !/^[0-9A-F]{8}$/.test(tag) ||
      tag.startsWith("0002") ||
      tag.startsWith("0000") ||
      tag.startsWith("0004")
    )
      continue;
    const t = `(${tag.slice(0, 4)},${tag.slice(4)})`;
    if (basic === "X") args.push("-ea", t);
    else if (basic !== "U" && basic !== "X/Z/U*" && basic !== "K") args.push("-ma", `${t}=`);
  }
  return args;
}

function main(): void {
  const hasDcmodify = spawnSync("dcmodify", ["--version"]).status === 0;
  const src = sharedData("dicom/pydicom");
  const files = parseable(src);
  const tmp = mkdtempSync(join(tmpdir(), "rl-bench-deid-"));
  try {
    const input = join(tmp, "in");
    const copies: string[] = [];
    for (let r = 0; r < REPEAT; r++) {
      mkdirSync(join(input, `r${r}`), { recursive: true });
      for (const f of files) {
        copyFileSync(join(src, f), join(input, `r${r}`, f));
        copies.push(join(`r${r}`, f));
      }
    }
    const n = copies.length;
    const bytes = copies.reduce((s, f) => s + statSync(join(input, f)).size, 0);
    console.log(
      `de-identification benchmark: ${n} files (${files.length} parseable pydicom files × ${REPEAT}), ${(bytes / 2 ** 20).toFixed(1)} MiB`,
    );

    const timeTree = async (workers: number, out: string, durable = true) => {
      const t0 = performance.now();
      const s = await deidentifyTree(input, join(tmp, out), {
        secret: SECRET,
        keepBurnedIn: true,
        workers,
        durable,
      });
      const sec = (performance.now() - t0) / 1000;
      if (s.written + s.quarantined + s.failed !== n) throw new Error("not every file was processed");
      return { sec, written: s.written };
    };
    return void (async () => {
      const one = await timeTree(0, "out-1");
      const threads = availableParallelism();
      const many = await timeTree(threads, "out-n");
      const fast = await timeTree(0, "out-nofsync", false);
      const fastMany = await timeTree(threads, "out-nofsync-n", false);
      const rlOne = n / one.sec;
      const rlMany = n / many.sec;
      const rlFast = n / fast.sec;
      console.log(
        `RadioLens, 1 thread, fsync per file:    ${rlOne.toFixed(1)} files/s (${one.written} written)`,
      );
      console.log(`RadioLens, ${threads} workers, fsync per file:    ${rlMany.toFixed(1)} files/s`);
      console.log(
        `RadioLens, 1 thread, durable: false:    ${rlFast.toFixed(1)} files/s (atomic rename, no fsync, as dcmodify)`,
      );
      console.log(
        `RadioLens, ${threads} workers, durable: false:    ${(n / fastMany.sec).toFixed(1)} files/s (includes worker start-up)`,
      );
      if (!hasDcmodify) {
        console.log("dcmodify (dcmtk) not installed: no baseline; apt-get install dcmtk");
        return;
      }
      const dcmDir = join(tmp, "dcmodify");
      for (const f of copies) {
        mkdirSync(join(dcmDir, f, ".."), { recursive: true });
        copyFileSync(join(input, f), join(dcmDir, f));
      }
      const args = dcmodifyArgs();
      const t0 = performance.now();
      // dcmodify edits in place, one process over all files in chunks (its own command line limit).
      for (let i = 0; i < copies.length; i += 200) {
        const chunk = copies.slice(i, i + 200).map((f) => join(dcmDir, f));
        try {
          execFileSync("dcmodify", [...args, ...chunk], { stdio: "ignore" });
        } catch {
          // -ie keeps going per file; a non-zero exit only says some file had an error.
        }
      }
      const dcmSec = (performance.now() - t0) / 1000;
      const dcm = n / dcmSec;
      console.log(
        `dcmtk dcmodify, 1 process, no fsync:       ${dcm.toFixed(1)} files/s (${args.length} arguments per call)`,
      );
      console.log(
        `ratio RadioLens/dcmodify: ${(rlFast / dcm).toFixed(2)}× like for like (1 thread, no fsync); ` +
          `${(rlOne / dcm).toFixed(2)}× with fsync; ${(rlMany / dcm).toFixed(2)}× with ${threads} workers and fsync`,
      );
      console.log(
        "note: dcmodify's baseline erases/empties the same Table E.1-1 tags but does not recurse by rule, remap referenced UIDs consistently, shift dates, quarantine or audit",
      );
    })().finally(() => rmSync(tmp, { recursive: true, force: true }));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

main();
