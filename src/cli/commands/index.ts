/** The list of every `radiolens` command; a new command is one import and one entry here. */
import type { Command } from "../command.js";
import { deidCommand } from "./deid.js";
import { doctorCommand } from "./doctor.js";

/** All commands, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [doctorCommand, deidCommand];
