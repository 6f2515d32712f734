/** `radiolens predict`: reads images, converts them to the model's input spec and prints class probabilities. */
import { basename } from "node:path";
import { RadioLensError } from "../../core/errors.js";
import { initEngine } from "../../engine/backend.js";
import { readImage } from "../../io/index.js";
import { readCard } from "../../models/bundle.js";
import {
  checkIntendedUse,
  gateDecision,
  intendedUseOf,
  oodDecision,
  type SafetyDecision,
} from "../../models/intended-use.js";
import { openBundle, pickRuntime, predictBundleImages } from "../../models/onnx/bundle-runtime.js";
import { predictSegmentationFiles } from "../../train/seg3d.js";
import { type Command, defineCommand } from "../command.js";
import { backendOption, flag, runtimeOption, string } from "../options.js";

/**
 * `radiolens predict`: class probabilities for images with a model bundle.
 *
 * @example
 * ```ts
 * await runCli(["predict", "--model", "runs/demo", "xray.png", "--json"]);
 * ```
 */
export const predictCommand: Command = defineCommand({
  usage: "radiolens predict --model DIR <image...> [--json] [--force] [--backend NAME] [--runtime tfjs|onnx]",
  description: `Images of any size and channel count (PNG, JPEG, and every other registered format) are converted to the
model's input spec by the preprocessing recorded in its bundle. --runtime: ONNX Runtime by default when the
bundle has model.onnx (threads: RADIOLENS_THREADS), else tfjs on --backend.

An image outside the card's intended use (e.g. an MR for a chest X-ray model) or out of distribution (OOD score
above the card's threshold) is not analysed: it is listed with the reason and the exit code is 3. --force
analyses it anyway and marks the result "forced". Probabilities are calibrated (temperature in the card).`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    json: flag("print the predictions as JSON"),
    force: flag('analyse images outside the intended use or out of distribution, marked "forced"'),
    backend: backendOption,
    runtime: runtimeOption,
    out: string("FILE", "3D segmentation bundles: where the label map goes (mask.nii.gz)"),
    "no-mirror": flag("3D segmentation bundles: skip the mirroring test-time augmentation"),
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const dir = values.model;
    if (positionals.length === 0)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give at least one image file" });
    const backend = values.backend;
    const cardOnly = readCard(dir);
    if (cardOnly.architecture === "unet3d") {
      const out = values.out;
      if (!out || positionals.length !== 1)
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: "a 3D segmentation bundle takes one volume and --out mask.nii.gz",
        });
      const [r] = await predictSegmentationFiles(dir, [{ input: positionals[0] as string, output: out }], {
        mirror: !values["no-mirror"],
        ...(backend ? { backend } : {}),
      });
      if (values.json) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      else
        io.stdout(
          `${out}: ${Object.entries(r?.voxels ?? {})
            .map(([k, v]) => `${k} ${v} voxels`)
            .join(", ")}\n`,
        );
      return 0;
    }
    const runtime = pickRuntime(cardOnly, values.runtime);
    if (runtime === "tfjs") await initEngine(backend ? { backend } : {});
    // DICOM is rendered to the model's training intensity domain (see ModelCard.input.intensity).
    const dicom = cardOnly.input.intensity === "modality" ? "modality" : "display";
    const images = [];
    for (const p of positionals) images.push(await readImage(p, { dicom }));
    const force = values.force;
    const inputs = intendedUseOf(cardOnly).inputs;
    const gates = images.map((img) => gateDecision(checkIntendedUse(inputs, img), force));
    const toRun = images.filter((_, i) => gates[i]?.analysed);
    const m = await openBundle(dir, { runtime });
    const card = m.card;
    const preds = toRun.length > 0 ? await predictBundleImages(m, toRun).finally(() => m.close()) : [];
    if (toRun.length === 0) await m.close();
    let next = 0;
    const results = images.map((_, i) => {
      const gate = gates[i] as SafetyDecision;
      const file = positionals[i] as string;
      if (!gate.analysed) return { file, analysed: false as const, decision: gate };
      const p = preds[next++] as (typeof preds)[number];
      const od = oodDecision(card.ood, p.ood, force);
      if (!od.analysed) return { file, analysed: false as const, decision: od, ood: p.ood };
      const forced = gate.forced || od.forced;
      const notes = [gate.reason, od.reason].filter((r): r is string => r !== undefined);
      return { file, analysed: true as const, prediction: p, forced: forced === true, notes };
    });
    const refused = results.some((r) => !r.analysed);
    if (values.json) {
      const out = {
        model: { name: card.name, version: card.version, labels: card.labels },
        predictions: results.map((r) =>
          r.analysed
            ? {
                file: r.file,
                analysed: true,
                ...r.prediction,
                ...(r.forced ? { forced: true } : {}),
                ...(r.notes.length ? { notes: r.notes } : {}),
              }
            : {
                file: r.file,
                analysed: false,
                code: r.decision.code,
                reason: r.decision.reason,
                ...(r.ood ? { ood: r.ood } : {}),
              },
        ),
      };
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      return refused ? 3 : 0;
    }
    for (const r of results) {
      const name = basename(r.file);
      if (!r.analysed) {
        io.stdout(`${name}: not analysed: ${r.decision.reason}\n`);
        continue;
      }
      const probs = Object.entries(r.prediction.probabilities)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join("  ");
      const ood = r.prediction.ood
        ? `  ood ${r.prediction.ood.score.toFixed(3)}/${r.prediction.ood.threshold.toFixed(3)}`
        : "";
      const mark = r.forced
        ? `  [forced: ${r.notes.join("; ")}]`
        : r.notes.length
          ? `  [${r.notes.join("; ")}]`
          : "";
      io.stdout(`${name}: ${r.prediction.label}  (${probs})${ood}${mark}\n`);
    }
    return refused ? 3 : 0;
  },
});
