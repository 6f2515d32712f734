/** `radiolens explain`: parses flags and calls explainFile() — a heatmap overlay PNG on the original image's grid. */
import { RadioLensError } from "../../core/errors.js";
import { COLORMAPS, type ColormapName } from "../../explain/colormaps.js";
import { explainFile } from "../../explain/explain.js";
import { EXPLAIN_METHODS } from "../../explain/heatmap.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, int, num, oneOf, string } from "../options.js";

/**
 * `radiolens explain`.
 *
 * @example
 * ```ts
 * await explainCommand.run({ values: { model: "m", out: "heat.png" }, positionals: ["cxr.png"] }, io);
 * ```
 */
export const explainCommand: Command = defineCommand({
  usage: `radiolens explain --model DIR <image> --out heat.png [--method ${EXPLAIN_METHODS.join("|")}]
       [--layer NAME] [--class K|LABEL] [--opacity 0.4] [--colormap jet|inferno|viridis]
       [--samples 25] [--noise 0.15] [--seed 0] [--patch N] [--stride N] [--backend NAME]`,
  description: `Writes the image with the heatmap blended over it, on the ORIGINAL image's pixel grid. Default method gradcam
on the last convolutional feature map (--layer picks another); default class: the predicted one.
SmoothGrad: --samples noisy copies with noise σ = --noise × the input's range, seeded by --seed.
Occlusion: --patch/--stride in model-input pixels.`,
  positionals: true,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    out: string("FILE", "output PNG", { required: true, short: "o" }),
    method: oneOf(EXPLAIN_METHODS, "explanation method", { default: "gradcam" }),
    layer: string("NAME", "layer whose feature map is explained (default: the last convolutional one)"),
    class: string("K|LABEL", "class index or label explained (default: the predicted one)"),
    opacity: num("X", "heatmap opacity (default 0.4)", { min: 0, max: 1 }),
    colormap: oneOf(Object.keys(COLORMAPS) as ColormapName[], "heatmap colours (default jet)"),
    samples: int("N", "SmoothGrad: noisy copies (default 25)", { min: 1 }),
    noise: num("X", "SmoothGrad: noise σ as a fraction of the input's range (default 0.15)", { min: 0 }),
    seed: int("S", "SmoothGrad noise seed (default 0)", { min: 0 }),
    patch: int("N", "occlusion patch size in model-input pixels", { min: 1 }),
    stride: int("N", "occlusion stride in model-input pixels", { min: 1 }),
    backend: backendOption,
  },
  async run({ values, positionals }, io) {
    const image = positionals[0];
    if (!image || positionals.length !== 1)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give --model DIR, one image and --out FILE.png" });
    const { layer, class: cls, colormap, backend } = values;
    const numbers = {
      opacity: values.opacity,
      samples: values.samples,
      noiseLevel: values.noise,
      seed: values.seed,
      patch: values.patch,
      stride: values.stride,
    };
    const r = await explainFile({
      model: values.model,
      image,
      out: values.out,
      method: values.method,
      ...(layer ? { layer } : {}),
      ...(cls !== undefined ? { classIndex: cls } : {}),
      ...(colormap ? { colormap } : {}),
      ...(backend ? { backend } : {}),
      ...Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined)),
    });
    io.stdout(
      `${r.method} on ${r.layer}: class ${r.classIndex} (${r.label}) p=${r.score.toFixed(4)} → ${r.out} (${r.cols}×${r.rows})\n`,
    );
    return 0;
  },
});
