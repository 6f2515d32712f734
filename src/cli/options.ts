/** The one option parser of the CLI: a typed schema per command checks every value and writes the help text. */
import type { ParseArgsConfig } from "node:util";
import { RadioLensError } from "../core/errors.js";
import type { BackendName } from "../engine/backend.js";

interface Common {
  /** One line (or several, separated by `\n`) for `--help`. */
  readonly help: string;
  /** The value's placeholder in the help, e.g. `N` or `DIR`. */
  readonly metavar?: string;
  readonly short?: string;
  /** The command refuses to run without it. */
  readonly required?: boolean;
}

/** A free-form string (a path, a name). */
export interface StringOption extends Common {
  readonly kind: "string";
  readonly default?: string;
}

/** A string that may repeat (`--ood a --ood b`); the value is the list in order, empty when absent. */
export interface ListOption extends Common {
  readonly kind: "list";
}

/** A finite number, optionally whole and within bounds. */
export interface NumberOption extends Common {
  readonly kind: "number";
  readonly integer: boolean;
  /** Smallest accepted value (inclusive). */
  readonly min?: number;
  /** Largest accepted value (inclusive). */
  readonly max?: number;
  /** The value must be strictly greater than this. */
  readonly above?: number;
  readonly default?: number;
}

/** One of a fixed set of words. */
export interface EnumOption<V extends string = string> extends Common {
  readonly kind: "enum";
  readonly values: readonly V[];
  readonly default?: V;
}

/** A boolean switch: present or absent. */
export interface FlagOption {
  readonly kind: "flag";
  readonly help: string;
  readonly short?: string;
}

/** A value with its own syntax (`C,W`, `HxW`, `sensitivity:0.9`): `parse` returns undefined to refuse it. */
export interface CustomOption<T = unknown> extends Common {
  readonly kind: "custom";
  /** What it accepts, for the error message, e.g. `CENTER,WIDTH with WIDTH > 0`. */
  readonly accepts: string;
  readonly parse: (text: string) => T | undefined;
}

/** Any option of a schema. */
export type OptionSpec = StringOption | ListOption | NumberOption | EnumOption | FlagOption | CustomOption;

/** A command's options by long name (without `--`). */
export type OptionSchema = Readonly<Record<string, OptionSpec>>;

type ValueOf<S> = S extends FlagOption
  ? boolean
  : S extends ListOption
    ? string[]
    : S extends EnumOption<infer V>
      ? V
      : S extends NumberOption
        ? number
        : S extends CustomOption<infer T>
          ? T
          : string;

type Present<S> = S extends FlagOption | ListOption
  ? ValueOf<S>
  : S extends { readonly required: true } | { readonly default: unknown }
    ? ValueOf<S>
    : ValueOf<S> | undefined;

/** The parsed, typed values of a schema: required options and options with a default are never undefined. */
export type OptionValues<O extends OptionSchema> = { readonly [K in keyof O]: Present<O[K]> };

interface Extra {
  readonly required?: boolean;
  readonly short?: string;
}

/**
 * Builders: each option of a command is one line, e.g. `epochs: int("N", "epochs", { min: 1 })`.
 *
 * @example
 * ```ts
 * const options = {
 *   data: string("PATH", "dataset file", { required: true }),
 *   epochs: int("N", "epochs", { min: 1, default: 10 }),
 *   backend: oneOf(BACKEND_NAMES, "compute backend"),
 *   json: flag("print JSON"),
 * };
 * ```
 */
export function string<const E extends Extra & { readonly default?: string }>(
  metavar: string,
  help: string,
  extra?: E,
): StringOption & E {
  return { kind: "string", metavar, help, ...extra } as StringOption & E;
}

/**
 * A repeatable string option.
 *
 * @example
 * ```ts
 * const ood = list("OTHER", "an out-of-distribution set (repeatable)");
 * ```
 */
export function list<const E extends Extra>(metavar: string, help: string, extra?: E): ListOption & E {
  return { kind: "list", metavar, help, ...extra } as ListOption & E;
}

type NumberExtra = Extra & {
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
  readonly default?: number;
};

/**
 * A whole-number option.
 *
 * @example
 * ```ts
 * const port = int("PORT", "HTTP port", { min: 0, max: 65535 });
 * ```
 */
export function int<const E extends NumberExtra>(
  metavar: string,
  help: string,
  extra?: E,
): NumberOption & { readonly integer: true } & E {
  return { kind: "number", integer: true, metavar, help, ...extra } as NumberOption & {
    readonly integer: true;
  } & E;
}

