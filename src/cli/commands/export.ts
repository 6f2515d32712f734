/** `radiolens export`: writes a bundle's model in another format (ONNX) next to its tfjs weights. */
import { initEngine } from "../../engine/backend.js";
import { exportBundleOnnx } from "../../models/onnx/bundle-runtime.js";
import { type Command, defineCommand } from "../command.js";
import { oneOf, string } from "../options.js";

/**
 * `radiolens export`: writes `model.onnx` beside a bundle, checked against tfjs.
 *
 * @example
 * ```ts
 * await runCli(["export", "--model", "runs/demo", "--format", "onnx"]);
 * ```
 */
export const exportCommand: Command = defineCommand({
  usage: "radiolens export --model DIR --format onnx",
  description: `Writes DIR/model.onnx (opset 13, dynamic batch, NHWC input as in radiolens.json) and records it in
radiolens.json; the export runs 8 random inputs through tfjs and ONNX Runtime and writes nothing unless they agree
within 1e-4. Afterwards predict, evaluate and serve use ONNX Runtime unless given --runtime tfjs.`,
  options: {
    model: string("DIR", "model bundle", { required: true }),
    format: oneOf(["onnx"], "output format", { default: "onnx" }),
  },
  async run({ values }, io) {
    await initEngine({});
    const r = await exportBundleOnnx(values.model);
    io.stdout(
      `wrote ${r.path} (${r.nodes} nodes, ${(r.bytes / 1e6).toFixed(2)} MB; max |tfjs − ONNX Runtime| ${r.maxAbsDiff.toExponential(2)})\n`,
    );
    return 0;
  },
});
