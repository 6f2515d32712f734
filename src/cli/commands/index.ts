/** The list of every `radiolens` command; a new command is one import and one entry here. */
import type { Command } from "../command.js";
import { convertCommand } from "./convert.js";
import { deidCommand } from "./deid.js";
import { dicomPixelsCommand } from "./dicom-pixels.js";
import { doctorCommand } from "./doctor.js";
import { evaluateCommand } from "./evaluate.js";
import { explainCommand } from "./explain.js";
import { exportCommand } from "./export.js";
import { ganSampleCommand, ganTrainCommand } from "./gan.js";
import { importCommand } from "./import.js";
import { infoCommand } from "./info.js";
import { metricsCommand } from "./metrics.js";
import { modelsCommand } from "./models.js";
import { predictCommand } from "./predict.js";
import { reportCommand } from "./report.js";
import { reportsEvaluateCommand, reportsGenerateCommand, reportsLabelCommand } from "./reports.js";
import { serveCommand } from "./serve.js";
import { trainCommand } from "./train.js";

/** All commands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  infoCommand,
  dicomPixelsCommand,
  convertCommand,
  trainCommand,
  evaluateCommand,
  metricsCommand,
  explainCommand,
  reportCommand,
  predictCommand,
  modelsCommand,
  exportCommand,
  importCommand,
  ganTrainCommand,
  ganSampleCommand,
  doctorCommand,
  deidCommand,
  reportsLabelCommand,
  reportsEvaluateCommand,
  reportsGenerateCommand,
  serveCommand,
];
