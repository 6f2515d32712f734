#!/usr/bin/env node
// Runs every *.test.ts beside the code with node:test (TypeScript loaded through tsx); node:test prints the closing counts.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}

let files = walk(join(root, "src"), []).sort();
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=600000", ...files],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, RADIOLENS_LOG_LEVEL: process.env.RADIOLENS_LOG_LEVEL ?? "warn" },
  },
);
process.exit(res.status ?? 1);
