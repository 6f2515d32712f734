/** `radiolens predict`: reads images, converts them to the model's input spec and prints class probabilities. */
import { basename } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import { type BackendName, initEngine } from "../../engine/backend.js";
import { readImage } from "../../io/index.js";
import { readCard } from "../../models/bundle.js";
import {
  openBundle,
  parseRuntime,
  pickRuntime,
  predictBundleImages,
} from "../../models/onnx/bundle-runtime.js";
import { type Command, flag, str } from "../command.js";

/**
 * `radiolens predict`: class probabilities for images with a model bundle.
 *
 * @example
 * ```ts
 * await runCli(["predict", "--model", "runs/demo", "xray.png", "--json"]);
 * ```
 */
export const predictCommand: Command = {
  name: "predict",
  summary: "Predict class probabilities for images with a model bundle",
  help: `Usage: radiolens predict --model DIR <image...> [--json] [--backend NAME] [--runtime tfjs|onnx]

Images of any size and channel count (PNG, JPEG, and every other registered format) are converted to the
model's input spec by the preprocessing recorded in its bundle. --runtime: ONNX Runtime by default when the
bundle has model.onnx (threads: RADIOLENS_THREADS), else tfjs on --backend.`,
  options: {
    model: { type: "string" },
    json: { type: "boolean" },
    backend: { type: "string" },
    runtime: { type: "string" },
  },
  allowPositionals: true,
  async run(args, io) {
    const dir = str(args, "model");
    if (!dir) throw new RadioLensError("RL_ERR_USAGE", { detail: "--model is required" });
    if (args.positionals.length === 0)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give at least one image file" });
    const backend = str(args, "backend") as BackendName | undefined;
    const cardOnly = readCard(dir);
    const runtime = pickRuntime(cardOnly, parseRuntime(str(args, "runtime")));
    if (runtime === "tfjs") await initEngine(backend ? { backend } : {});
    // DICOM is rendered to the model's training intensity domain (see ModelCard.input.intensity).
    const dicom = cardOnly.input.intensity === "modality" ? "modality" : "display";
    const images = [];
    for (const p of args.positionals) images.push(await readImage(p, { dicom }));
    const m = await openBundle(dir, { runtime });
    const card = m.card;
    const preds = await predictBundleImages(m, images).finally(() => m.close());
    if (flag(args, "json")) {
      const out = {
        model: { name: card.name, version: card.version, labels: card.labels },
        predictions: preds.map((p, i) => ({ file: args.positionals[i], ...p })),
      };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    preds.forEach((p, i) => {
      const probs = Object.entries(p.probabilities)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join("  ");
      io.stdout(`${basename(args.positionals[i] as string)}: ${p.label}  (${probs})\n`);
    });
    return 0;
  },
};
