/** The list of every `radiolens` command; a new command is one entry here, its module loaded only when it runs. */
import type { Command } from "../command.js";

/** A command's name and how to load it: modules load on demand, so `info` never pays for tfjs or ONNX Runtime. */
export interface CommandEntry {
  /** Words after `radiolens`, equal to the loaded command's `name`. */
  readonly name: string;
  readonly load: () => Promise<Command>;
}

/** All commands, in the order `--help` lists them. */
export const COMMAND_ENTRIES: readonly CommandEntry[] = [
  { name: "info", load: async () => (await import("./info.js")).infoCommand },
  { name: "dicom pixels", load: async () => (await import("./dicom-pixels.js")).dicomPixelsCommand },
  { name: "convert", load: async () => (await import("./convert.js")).convertCommand },
  { name: "train", load: async () => (await import("./train.js")).trainCommand },
  { name: "evaluate", load: async () => (await import("./evaluate.js")).evaluateCommand },
  { name: "metrics", load: async () => (await import("./metrics.js")).metricsCommand },
  { name: "explain", load: async () => (await import("./explain.js")).explainCommand },
  { name: "report", load: async () => (await import("./report.js")).reportCommand },
  { name: "predict", load: async () => (await import("./predict.js")).predictCommand },
  { name: "models", load: async () => (await import("./models.js")).modelsCommand },
  { name: "export", load: async () => (await import("./export.js")).exportCommand },
  { name: "import", load: async () => (await import("./import.js")).importCommand },
  { name: "gan train", load: async () => (await import("./gan.js")).ganTrainCommand },
  { name: "gan sample", load: async () => (await import("./gan.js")).ganSampleCommand },
  { name: "doctor", load: async () => (await import("./doctor.js")).doctorCommand },
  { name: "deid", load: async () => (await import("./deid.js")).deidCommand },
  { name: "reports label", load: async () => (await import("./reports.js")).reportsLabelCommand },
  { name: "reports evaluate", load: async () => (await import("./reports.js")).reportsEvaluateCommand },
  { name: "reports generate", load: async () => (await import("./reports.js")).reportsGenerateCommand },
  { name: "serve", load: async () => (await import("./serve.js")).serveCommand },
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
