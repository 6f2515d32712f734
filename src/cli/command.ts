/** The CLI command contract: each command declares its options and calls one library function. */
import type { ParseArgsConfig } from "node:util";

/** Options understood by every command. */
export const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

/** Parsed arguments handed to a command. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
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
  /** Usage and option help shown by `--help`. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  readonly allowPositionals?: boolean;
  /** Runs the command; resolves to the exit code (0 when omitted). */
  run(args: CommandArgs, io: CommandIO): Promise<number | undefined>;
}

/**
 * Reads a string option, or undefined.
 *
 * @example
 * ```ts
 * str(args, "out"); // "runs/demo" or undefined
 * ```
 */
export function str(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * Reads a string option that may repeat.
 *
 * @example
 * ```ts
 * strs(args, "model"); // ["models/a", "models/b"]
 * ```
 */
export function strs(args: CommandArgs, name: string): string[] {
  const v = args.values[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return typeof v === "string" ? [v] : [];
}

/**
 * Reads a boolean flag.
 *
 * @example
 * ```ts
 * flag(args, "json"); // true when --json was given
 * ```
 */
export function flag(args: CommandArgs, name: string): boolean {
  return args.values[name] === true;
}
