/** `radiolens models`: lists the architectures `radiolens train --model` accepts. */
import { MODELS } from "../../models/registry.js";
import { type Command, flag } from "../command.js";

/**
 * `radiolens models`: the architectures the zoo can build.
 *
 * @example
 * ```ts
 * await runCli(["models", "--json"]);
 * ```
 */
export const modelsCommand: Command = {
  help: "Usage: radiolens models [--json]",
  options: { json: { type: "boolean" } },
  async run(args, io) {
    const rows = [...MODELS.values()].map((m) => ({ name: m.name, description: m.description }));
    if (flag(args, "json")) {
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const w = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) io.stdout(`${r.name.padEnd(w)}  ${r.description}\n`);
    return 0;
  },
};
