/** The CLI command contract: each command declares a typed option schema, its help is generated from it, and it calls one library function. */
import {
  flag,
  formatOptions,
  type OptionSchema,
  type OptionValues,
  parseArgsOptions,
  parseOptionValues,
  type RawValues,
} from "./options.js";

/** Options understood by every command. */
export const GLOBAL_OPTIONS = {
  help: flag("show this help", { short: "h" }),
  verbose: flag("print stack traces on errors"),
} as const satisfies OptionSchema;

/** Arguments as the command line parser returns them: values are unchecked strings and booleans. */
export interface CommandArgs {
  readonly values: RawValues;
  readonly positionals: readonly string[];
}

/** Where a command writes; tests capture these. */
export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly isTTY: boolean;
}

/** One `radiolens` command: its help, options and run; its name and summary are its entry in `commands/index.ts`. */
export interface Command {
  /** Usage and option help shown by `--help`, generated from the schema. */
  readonly help: string;
  /** Every option the command accepts, with its type, range and help. */
  readonly schema: OptionSchema;
  readonly allowPositionals: boolean;
  /** Checks the raw values against the schema, then runs; resolves to the exit code (0 when omitted). */
  run(args: CommandArgs, io: CommandIO): Promise<number | undefined>;
}

/** What a command module declares; {@link defineCommand} turns it into a {@link Command}. */
export interface CommandSpec<O extends OptionSchema> {
  /** The synopsis after `Usage: `; more lines for alternative forms. */
  readonly usage: string;
  /** Paragraphs between the usage and the options. */
  readonly description?: string;
  readonly options: O;
  /** Text after the options (formats, examples). */
  readonly notes?: string;
  readonly positionals?: boolean;
  run(
    args: { readonly values: OptionValues<O>; readonly positionals: readonly string[] },
    io: CommandIO,
  ): Promise<number | undefined>;
}

/**
 * Makes a command from its schema: `--help` text generated from the options, values checked and typed before
 * `run` sees them.
 *
 * @example
 * ```ts
 * export const modelsCommand = defineCommand({
 *   usage: "radiolens models [--json]",
 *   options: { json: flag("print JSON") },
 *   async run({ values }, io) { io.stdout(values.json ? "[]\n" : ""); return 0; },
 * });
 * ```
 */
export function defineCommand<const O extends OptionSchema>(spec: CommandSpec<O>): Command {
  const help = [
    `Usage: ${spec.usage}`,
    ...(spec.description ? ["", spec.description] : []),
    ...(Object.keys(spec.options).length ? ["", "Options:", formatOptions(spec.options)] : []),
    ...(spec.notes ? ["", spec.notes] : []),
  ].join("\n");
  return {
    help,
    schema: spec.options,
    allowPositionals: spec.positionals ?? false,
    run: async (args, io) =>
      spec.run({ values: parseOptionValues(spec.options, args.values), positionals: args.positionals }, io),
  };
}

/**
 * The `node:util` parseArgs options of a command, global options included.
 *
 * @example
 * ```ts
 * parseArgs({ args, options: parseArgsConfigOf(cmd), allowPositionals: cmd.allowPositionals, strict: true });
 * ```
 */
export function parseArgsConfigOf(cmd: Command): ReturnType<typeof parseArgsOptions> {
  return parseArgsOptions({ ...GLOBAL_OPTIONS, ...cmd.schema });
}