/**
 * A real-number option.
 *
 * @example
 * ```ts
 * const lr = num("X", "learning rate", { above: 0 });
 * ```
 */
export function num<const E extends NumberExtra>(
  metavar: string,
  help: string,
  extra?: E,
): NumberOption & { readonly integer: false } & E {
  return { kind: "number", integer: false, metavar, help, ...extra } as NumberOption & {
    readonly integer: false;
  } & E;
}

/**
 * An option taking one of `values`.
 *
 * @example
 * ```ts
 * const lang = oneOf(["en", "zh"], "report language", { default: "en" });
 * ```
 */
export function oneOf<const V extends string, const E extends Extra & { readonly default?: NoInfer<V> }>(
  values: readonly V[],
  help: string,
  extra?: E,
): EnumOption<V> & E {
  return { kind: "enum", values, help, ...extra } as EnumOption<V> & E;
}

/**
 * A boolean switch.
 *
 * @example
 * ```ts
 * const json = flag("print JSON");
 * ```
 */
export function flag(help: string, extra?: { readonly short?: string }): FlagOption {
  return { kind: "flag", help, ...extra };
}

/**
 * An option with its own syntax.
 *
 * @example
 * ```ts
 * const size = custom("HxW", "input size", "N or HxW", (t) => (/^\d+x\d+$/.test(t) ? t : undefined));
 * ```
 */
export function custom<T>(
  metavar: string,
  help: string,
  accepts: string,
  parse: (text: string) => T | undefined,
): CustomOption<T> {
  return { kind: "custom", metavar, help, accepts, parse };
}

/** The compute backends `--backend` accepts (kept here so that parsing loads no engine). */
export const BACKEND_NAMES = ["onednn", "wasm", "cpu"] as const satisfies readonly BackendName[];

/** `--backend`, shared by every command that computes with tfjs. */
export const backendOption = oneOf(BACKEND_NAMES, "compute backend (default: the fastest available)");

/** `--runtime`, shared by the commands that run a bundle. */
export const runtimeOption = oneOf(
  ["tfjs", "onnx"],
  "ONNX Runtime by default when the bundle has model.onnx, else tfjs",
);

/**
 * What an option accepts, in words, for errors and tests.
 *
 * @example
 * ```ts
 * accepts(int("N", "epochs", { min: 1 })); // "an integer ≥ 1"
 * ```
 */
export function accepts(spec: OptionSpec): string {
  switch (spec.kind) {
    case "flag":
      return "no value";
    case "string":
    case "list":
      return `${spec.metavar ?? "VALUE"}: ${spec.help.split("\n")[0]}`;
    case "enum":
      return `one of ${spec.values.join(", ")}`;
    case "custom":
      return spec.accepts;
    case "number": {
      const what = spec.integer ? "an integer" : "a number";
      const lo = spec.min;
      const hi = spec.max;
      if (spec.above !== undefined) return `${what} > ${spec.above}${hi === undefined ? "" : ` and ≤ ${hi}`}`;
      if (lo !== undefined && hi !== undefined) return `${what} from ${lo} to ${hi}`;
      if (lo !== undefined) return `${what} ≥ ${lo}`;
      if (hi !== undefined) return `${what} ≤ ${hi}`;
      return what;
    }
  }
}

function invalid(name: string, value: string, spec: OptionSpec): RadioLensError {
  return new RadioLensError("RL_ERR_OPTION_INVALID", { option: `--${name}`, value, accepts: accepts(spec) });
}

function parseOne(name: string, spec: OptionSpec, text: string): unknown {
  switch (spec.kind) {
    case "string":
    case "list":
      return text;
    case "flag":
      return true;
    case "enum":
      if (!(spec.values as readonly string[]).includes(text)) throw invalid(name, text, spec);
      return text;
    case "custom": {
      const v = text.trim() === "" ? undefined : spec.parse(text);
      if (v === undefined) throw invalid(name, text, spec);
      return v;
    }
    case "number": {
      // Number("") and Number(" ") are 0, and Number("0x10") is 16: accept only decimal notation.
      if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text)) throw invalid(name, text, spec);
      const v = Number(text);
      const ok =
        Number.isFinite(v) &&
        (!spec.integer || Number.isInteger(v)) &&
        (spec.min === undefined || v >= spec.min) &&
        (spec.max === undefined || v <= spec.max) &&
        (spec.above === undefined || v > spec.above);
      if (!ok) throw invalid(name, text, spec);
      return v;
    }
  }
}

