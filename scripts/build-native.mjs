#!/usr/bin/env node
// Builds the oneDNN addon (src/engine/native) with node-gyp when oneDNN is installed; otherwise prints one notice and exits 0.
//
// RADIOLENS_NATIVE=0 skips it on purpose. A failed compile with oneDNN present also exits 0 (the engine then falls back to WASM) unless
// RADIOLENS_REQUIRE_NATIVE=1, which CI sets to make a broken native build fail loudly.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "src", "engine", "native");
const out = join(dir, "build", "Release", "radiolens_onednn.node");
const require = createRequire(import.meta.url);
const strict = process.env.RADIOLENS_REQUIRE_NATIVE === "1";

function notice(msg) {
  console.log(`build-native: ${msg}`);
  process.exit(strict ? 1 : 0);
}

if (process.env.RADIOLENS_NATIVE === "0") {
  console.log("build-native: RADIOLENS_NATIVE=0; skipping the native engine (the WASM backend will be used)");
  process.exit(0);
}

const header = ["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"].find(
  existsSync,
);
const libDirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"];
const lib = libDirs.some((d) => existsSync(join(d, "libdnnl.so")));
if (!header || !lib)
  notice("oneDNN (libdnnl-dev) not found; skipping the native engine (the WASM backend will be used)");

let gyp;
try {
  gyp = require.resolve("node-gyp/bin/node-gyp.js");
} catch {
  notice("node-gyp is not installed; skipping the native engine (the WASM backend will be used)");
}

// Skip the compile when the addon is newer than every source (keeps `npm run build` fast).
const sources = readdirSync(dir).filter((f) => f.endsWith(".cc") || f.endsWith(".h") || f === "binding.gyp");
if (existsSync(out) && !process.argv.includes("--force")) {
  const built = statSync(out).mtimeMs;
  if (sources.every((f) => statSync(join(dir, f)).mtimeMs < built)) process.exit(0);
}

const args = [
  gyp,
  "rebuild",
  "--release",
  `--jobs=${Math.max(1, Math.min(4, (await import("node:os")).availableParallelism()))}`,
];
// Debian's nodejs ships its headers in /usr/include/node; use them instead of downloading.
if (existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
const res = spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8" });
if (res.status !== 0) {
  process.stderr.write(`${res.stdout ?? ""}${res.stderr ?? ""}`.split("\n").slice(-40).join("\n"));
  notice("compiling the oneDNN addon failed (output above); the WASM backend will be used");
}
console.log(`build-native: built ${out.slice(root.length + 1)}`);
