/** NIfTI benchmark: read time of every NIfTI file of ../shared/data/nifti against nibabel in the same run, with a value check (voxel sum). */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readNifti } from "../src/io/nifti/index.js";
import { sharedData } from "../test/support/shared-data.js";

const REPEATS = Number(process.env["RADIOLENS_BENCH_REPEATS"] ?? 5);
const PYTHON = process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";

function main(): void {
  const files = ["nibabel", "niivue"].flatMap((d) =>
    readdirSync(sharedData("nifti", d))
      .filter((f) => f.endsWith(".nii") || f.endsWith(".nii.gz"))
      .map((f) => sharedData("nifti", d, f)),
  );
  const r = spawnSync(PYTHON, [join(import.meta.dirname, "nifti_nibabel.py"), String(REPEATS), ...files], {
    encoding: "utf8",
  });
  const peer =
    r.status === 0
      ? (JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
          nibabel: string;
          files: Record<string, { seconds: number; sum: number }>;
        })
      : null;
  console.log(
    `best of ${REPEATS}; peer: ${peer === null ? `unavailable (${(r.stderr ?? "").slice(0, 160)})` : `nibabel ${peer.nibabel}`}`,
  );
  console.log(
    "file                          RadioLens ms   nibabel ms   speed ratio (nibabel/ours)   same sum",
  );
  let ours = 0;
  let theirs = 0;
  let agree = 0;
  for (const f of files) {
    let best = Number.POSITIVE_INFINITY;
    let sum = 0;
    for (let k = 0; k <= REPEATS; k++) {
      const t0 = performance.now();
      const img = readNifti(f);
      const dt = (performance.now() - t0) / 1000;
      if (k > 0) best = Math.min(best, dt);
      sum = 0;
      for (let i = 0; i < img.data.length; i++) {
        const v = img.data[i] as number;
        if (!Number.isNaN(v)) sum += v;
      }
    }
    const p = peer?.files[f];
    const same =
      p === undefined ? "-" : Math.abs(p.sum - sum) <= 1e-6 * Math.max(1, Math.abs(p.sum)) ? "yes" : "NO";
    if (same === "yes") agree++;
    ours += best;
    theirs += p?.seconds ?? 0;
    console.log(
      [
        f.split("/").pop()!.padEnd(28),
        (best * 1000).toFixed(2).padStart(13),
        (p === undefined ? "-" : (p.seconds * 1000).toFixed(2)).padStart(12),
        (p === undefined ? "-" : (p.seconds / best).toFixed(2)).padStart(29),
        same.padStart(10),
      ].join(" "),
    );
  }
  console.log(
    `total ${(ours * 1000).toFixed(1)} ms vs ${(theirs * 1000).toFixed(1)} ms: ratio ${peer === null ? "-" : (theirs / ours).toFixed(2)}; values agree on ${agree}/${files.length} files`,
  );
}

main();
