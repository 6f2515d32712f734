/** `radiolens explain`: parses flags and calls explainFile() — a heatmap overlay PNG on the original image's grid. */
import { RadioLensError } from "../../core/errors.js";
import type { BackendName } from "../../engine/backend.js";
import { parseColormap } from "../../explain/colormaps.js";
import { explainFile, parseMethod } from "../../explain/explain.js";
import { EXPLAIN_METHODS } from "../../explain/heatmap.js";
import { type Command, str } from "../command.js";

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new RadioLensError("RL_ERR_USAGE", { detail: `--${name} must be a number, got '${v}'` });
  return n;
}

/**
 * `radiolens explain`.
 *
 * @example
 * ```ts
 * await explainCommand.run({ values: { model: "m", out: "heat.png" }, positionals: ["cxr.png"] }, io);
 * ```
 */
export const explainCommand: Command = {
  help: `Usage: radiolens explain --model DIR <image> --out heat.png [--method ${EXPLAIN_METHODS.join("|")}]
       [--layer NAME] [--class K|LABEL] [--opacity 0.4] [--colormap jet|inferno|viridis]
       [--samples 25] [--noise 0.15] [--seed 0] [--patch N] [--stride N] [--backend NAME]

Writes the image with the heatmap blended over it, on the ORIGINAL image's pixel grid. Default method gradcam
on the last convolutional feature map (--layer picks another); default class: the predicted one.
SmoothGrad: --samples noisy copies with noise σ = --noise × the input's range, seeded by --seed.
Occlusion: --patch/--stride in model-input pixels.`,
  allowPositionals: true,
  options: {
    model: { type: "string" },
    out: { type: "string", short: "o" },
    method: { type: "string" },
    layer: { type: "string" },
    class: { type: "string" },
    opacity: { type: "string" },
    colormap: { type: "string" },
    samples: { type: "string" },
    noise: { type: "string" },
    seed: { type: "string" },
    patch: { type: "string" },
    stride: { type: "string" },
    backend: { type: "string" },
  },
  async run(args, io) {
    const model = str(args, "model");
    const out = str(args, "out");
    const image = args.positionals[0];
    if (!model || !out || !image || args.positionals.length !== 1)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give --model DIR, one image and --out FILE.png" });
    const method = parseMethod(str(args, "method") ?? "gradcam");
    const colormap = str(args, "colormap");
    const layer = str(args, "layer");
    const cls = str(args, "class");
    const backend = str(args, "backend") as BackendName | undefined;
    const numbers = {
      opacity: num("opacity", str(args, "opacity")),
      samples: num("samples", str(args, "samples")),
      noiseLevel: num("noise", str(args, "noise")),
      seed: num("seed", str(args, "seed")),
      patch: num("patch", str(args, "patch")),
      stride: num("stride", str(args, "stride")),
    };
    const r = await explainFile({
      model,
      image,
      out,
      method,
      ...(layer ? { layer } : {}),
      ...(cls !== undefined ? { classIndex: cls } : {}),
      ...(colormap ? { colormap: parseColormap(colormap) } : {}),
      ...(backend ? { backend } : {}),
      ...Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined)),
    });
    io.stdout(
      `${r.method} on ${r.layer}: class ${r.classIndex} (${r.label}) p=${r.score.toFixed(4)} → ${r.out} (${r.cols}×${r.rows})\n`,
    );
    return 0;
  },
};
