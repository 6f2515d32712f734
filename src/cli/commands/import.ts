/** `radiolens import`: an external ONNX classifier or segmenter plus its model card as a RadioLens bundle. */
import { RadioLensError } from "../../core/errors.js";
import { readFileBytes } from "../../core/fs.js";
import { importOnnx } from "../../models/onnx/import.js";
import { type Command, defineCommand } from "../command.js";
import { string } from "../options.js";

/**
 * `radiolens import`: an ONNX model plus its card as a RadioLens bundle.
 *
 * @example
 * ```ts
 * await runCli(["import", "--onnx", "model.onnx", "--card", "card.json", "--out", "models/imported"]);
 * ```
 */
export const importCommand: Command = defineCommand({
  usage: "radiolens import --onnx model.onnx --card card.json --out DIR",
  description: `The card gives labels, task, input layout (NCHW/NHWC) and size, window (center/width or preset),
preprocessing, normalization and output activation (docs/onnx.md). The model's input/output names, ranks
and sizes are checked against the card; a malformed file or a contradicting card is refused, naming the
mismatch. The model file is copied unchanged; the bundle runs on ONNX Runtime.`,
  options: {
    onnx: string("FILE", "the ONNX model", { required: true }),
    card: string("FILE", "its model card (JSON)", { required: true }),
    out: string("DIR", "bundle folder written", { required: true }),
  },
  async run({ values }, io) {
    const { onnx: onnxPath, card: cardPath, out } = values;
    let card: unknown;
    try {
      card = JSON.parse(readFileBytes(cardPath).toString("utf8"));
    } catch (e) {
      if (e instanceof RadioLensError) throw e;
      throw new RadioLensError("RL_ERR_CARD_INVALID", {
        path: cardPath,
        detail: `not JSON (${(e as Error).message})`,
      });
    }
    const r = await importOnnx(readFileBytes(onnxPath), card, out, { onnxPath, cardPath });
    io.stdout(
      `imported ${r.card.name} (${r.card.task}, ${r.card.labels.length} labels, opset ${r.opset}${r.producer ? `, ${r.producer}` : ""}) into ${r.dir}: input '${r.inputName}' ${r.card.input.layout} [${r.card.input.shape.join(", ")}], output '${r.outputName}'\n`,
    );
    return 0;
  },
});
