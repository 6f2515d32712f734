/** The one option parser: every command refuses a bad number, range, enum value or a missing option the same way. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isRadioLensError } from "../core/errors.js";
import type { Command } from "./command.js";
import { COMMAND_ENTRIES, loadCommands } from "./commands/index.js";
import { runCli } from "./main.js";
import {
  accepts,
  custom,
  flag,
  int,
  list,
  num,
  type OptionSpec,
  oneOf,
  parseOptionValues,
  string,
} from "./options.js";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One line, exit 2, the catalogue code, the option and what it accepts. */
function assertRefused(
  r: { code: number; err: string },
  code: string,
  option: string,
  what: string,
  ctx: string,
) {
  assert.equal(r.code, 2, `${ctx}: exit code (stderr: ${r.err})`);
  const lines = r.err.trim().split("\n");
  assert.equal(lines.length, 1, `${ctx}: one line, got:\n${r.err}`);
  assert.match(
    lines[0] as string,
    new RegExp(`^error: ${code}: ${escapeRegExp(option)}\\b.*${escapeRegExp(what)}`),
    ctx,
  );
}

test("the typed values: numbers in decimal notation only, ranges, integers, enums, lists, defaults", () => {
  const schema = {
    n: int("N", "count", { min: 1, max: 10 }),
    x: num("X", "rate", { above: 0 }),
    e: oneOf(["a", "b"], "choice", { default: "a" }),
    l: list("L", "repeatable"),
    s: string("S", "text", { required: true }),
    c: custom("HxW", "size", "HxW", (t) => (/^\d+x\d+$/.test(t) ? t.split("x").map(Number) : undefined)),
    f: flag("switch"),
  };
  const v = parseOptionValues(schema, { n: "3", x: "1e-3", l: ["p", "q"], s: "", c: "2x3" });
  assert.deepEqual(v, { n: 3, x: 0.001, e: "a", l: ["p", "q"], s: "", c: [2, 3], f: false });
  // The last occurrence of a single-valued option wins, as node:util parseArgs does.
  assert.equal(parseOptionValues(schema, { n: ["2", "4"], s: "x" }).n, 4);
  const refused = (raw: Record<string, string>, option: string) =>
    assert.throws(
      () => parseOptionValues(schema, { s: "x", ...raw }),
      (e) => isRadioLensError(e, "RL_ERR_OPTION_INVALID") && e.message.startsWith(`--${option} `),
      JSON.stringify(raw),
    );
  // Number("") and Number(" ") are 0, Number("0x10") is 16, Number("1e999") is Infinity: all refused.
  for (const bad of ["", " ", "abc", "0x10", "1e999", "1.5", "0", "11", "NaN", "3 4"])
    refused({ n: bad }, "n");
  for (const bad of ["0", "-1", "", "Infinity"]) refused({ x: bad }, "x");
  refused({ e: "c" }, "e");
  refused({ e: "" }, "e");
  refused({ c: "2x" }, "c");
  refused({ c: "" }, "c");
  assert.throws(
    () => parseOptionValues(schema, {}),
    (e) => isRadioLensError(e, "RL_ERR_OPTION_MISSING") && /^--s is required/.test(e.message),
  );
  // A bad value is reported before a missing required option: the first error names what was typed wrong.
  assert.throws(
    () => parseOptionValues(schema, { n: "x" }),
    (e) => isRadioLensError(e, "RL_ERR_OPTION_INVALID"),
  );
  assert.equal(accepts(schema.n), "an integer from 1 to 10");
  assert.equal(accepts(schema.x), "a number > 0");
  assert.equal(accepts(schema.e), "one of a, b");
});

test("the issue's cases: --epochs '' and abc, --port 70000, an unknown enum value: one line, exit 2", async () => {
  const cases: [string[], string, string][] = [
    [["train", "--epochs", ""], "--epochs", "expected an integer ≥ 1"],
    [["train", "--epochs", "abc"], "--epochs", "expected an integer ≥ 1"],
    [["gan", "train", "--epochs", ""], "--epochs", "expected an integer ≥ 1"],
    [["serve", "--port", "70000"], "--port", "expected an integer from 0 to 65535"],
    [["serve", "--port", "abc"], "--port", "expected an integer from 0 to 65535"],
    [["serve", "--dicom-port", "-1"], "--dicom-port", "expected an integer from 0 to 65535"],
    [["evaluate", "--backend", "gpu"], "--backend", "expected one of onednn, wasm, cpu"],
    [["predict", "--runtime", "tensorrt"], "--runtime", "expected one of tfjs, onnx"],
    [["deid", "--workers", "2.5"], "--workers", "expected an integer ≥ 0"],
    [["metrics", "--bootstrap", ""], "--bootstrap", "expected an integer ≥ 0"],
    [["report", "--samples", "-1"], "--samples", "expected an integer ≥ 0"],
    [["explain", "--opacity", "1.5"], "--opacity", "expected a number from 0 to 1"],
    [["reports", "generate", "--lang", "fr"], "--lang", "expected one of en, zh"],
  ];
  for (const [argv, option, what] of cases) {
    assertRefused(await cli(argv), "RL_ERR_OPTION_INVALID", option, what, argv.join(" "));
  }
  assertRefused(
    await cli(["import", "--onnx", "m.onnx", "--out", "x"]),
    "RL_ERR_OPTION_MISSING",
    "--card",
    "is required",
    "import without --card",
  );
});

