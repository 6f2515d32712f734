#!/usr/bin/env node
// Builds the native addons with node-gyp when their system libraries are installed; otherwise prints one notice each and exits 0.
//
// - src/engine/native (oneDNN): the `onednn` tfjs backend; without it the engine falls back to WASM. Its interface
//   (abi.h, abi.ts) is generated from abi.json first.
// - src/io/dicom/native (OpenJPEG): native JPEG 2000 decoding; without it the WASM OpenJPEG build decodes. When
//   libdcmtk-dev is installed too, the same addon decodes JPEG Lossless and 12-bit JPEG with DCMTK's IJG libraries
//   (binding.gyp decides); without it jpeg-lossless-decoder-js and dcmjs-codecs decode those.
// - src/io/image/native (libjpeg-turbo's TurboJPEG): native JPEG decoding for uploads; without it the WASM
//   libjpeg-turbo build decodes.
//
// RADIOLENS_NATIVE=0 skips them all on purpose. A failed compile with the library present also exits 0 (the WASM path is
// used) unless RADIOLENS_REQUIRE_NATIVE=1, which CI sets to make a broken native build fail loudly.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const strict = process.env.RADIOLENS_REQUIRE_NATIVE === "1";
const libDirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"];

const ADDONS = [
  {
    what: "the oneDNN engine",
    fallback: "the WASM backend will be used",
    dir: join(root, "src", "engine", "native"),
    file: "radiolens_onednn.node",
    headers: ["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"],
    lib: "libdnnl.so",
    package: "libdnnl-dev",
  },
  {
    what: "the native JPEG 2000 decoder",
    fallback: "the WASM OpenJPEG build will decode",
    dir: join(root, "src", "io", "dicom", "native"),
    file: "radiolens_codecs.node",
    headers: ["/usr/include/openjpeg-2.5/openjpeg.h", "/usr/local/include/openjpeg-2.5/openjpeg.h"],
    lib: "libopenjp2.so",
    package: "libopenjp2-7-dev",
  },
  {
    what: "the native JPEG decoder",
    fallback: "the WASM libjpeg-turbo build will decode",
    dir: join(root, "src", "io", "image", "native"),
    file: "radiolens_jpeg.node",
    headers: ["/usr/include/turbojpeg.h", "/usr/local/include/turbojpeg.h"],
    lib: "libturbojpeg.so",
    package: "libturbojpeg0-dev",
  },
];

let failed = false;
function notice(msg) {
  console.log(`build-native: ${msg}`);
  failed = true;
}

// The oneDNN addon's op codes and parameter layouts come from one spec (src/engine/native/abi.json): regenerate
// abi.h and abi.ts first, so the C++ and the TypeScript sides cannot drift apart.
const abi = spawnSync(process.execPath, [join(root, "scripts", "gen-native-abi.mjs")], { stdio: "inherit" });
if (abi.status !== 0) process.exit(1);

if (process.env.RADIOLENS_NATIVE === "0") {
  console.log("build-native: RADIOLENS_NATIVE=0; skipping the native addons (the WASM paths will be used)");
  process.exit(0);
}

let gyp;
try {
  gyp = require.resolve("node-gyp/bin/node-gyp.js");
} catch {
  notice("node-gyp is not installed; skipping the native addons (the WASM paths will be used)");
  process.exit(strict ? 1 : 0);
}

for (const a of ADDONS) {
  const out = join(a.dir, "build", "Release", a.file);
  if (!a.headers.some(existsSync) || !libDirs.some((d) => existsSync(join(d, a.lib)))) {
    notice(`${a.package} not found; skipping ${a.what} (${a.fallback})`);
    continue;
  }
  // Skip the compile when the addon is newer than every source (keeps `npm run build` fast).
  const sources = readdirSync(a.dir).filter(
    (f) => f.endsWith(".cc") || f.endsWith(".h") || f === "binding.gyp",
  );
  if (existsSync(out) && !process.argv.includes("--force")) {
    const built = statSync(out).mtimeMs;
    if (sources.every((f) => statSync(join(a.dir, f)).mtimeMs < built)) continue;
  }
  const args = [gyp, "rebuild", "--release", `--jobs=${Math.max(1, Math.min(4, availableParallelism()))}`];
  // Debian's nodejs ships its headers in /usr/include/node; use them instead of downloading.
  if (existsSync("/usr/include/node/node_api.h")) args.push("--nodedir=/usr");
  const res = spawnSync(process.execPath, args, { cwd: a.dir, encoding: "utf8" });
  if (res.status !== 0) {
    process.stderr.write(`${res.stdout ?? ""}${res.stderr ?? ""}`.split("\n").slice(-40).join("\n"));
    notice(`compiling ${a.what} failed (output above); ${a.fallback}`);
    continue;
  }
  console.log(`build-native: built ${out.slice(root.length + 1)}`);
}
process.exit(failed && strict ? 1 : 0);
