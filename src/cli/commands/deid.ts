/** `radiolens deid`: de-identify DICOM files, folders or zip archives with the PS3.15 Basic Profile and options. */

import { RadioLensError } from "../../core/errors.js";
import {
  DEID_OPTIONS,
  deidentifyTree,
  loadMaskRules,
  parseOptionNames,
  readSecretFile,
} from "../../deid/index.js";
import { type Command, flag, str, strs } from "../command.js";

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
export const deidCommand: Command = {
  help: `Usage: radiolens deid <input folder|zip|file> <output folder> --secret-file F [options]

  --secret-file F        key for UID remapping, pseudonyms and date shifts (16+ bytes; keep it apart from the output)
  --option NAME          a PS3.15 E.3 option; repeat or comma-separate:
${optionList}
  --pseudonym-table F    create or extend an encrypted PatientID -> pseudonym table (AES-256-GCM)
  --mask-rules F         JSON pixel-masking rules (manufacturer, model, rows, columns, regions) that clear
                         burned-in verdicts instead of quarantining
  --keep-burned-in       write instances flagged for burned-in text (only after checking their pixels)
  --workers N            worker threads (default: all cores)
  --layout mirror|uid    output names: the input's relative paths (default) or Study/Series/SOP Instance UID
                         folders, for exports whose names hold patient names or IDs
  --no-fsync             skip the fsync of each output (still written atomically; faster, less crash-proof)
  --json                 print the summary as JSON

Output mirrors the input's relative paths; quarantined instances are listed in deid-audit.jsonl and not
written. Running the same command again resumes an interrupted run.`,
  options: {
    "secret-file": { type: "string" },
    option: { type: "string", multiple: true },
    "pseudonym-table": { type: "string" },
    "mask-rules": { type: "string" },
    "keep-burned-in": { type: "boolean" },
    workers: { type: "string" },
    "no-fsync": { type: "boolean" },
    layout: { type: "string" },
    json: { type: "boolean" },
  },
  allowPositionals: true,
  async run(args, io) {
    const [input, output] = args.positionals;
    if (input === undefined || output === undefined || args.positionals.length !== 2) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "radiolens deid needs <input> and <output>" });
    }
    const secretFile = str(args, "secret-file");
    if (secretFile === undefined)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--secret-file is required" });
    const workersText = str(args, "workers");
    const workers = workersText === undefined ? undefined : Number(workersText);
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 0)) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--workers must be a whole number ≥ 0" });
    }
    const layout = str(args, "layout") ?? "mirror";
    if (layout !== "mirror" && layout !== "uid") {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--layout is mirror or uid" });
    }
    const maskPath = str(args, "mask-rules");
    const tablePath = str(args, "pseudonym-table");
    const summary = await deidentifyTree(input, output, {
      secret: readSecretFile(secretFile),
      options: parseOptionNames(strs(args, "option")),
      keepBurnedIn: flag(args, "keep-burned-in"),
      durable: !flag(args, "no-fsync"),
      layout,
      ...(maskPath !== undefined ? { maskRules: loadMaskRules(maskPath) } : {}),
      ...(tablePath !== undefined ? { pseudonymTable: tablePath } : {}),
      ...(workers !== undefined ? { workers } : {}),
    });
    if (flag(args, "json")) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      io.stdout(
        `${summary.written} written, ${summary.quarantined} quarantined, ${summary.failed} failed` +
          `${summary.resumed ? `, ${summary.resumed} already done` : ""} of ${summary.total} in ${summary.seconds.toFixed(1)} s\n` +
          `audit: ${summary.auditPath}\n`,
      );
    }
    return summary.failed > 0 ? 3 : 0;
  },
};
