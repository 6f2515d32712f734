/** The list of every `radiolens` command; a new command is one entry here, its module loaded only when it runs. */
import type { Command } from "../command.js";

/**
 * A command's name, its one-line summary and how to load it: modules load on demand, so `--help` and `info` never pay
 * for tfjs or ONNX Runtime.
 */
export interface CommandEntry {
  /** Words after `radiolens`, e.g. `"train"` or `"dicom pixels"`. */
  readonly name: string;
  /** One line for the command list (printed without loading the command). */
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

/** All commands, in the order `--help` lists them. */
export const COMMAND_ENTRIES: readonly CommandEntry[] = [
  {
    name: "info",
    summary: "Show what a DICOM file or series folder, NIfTI, PNG/JPEG, .npz or MSD task folder holds",
    load: async () => (await import("./info.js")).infoCommand,
  },
  {
    name: "dicom pixels",
    summary: "Write a DICOM file's decoded stored pixel values (before any LUT) as .bin + .json",
    load: async () => (await import("./dicom-pixels.js")).dicomPixelsCommand,
  },
  {
    name: "convert",
    summary: "Convert DICOM, NIfTI, PNG or JPEG to a windowed PNG (slice or montage) or NIfTI (re-oriented)",
    load: async () => (await import("./convert.js")).convertCommand,
  },
  {
    name: "train",
    summary: "Train a model on a dataset and write a model bundle",
    load: async () => (await import("./train.js")).trainCommand,
  },
  {
    name: "benchmark medmnist",
    summary:
      "Train and evaluate the MedMNIST recipes on every .npz of a folder; Markdown + JSON table vs the paper",
    load: async () => (await import("./benchmark.js")).benchmarkMedmnistCommand,
  },
  {
    name: "evaluate",
    summary: "Evaluate a model bundle on a dataset split (clinical metrics with CIs)",
    load: async () => (await import("./evaluate.js")).evaluateCommand,
  },
  {
    name: "metrics",
    summary: "Metrics with 95% CIs (bootstrap, DeLong) for a predictions CSV",
    load: async () => (await import("./metrics.js")).metricsCommand,
  },
  {
    name: "explain",
    summary:
      "Explain a prediction: heatmap overlay PNG (Grad-CAM, Grad-CAM++, occlusion, gradients, SmoothGrad)",
    load: async () => (await import("./explain.js")).explainCommand,
  },
  {
    name: "report",
    summary:
      "Write a self-contained HTML report: dataset, metrics with CIs, plots, explained samples, model card",
    load: async () => (await import("./report.js")).reportCommand,
  },
  {
    name: "predict",
    summary: "Predict class probabilities for images with a model bundle",
    load: async () => (await import("./predict.js")).predictCommand,
  },
  {
    name: "models",
    summary: "List the model architectures",
    load: async () => (await import("./models.js")).modelsCommand,
  },
  {
    name: "export",
    summary: "Export a model bundle to ONNX (model.onnx next to the tfjs weights, recorded in the card)",
    load: async () => (await import("./export.js")).exportCommand,
  },
  {
    name: "import",
    summary: "Make a bundle from an external ONNX classifier/segmenter plus a model card",
    load: async () => (await import("./import.js")).importCommand,
  },
  {
    name: "gan train",
    summary: "Train a class-conditional DCGAN and write a sample grid",
    load: async () => (await import("./gan.js")).ganTrainCommand,
  },
  {
    name: "gan sample",
    summary: "Generate images with a trained GAN as a PNG grid",
    load: async () => (await import("./gan.js")).ganSampleCommand,
  },
  {
    name: "doctor",
    summary: "Show the compute backend, threads, ISA and library versions",
    load: async () => (await import("./doctor.js")).doctorCommand,
  },
  {
    name: "deid",
    summary:
      "De-identify DICOM (PS3.15 Annex E Basic Profile + options) into a mirrored folder with an audit",
    load: async () => (await import("./deid.js")).deidCommand,
  },
  {
    name: "reports label",
    summary: "Label chest X-ray reports: 14 findings + normal as 1/0/-1/blank, or a training manifest",
    load: async () => (await import("./reports.js")).reportsLabelCommand,
  },
  {
    name: "reports evaluate",
    summary: "Score report labels against gold labels: per-observation precision/recall/F1, micro/macro",
    load: async () => (await import("./reports.js")).reportsEvaluateCommand,
  },
  {
    name: "reports generate",
    summary:
      "Write a structured text report (en/zh) and optionally a DICOM Comprehensive SR from a prediction",
    load: async () => (await import("./reports.js")).reportsGenerateCommand,
  },
  {
    name: "batch run",
    summary: "Score a folder, manifest or DICOMweb archive with a model, resumable, with a progress bar",
    load: async () => (await import("./batch.js")).batchCommand,
  },
  {
    name: "batch submit",
    summary:
      "Queue a batch run (one job per image or instance; idempotent) in the embedded store or PostgreSQL",
    load: async () => (await import("./batch.js")).batchSubmitCommand,
  },
  {
    name: "batch work",
    summary: "Process queued batch inputs (start one per core, on any number of machines)",
    load: async () => (await import("./batch.js")).batchWorkCommand,
  },
  {
    name: "batch status",
    summary: "Show a batch run's progress: done, failed, rate, ETA",
    load: async () => (await import("./batch.js")).batchStatusCommand,
  },
  {
    name: "batch export",
    summary: "Write a batch run's results as CSV, one row per input",
    load: async () => (await import("./batch.js")).batchExportCommand,
  },
  {
    name: "serve",
    summary: "Serve models over REST, DICOMweb and DICOM C-STORE with auth and audit",
    load: async () => (await import("./serve.js")).serveCommand,
  },
];

/**
 * Loads every command (for the full command list and tests); running one command loads only its module.
 *
 * @example
 * ```ts
 * for (const c of await loadCommands()) console.log(c.name, c.summary);
 * ```
 */
export async function loadCommands(entries: readonly CommandEntry[] = COMMAND_ENTRIES): Promise<Command[]> {
  return Promise.all(entries.map((e) => e.load()));
}

/**
 * Command groups: the first word of every multi-word command (`dicom`, `gan`, `reports`), in listing order.
 *
 * @example
 * ```ts
 * commandGroups(); // ["dicom", "gan", "reports"]
 * ```
 */
export function commandGroups(entries: readonly CommandEntry[] = COMMAND_ENTRIES): string[] {
  const groups: string[] = [];
  for (const e of entries) {
    const words = e.name.split(" ");
    if (words.length > 1 && !groups.includes(words[0] as string)) groups.push(words[0] as string);
  }
  return groups;
}
