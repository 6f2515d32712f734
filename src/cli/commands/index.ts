/** The list of every `radiolens` command; a new command is one import and one entry here. */
import type { Command } from "../command.js";
import { deidCommand } from "./deid.js";
import { dicomPixelsCommand } from "./dicom-pixels.js";
import { doctorCommand } from "./doctor.js";
import { infoCommand } from "./info.js";
import { reportsEvaluateCommand, reportsGenerateCommand, reportsLabelCommand } from "./reports.js";

/** All commands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  infoCommand,
  dicomPixelsCommand,
  doctorCommand,
  deidCommand,
  reportsLabelCommand,
  reportsEvaluateCommand,
  reportsGenerateCommand,
];
