/** Transforms benchmark: resize, affine, flip and z-score on the niivue FLAIR volume against PyTorch 1.13 in the same run (speed ratio and max |diff|). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImage, type MedicalImage } from "../src/core/image.js";
import { readNifti } from "../src/io/nifti/index.js";
import { affine, appliedOperations, flip, normalize, resize } from "../src/transforms/index.js";
import { sharedData } from "../test/support/shared-data.js";

const REPEATS = Number(process.env["RADIOLENS_BENCH_REPEATS"] ?? 5);
const PYTHON = process.env["RADIOLENS_PYTHON"] ?? "/usr/bin/python3";

function best(fn: () => MedicalImage): { out: MedicalImage; seconds: number } {
  let out = fn();
  let t = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    out = fn();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return { out, seconds: t };
}

function maxDiff(a: ArrayLike<number>, b: Float32Array): number {
  if (a.length !== b.length) return Number.NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function main(): void {
  const flair = readNifti(sharedData("nifti", "niivue", "FLAIR.nii.gz"));
  const vol = createImage(Float32Array.from(flair.data), flair.shape, flair);
  const [d, h, w] = vol.shape as [number, number, number, number];
  const resizeTo = [96, 128, 112];
  const rot = affine({ rotate: [0.1, -0.15, 0.2], scale: [1.05, 0.95, 1], translate: [2, -3, 1] });
  const ours: Record<string, { out: MedicalImage; seconds: number }> = {
    resize: best(() => resize({ size: resizeTo })(vol)),
    affine: best(() => rot(vol)),
    flip: best(() => flip({ axes: [2] })(vol)),
    normalize: best(() => normalize()(vol)),
  };
  // grid_sample (align_corners=True) takes normalized coordinates: theta = N_in · [A | b] · N_out⁻¹.
  const op = appliedOperations(ours["affine"]!.out)[0]!;
  const n = [w, h, d];
  const s = n.map((k) => (k - 1) / 2);
  const theta: number[] = [];
  for (let r = 0; r < 3; r++) {
    let t = op.offset[r]!;
    for (let c = 0; c < 3; c++) {
      theta.push((op.matrix[r * 3 + c]! * s[c]!) / s[r]!);
      t += op.matrix[r * 3 + c]! * s[c]!;
    }
    theta.push(t / s[r]! - 1);
  }
  const dir = mkdtempSync(join(tmpdir(), "radiolens-bench-transforms-"));
  try {
    const input = join(dir, "in.f32");
    writeFileSync(input, new Uint8Array(vol.data.buffer));
    const job = join(dir, "job.json");
    writeFileSync(
      job,
      JSON.stringify({
        input,
        shape: [d, h, w],
        repeats: REPEATS,
        out: dir,
        resize: resizeTo,
        affine: { theta },
      }),
    );
    const r = spawnSync(PYTHON, [join(import.meta.dirname, "transforms_torch.py"), job], {
      encoding: "utf8",
    });
    const peer =
      r.status === 0
        ? (JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, number | string>)
        : null;
    console.log(
      `FLAIR ${d}x${h}x${w} float32, best of ${REPEATS}; peer: ${peer === null ? `unavailable (${r.stderr?.slice(0, 200)})` : `PyTorch ${peer["torch"]}, ${peer["threads"]} thread`}; RadioLens: 1 thread`,
    );
    console.log("op          RadioLens ms   PyTorch ms   speed ratio (torch/ours)   max |diff|");
    for (const [name, res] of Object.entries(ours)) {
      const pt = peer?.[name];
      const diff =
        peer === null
          ? Number.NaN
          : maxDiff(res.out.data, new Float32Array(readFileSync(join(dir, `${name}.f32`)).buffer));
      const line = [
        name.padEnd(12),
        (res.seconds * 1000).toFixed(1).padStart(12),
        (typeof pt === "number" ? (pt * 1000).toFixed(1) : "-").padStart(12),
        (typeof pt === "number" ? (pt / res.seconds).toFixed(2) : "-").padStart(27),
        diff.toExponential(2).padStart(12),
      ];
      console.log(line.join(" "));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
