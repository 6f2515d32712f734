/** The `radiolens` command line: finds the command, parses its options, maps errors to one clear line and an exit code. */
import { parseArgs } from "node:util";
import { RadioLensError } from "../core/errors.js";
import { VERSION } from "../version.js";
import { type Command, type CommandIO, GLOBAL_OPTIONS } from "./command.js";

/**
 * Commands loaded on their own, without the other commands' modules (DICOM codecs, the HTTP server, ONNX, plots):
 * importing every command costs `radiolens train` about 1.2 s of CPU at start, a tenth of a short training run.
 */
const DIRECT: Readonly<Record<string, () => Promise<Command>>> = {
  train: async () => (await import("./commands/train.js")).trainCommand,
};

async function allCommands(): Promise<readonly Command[]> {
  return (await import("./commands/index.js")).COMMANDS;
}

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
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

function findCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { cmd: Command; rest: string[] } | undefined {
  // Longest match first, so "dicom pixels" wins over a hypothetical "dicom".
  const sorted = [...commands].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const cmd of sorted) {
    const words = cmd.name.split(" ");
    if (words.every((w, i) => argv[i] === w)) return { cmd, rest: argv.slice(words.length) };
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
    out.stdout(`${overview(await allCommands())}\n`);
    return 0;
  }
  if (argv[0] === "--version" || argv[0] === "-v") {
    out.stdout(`${VERSION}\n`);
    return 0;
  }
  try {
    const direct = DIRECT[argv[0] ?? ""];
    const found = direct
      ? { cmd: await direct(), rest: argv.slice(1) }
      : findCommand(await allCommands(), argv);
    if (!found) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `unknown command '${argv.join(" ")}'` });
    }
    const { cmd, rest } = found;
    if (rest.includes("--help") || rest.includes("-h")) {
      out.stdout(`${cmd.help}\n`);
      return 0;
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...GLOBAL_OPTIONS, ...cmd.options },
        allowPositionals: cmd.allowPositionals ?? false,
        strict: true,
      });
    } catch (e) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: `${cmd.name}: ${(e as Error).message}` });
    }
    const code = await cmd.run({ values: parsed.values, positionals: parsed.positionals }, out);
    return code ?? 0;
  } catch (e) {
    if (e instanceof RadioLensError) {
      out.stderr(`error: ${e.toLine()}\n`);
      if (verbose && e.stack) out.stderr(`${e.stack}\n`);
      return e.exitCode;
    }
    const err = e as Error & { code?: unknown };
    // Typed domain errors from lower layers (e.g. DicomError) carry their own code.
    if (typeof err?.code === "string" && err.name !== "Error") {
      out.stderr(`error: ${err.code}: ${err.message}\n`);
      if (verbose && err.stack) out.stderr(`${err.stack}\n`);
      return 3;
    }
    out.stderr(
      `error: RL_ERR_INTERNAL: ${err?.message ?? String(e)}. Re-run with --verbose and report the stack trace.\n`,
    );
    if (verbose && err?.stack) out.stderr(`${err.stack}\n`);
    return 1;
  }
}
