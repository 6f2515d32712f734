/** `radiolens deid`: de-identify DICOM files, folders or zip archives with the PS3.15 Basic Profile and options. */

import { RadioLensError } from "../../core/errors.js";
import {
  DEID_OPTIONS,
  deidentifyTree,
  loadMaskRules,
  parseOptionNames,
  readSecretFile,
} from "../../deid/index.js";
import { type Command, defineCommand } from "../command.js";
import { flag, int, list, oneOf, string } from "../options.js";

const optionList = Object.values(DEID_OPTIONS)
  .map((o) => `    ${o.cli.padEnd(32)}${o.meaning} (${o.code})`)
  .join("\n");

/**
 * `radiolens deid <in> <out> --secret-file F [--option NAME ...]`.
 *
 * @example
 * ```sh
 * radiolens deid study/ study-deid/ --secret-file deid.key --option retain-modified-dates
 * ```
 */
export const deidCommand: Command = defineCommand({
  usage: "radiolens deid <input folder|zip|file> <output folder> --secret-file F [options]",
  options: {
    "secret-file": string(
      "F",
      "key for UID remapping, pseudonyms and date shifts (16+ bytes; keep it apart from the output)",
      { required: true },
    ),
    option: list("NAME", `a PS3.15 E.3 option; repeat or comma-separate:\n${optionList}`),
    "pseudonym-table": string(
      "F",
      "create or extend an encrypted PatientID -> pseudonym table (AES-256-GCM)",
    ),
    "mask-rules": string(
      "F",
      "JSON pixel-masking rules (manufacturer, model, rows, columns, regions) that clear\nburned-in verdicts instead of quarantining",
    ),
    "keep-burned-in": flag("write instances flagged for burned-in text (only after checking their pixels)"),
    workers: int("N", "worker threads (default: all cores)", { min: 0 }),
    "no-fsync": flag("skip the fsync of each output (still written atomically; faster, less crash-proof)"),
    layout: oneOf(
      ["mirror", "uid"],
      "output names: the input's relative paths or Study/Series/SOP Instance UID\nfolders, for exports whose names hold patient names or IDs",
      { default: "mirror" },
    ),
    json: flag("print the summary as JSON"),
  },
  notes: `Output mirrors the input's relative paths; quarantined instances are listed in deid-audit.jsonl and not
written. Running the same command again resumes an interrupted run.`,
  positionals: true,
  async run({ values, positionals }, io) {
    const [input, output] = positionals;
    if (input === undefined || output === undefined || positionals.length !== 2) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "radiolens deid needs <input> and <output>" });
    }
    const maskPath = values["mask-rules"];
    const tablePath = values["pseudonym-table"];
    const summary = await deidentifyTree(input, output, {
      secret: readSecretFile(values["secret-file"]),
      options: parseOptionNames(values.option),
      keepBurnedIn: values["keep-burned-in"],
      durable: !values["no-fsync"],
      layout: values.layout,
      ...(maskPath !== undefined ? { maskRules: loadMaskRules(maskPath) } : {}),
      ...(tablePath !== undefined ? { pseudonymTable: tablePath } : {}),
      ...(values.workers !== undefined ? { workers: values.workers } : {}),
    });
    if (values.json) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      io.stdout(
        `${summary.written} written, ${summary.quarantined} quarantined, ${summary.failed} failed` +
          `${summary.resumed ? `, ${summary.resumed} already done` : ""} of ${summary.total} in ${summary.seconds.toFixed(1)} s\n` +
          `audit: ${summary.auditPath}\n`,
      );
    }
    return summary.failed > 0 ? 3 : 0;
  },
});
