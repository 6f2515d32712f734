/** The `radiolens` command line: finds the command, parses its options, maps errors to one clear line and an exit code. */
import { parseArgs } from "node:util";
import { RadioLensError } from "../core/errors.js";
import { VERSION } from "../version.js";
import { type CommandIO, parseArgsConfigOf } from "./command.js";
import { COMMAND_ENTRIES, type CommandEntry, commandGroups } from "./commands/index.js";
import { joinNegativeValues } from "./options.js";

function listing(commands: readonly CommandEntry[]): string[] {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
}

function overview(): string {
  const lines = listing(COMMAND_ENTRIES);
  return [
    `radiolens ${VERSION}: medical image AI on Node.js`,
    "",
    "Usage: radiolens <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Global options: --help, --version, --verbose (stack traces on errors)",
  ].join("\n");
}

function groupHelp(group: string, entries: readonly CommandEntry[]): string {
  return [
    `Usage: radiolens ${group} <subcommand> [options]`,
    "",
    "Subcommands:",
    ...listing(entries),
    "",
    `Run 'radiolens ${group} <subcommand> --help' for its options.`,
  ].join("\n");
}

function findCommand(argv: readonly string[]): { entry: CommandEntry; rest: string[] } | undefined {
  // Longest match first, so "dicom pixels" wins over a hypothetical "dicom".
  const sorted = [...COMMAND_ENTRIES].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const entry of sorted) {
    const words = entry.name.split(" ");
    if (words.every((w, i) => argv[i] === w)) return { entry, rest: argv.slice(words.length) };
  }
  return undefined;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(["--version"]);
 * ```
 */
export async function runCli(argv: readonly string[], io?: Partial<CommandIO>): Promise<number> {
  const out: CommandIO = {
    stdout: io?.stdout ?? ((t) => process.stdout.write(t)),
    stderr: io?.stderr ?? ((t) => process.stderr.write(t)),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
  };
  const verbose = argv.includes("--verbose");
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    out.stdout(`${overview()}\n`);
    return 0;
  }
  if (argv[0] === "--version" || argv[0] === "-v") {
    out.stdout(`${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  try {
    if (!found) {
      const group = argv[0] as string;
      const members = COMMAND_ENTRIES.filter((e) => e.name.startsWith(`${group} `));
      if (commandGroups().includes(group)) {
        // `radiolens gan` or `radiolens gan --help`: the group's subcommands, as for the whole tool.
        if (argv.slice(1).every((a) => a === "--help" || a === "-h" || a === "help")) {
          out.stdout(`${groupHelp(group, members)}\n`);
          return 0;
        }
        const names = members.map((e) => e.name.slice(group.length + 1)).join(", ");
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `unknown command '${argv.join(" ")}' (${group} subcommands: ${names})`,
        });
      }
      throw new RadioLensError("RL_ERR_USAGE", { detail: `unknown command '${argv.join(" ")}'` });
    }
    const { entry, rest } = found;
    const cmd = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      out.stdout(`${cmd.help}\n`);
      return 0;
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: joinNegativeValues(rest, cmd.schema),
        options: parseArgsConfigOf(cmd),
        allowPositionals: cmd.allowPositionals,
        strict: true,
      });
    } catch (e) {
      // parseArgs explains over several lines; the CLI reports one.
      const detail = (e as Error).message.replace(/\s*\n\s*/g, " ").replace(/\.+$/, "");
      throw new RadioLensError("RL_ERR_USAGE", { detail: `${entry.name}: ${detail}` });
    }
    const code = await cmd.run({ values: parsed.values, positionals: parsed.positionals }, out);
    return code ?? 0;
  } catch (e) {
    if (e instanceof RadioLensError) {
      out.stderr(`error: ${e.toLine()}\n`);
      if (verbose && e.stack) out.stderr(`${e.stack}\n`);
      return e.exitCode;
    }
    const err = e as Error & { code?: unknown; exitCode?: unknown };
    // Typed domain errors from lower layers (e.g. DicomError) carry their own catalogue code and exit code.
    if (typeof err?.code === "string" && err.name !== "Error") {
      out.stderr(`error: ${err.code}: ${err.message}\n`);
      if (verbose && err.stack) out.stderr(`${err.stack}\n`);
      return typeof err.exitCode === "number" ? err.exitCode : 3;
    }
    out.stderr(
      `error: RL_ERR_INTERNAL: ${err?.message ?? String(e)}. Re-run with --verbose and report the stack trace.\n`,
    );
    if (verbose && err?.stack) out.stderr(`${err.stack}\n`);
    return 1;
  }
}
