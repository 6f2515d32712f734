import { RadioLensError } from "../../core/errors.js";
import { readFileBytes } from "../../core/fs.js";
import { importOnnx } from "../../models/onnx/import.js";
import { type Command, str } from "../command.js";

/**
 * `radiolens import`: an ONNX model plus its card as a RadioLens bundle.
 *
 * @example
 * ```ts
 * await runCli(["import", "--onnx", "model.onnx", "--card", "card.json", "--out", "models/imported"]);
 * ```
 */
export const importCommand: Command = {
  help: `Usage: radiolens import --onnx model.onnx --card card.json --out DIR

The card gives labels, task, input layout (NCHW/NHWC) and size, window (center/width or preset),
preprocessing, normalization and output activation (docs/onnx.md). The model's input/output names, ranks
and sizes are checked against the card; a malformed file or a contradicting card is refused, naming the
mismatch. The model file is copied unchanged; the bundle runs on ONNX Runtime.`,
  options: { onnx: { type: "string" }, card: { type: "string" }, out: { type: "string" } },
  async run(args, io) {
    const onnxPath = str(args, "onnx");
    const cardPath = str(args, "card");
    const out = str(args, "out");
    if (!onnxPath || !cardPath || !out) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--onnx, --card and --out are required" });
    }
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
};
