/** `radiolens models`: lists the architectures `radiolens train --model` accepts. */
import { MODELS } from "../../models/registry.js";
import { type Command, defineCommand } from "../command.js";
import { flag } from "../options.js";

/**
 * `radiolens models`: the architectures the zoo can build.
 *
 * @example
 * ```ts
 * await runCli(["models", "--json"]);
 * ```
 */
export const modelsCommand: Command = defineCommand({
  usage: "radiolens models [--json]",
  options: { json: flag("print the list as JSON") },
  async run({ values }, io) {
    const rows = [...MODELS.values()].map((m) => ({ name: m.name, description: m.description }));
    if (values.json) {
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const w = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) io.stdout(`${r.name.padEnd(w)}  ${r.description}\n`);
    return 0;
  },
});