/** A value of the option's kind that the parser accepts. */
function validValue(spec: OptionSpec): string {
  switch (spec.kind) {
    case "number":
      return String(spec.min ?? (spec.above === undefined ? 1 : spec.above + 1));
    case "enum":
      return spec.values[0] as string;
    default:
      return "x";
  }
}

/** Values each kind refuses, derived from the schema: empty, not a number, out of range, not whole. */
function badValues(spec: OptionSpec): string[] {
  switch (spec.kind) {
    case "number": {
      const out = ["", "abc", " "];
      if (spec.min !== undefined) out.push(String(spec.min - 1));
      if (spec.max !== undefined) out.push(String(spec.max + 1));
      if (spec.above !== undefined) out.push(String(spec.above));
      if (spec.integer) out.push(`${(spec.min ?? 0) + 1}.5`);
      return out;
    }
    case "enum":
      return ["", "no-such-value"];
    case "custom":
      return [""];
    default:
      return [];
  }
}

test("every command: each typed option refuses bad values, each required option its absence, the same way", async () => {
  const commands = await loadCommands();
  let checked = 0;
  for (const [i, entry] of COMMAND_ENTRIES.entries()) {
    const cmd = commands[i] as Command;
    const words = entry.name.split(" ");
    const required = Object.entries(cmd.schema).filter(([, s]) => s.kind !== "flag" && s.required);
    const requiredArgs = (except?: string) =>
      required.filter(([n]) => n !== except).flatMap(([n, s]) => [`--${n}`, validValue(s)]);
    for (const [name, spec] of Object.entries(cmd.schema)) {
      for (const bad of badValues(spec)) {
        const argv = [...words, `--${name}`, bad, ...requiredArgs(name)];
        const r = await cli(argv);
        assertRefused(r, "RL_ERR_OPTION_INVALID", `--${name}`, `expected ${accepts(spec)}`, argv.join(" "));
        assert.ok(r.err.includes(`'${bad}'`), `${argv.join(" ")}: names the value`);
        checked++;
      }
    }
    for (const [name] of required) {
      const argv = [...words, ...requiredArgs(name)];
      assertRefused(await cli(argv), "RL_ERR_OPTION_MISSING", `--${name}`, "is required", argv.join(" "));
      checked++;
    }
  }
  // Every command with typed options is covered: well over a hundred refusals.
  assert.ok(checked > 100, `${checked} cases`);
});

test("every command's help is generated from its schema: each option, its values, range and default", async () => {
  const commands = await loadCommands();
  for (const [i, entry] of COMMAND_ENTRIES.entries()) {
    const cmd = commands[i] as Command;
    const r = await cli([...entry.name.split(" "), "--help"]);
    assert.equal(r.code, 0);
    const options = r.out.slice(r.out.indexOf("\nOptions:\n"));
    for (const [name, spec] of Object.entries(cmd.schema)) {
      const line = options
        .split("\n")
        // `--fold` must not find `--folds`: the name ends at a space or the end of the line.
        .find((l) => new RegExp(`(^\\s*|, )--${name}( |$)`).test(l));
      assert.ok(line, `${entry.name}: --${name} in the help`);
      if (spec.kind === "enum")
        assert.ok(line.includes(spec.values.join("|")), `${entry.name} --${name} values`);
      const rest = options.slice(options.indexOf(line));
      const entryText = rest.split(/\n {2}-/)[0] as string;
      if (spec.kind !== "flag" && spec.required)
        assert.match(entryText, /\[required/, `${entry.name} --${name} required`);
      if (spec.kind === "number" && spec.min !== undefined)
        assert.ok(entryText.includes(`≥ ${spec.min}`) || entryText.includes(`from ${spec.min}`), entry.name);
      if ("default" in spec && spec.default !== undefined)
        assert.ok(entryText.includes(`default ${spec.default}`), `${entry.name} --${name} default`);
    }
  }
});