/** Raw values as `node:util` parseArgs returns them (and as tests pass them to a command's `run`). */
export type RawValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/**
 * Checks and converts raw option values by the schema: every bad value is an `RL_ERR_OPTION_INVALID` naming the
 * option and what it accepts; a missing required option is `RL_ERR_OPTION_MISSING`. Values are checked before
 * required options, so the first error names what the user typed wrong.
 *
 * @example
 * ```ts
 * parseOptionValues({ epochs: int("N", "epochs", { min: 1 }) }, { epochs: "3" }); // { epochs: 3 }
 * ```
 */
export function parseOptionValues<O extends OptionSchema>(schema: O, raw: RawValues): OptionValues<O> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const v = raw[name];
    if (spec.kind === "flag") {
      out[name] = v === true;
      continue;
    }
    const texts = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => String(x));
    if (spec.kind === "list") {
      out[name] = texts;
      continue;
    }
    const last = texts.at(-1);
    out[name] =
      last === undefined ? (spec as { readonly default?: unknown }).default : parseOne(name, spec, last);
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (spec.kind === "flag" || !spec.required) continue;
    const v = out[name];
    if (v === undefined || (Array.isArray(v) && v.length === 0))
      throw new RadioLensError("RL_ERR_OPTION_MISSING", { option: `--${name}`, accepts: accepts(spec) });
  }
  return out as OptionValues<O>;
}

/**
 * Joins `--name -1` into `--name=-1` for options that take a value, so that negative numbers and values such as a
 * window `-600,1500` need no `=`; node:util parseArgs would otherwise refuse them as ambiguous.
 *
 * @example
 * ```ts
 * joinNegativeValues(["--window", "-600,1500"], schema); // ["--window=-600,1500"]
 * ```
 */
export function joinNegativeValues(args: readonly string[], schema: OptionSchema): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const next = args[i + 1];
    const spec = a.startsWith("--") ? schema[a.slice(2)] : undefined;
    if (spec && spec.kind !== "flag" && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * The `node:util` parseArgs configuration of a schema (values are parsed as strings, then checked by
 * {@link parseOptionValues}).
 *
 * @example
 * ```ts
 * parseArgs({ args, options: parseArgsOptions(schema), strict: true });
 * ```
 */
export function parseArgsOptions(schema: OptionSchema): NonNullable<ParseArgsConfig["options"]> {
  const out: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, spec] of Object.entries(schema)) {
    out[name] = {
      type: spec.kind === "flag" ? "boolean" : "string",
      ...(spec.kind === "list" ? { multiple: true } : {}),
      ...(spec.short === undefined ? {} : { short: spec.short }),
    };
  }
  return out;
}

function label(name: string, spec: OptionSpec): string {
  const short = spec.short === undefined ? "" : `-${spec.short}, `;
  if (spec.kind === "flag") return `${short}--${name}`;
  const meta = spec.kind === "enum" ? spec.values.join("|") : (spec.metavar ?? "VALUE");
  return `${short}--${name} ${meta}`;
}

function annotations(spec: OptionSpec): string {
  if (spec.kind === "flag") return "";
  const notes: string[] = [];
  if (spec.required) notes.push("required");
  if (spec.kind === "list") notes.push("repeatable");
  if (
    spec.kind === "number" &&
    (spec.min !== undefined || spec.max !== undefined || spec.above !== undefined)
  )
    notes.push(accepts(spec).replace(/^an? /, ""));
  const fallback = (spec as { readonly default?: unknown }).default;
  if (fallback !== undefined) notes.push(`default ${String(fallback)}`);
  return notes.length ? ` [${notes.join("; ")}]` : "";
}

/**
 * The options section of a command's help, generated from its schema: one entry per option, with its values,
 * range, default and whether it is required.
 *
 * @example
 * ```ts
 * formatOptions({ json: flag("print JSON") }); // "  --json  print JSON"
 * ```
 */
export function formatOptions(schema: OptionSchema): string {
  const entries = Object.entries(schema).map(([name, spec]) => ({
    label: label(name, spec),
    text: `${spec.help}${annotations(spec)}`,
  }));
  const width = Math.min(26, Math.max(0, ...entries.map((e) => e.label.length)));
  const lines: string[] = [];
  for (const e of entries) {
    const [first = "", ...more] = e.text.split("\n");
    if (e.label.length > width) {
      lines.push(`  ${e.label}`);
      lines.push(`  ${" ".repeat(width)}  ${first}`);
    } else lines.push(`  ${e.label.padEnd(width)}  ${first}`);
    for (const m of more) lines.push(`  ${" ".repeat(width)}  ${m}`);
  }
  return lines.join("\n");
}
