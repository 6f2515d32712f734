/**
 * Memory check for streaming training: generates a folder of 100,000 small PNGs, trains on it for a bounded time
 * and prints the peak RSS against the 1.5 GB budget, with PyTorch's in-memory footprint for the same images as the
 * reference point. Usage: npm run bench:train-rss [-- --images 100000 --seconds 120]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createImage } from "../src/core/image.js";
import { Rng } from "../src/core/rng.js";
import { encodePng } from "../src/io/image/index.js";
import { trainModel } from "../src/train/run.js";

const { values } = parseArgs({
  options: {
    images: { type: "string" },
    seconds: { type: "string" },
    dir: { type: "string" },
    "generate-only": { type: "boolean" },
  },
});
const count = Number(values.images ?? 100_000);
const seconds = Number(values.seconds ?? 120);
const root = values.dir ?? join(tmpdir(), `rl-rss-${count}`);
const data = join(root, "data");

if (!values["generate-only"] && !existsSync(join(data, "done"))) {
  // Generate in a child process: the encoder's garbage would otherwise inflate this process's peak RSS.
  execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      new URL(import.meta.url).pathname,
      "--generate-only",
      "--images",
      String(count),
      "--dir",
      root,
    ],
    {
      stdio: "inherit",
    },
  );
}
if (values["generate-only"]) {
  const rng = new Rng(1);
  for (const cls of ["normal", "abnormal"]) mkdirSync(join(data, cls), { recursive: true });
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const cls = i % 2 === 0 ? "normal" : "abnormal";
    const px = new Uint8Array(28 * 28);
    for (let p = 0; p < px.length; p++) px[p] = rng.int(0, 200) + (cls === "abnormal" && p < 392 ? 55 : 0);
    writeFileSync(join(data, cls, `img${i}.png`), encodePng(createImage(px, [28, 28, 1])));
  }
  writeFileSync(join(data, "done"), "");
  console.log(`generated ${count} PNGs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(0);
}

let peak = 0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage.rss());
};
const timer = setInterval(sample, 200);
const started = performance.now();
const out = join(root, `model-${Date.now()}`);
const r = await trainModel(
  { data, model: "seed-cnn", epochs: 1, batchSize: 64, seed: 1, out, inputSize: [28, 28] },
  [
    {
      onBatchEnd(ctx) {
        sample();
        if (performance.now() - started > seconds * 1000) ctx.stopTraining = true;
      },
    },
  ],
);
clearInterval(timer);
sample();
const steps = r.state.step;
// What holding every image in memory as float32 would take (the approach this streaming avoids).
const inMemory = (count * 28 * 28 * 4) / 2 ** 20;
const torchRss =
  Number(
    execFileSync("/usr/bin/python3", [
      "-c",
      `import numpy as np, resource\nx = np.zeros((${count}, 1, 28, 28), np.float32); x += 1\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)`,
    ]).toString(),
  ) / 1024;
console.log(`images in folder      ${count}`);
console.log(
  `steps trained         ${steps} (${steps * 64} images, ${((performance.now() - started) / 1000).toFixed(0)} s)`,
);
console.log(
  `peak RSS              ${(peak / 2 ** 20).toFixed(0)} MiB (budget 1536 MiB: ${peak < 1.5 * 2 ** 30 ? "OK" : "OVER"})`,
);
console.log(
  `all images as float32 ${inMemory.toFixed(0)} MiB; a Python process holding them: ${torchRss.toFixed(0)} MiB peak RSS`,
);
console.log(`ratio peak RSS / in-memory Python: ${(peak / 2 ** 20 / torchRss).toFixed(2)}`);
