/** The oneDNN addon's interface comes from one spec: the generated C++ and TypeScript match it, and the addon checks it. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ACT, BIN_OP, POOL_ALG, packConvParams, packMatMulParams, packPoolParams } from "./abi.js";
import { loadNativeAddon } from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const generator = join(root, "scripts", "gen-native-abi.mjs");

interface Spec {
  enums: { cpp: string; ts: string; values: [string, string, number][] }[];
  layouts: { name: string; ts: string; head: string[]; perDim: string[]; tail: string[] }[];
}
const spec = JSON.parse(readFileSync(join(here, "abi.json"), "utf8")) as Spec;

test("abi.h and abi.ts are what the generator makes of abi.json, and a changed spec changes them", async () => {
  const check = spawnSync(process.execPath, [generator, "--check"], { encoding: "utf8" });
  assert.equal(check.status, 0, `abi.h/abi.ts drifted from abi.json: ${check.stderr}`);
  const { generate } = (await import(generator)) as {
    generate(s: Spec): { h: string; ts: string };
  };
  const made = generate(spec);
  assert.equal(made.h, readFileSync(join(here, "abi.h"), "utf8"));
  assert.equal(made.ts, readFileSync(join(here, "abi.ts"), "utf8"));
  // The check can fail: moving one op code or one layout field changes both files.
  const moved = structuredClone(spec);
  (moved.enums[1]?.values[7] as [string, string, number])[2] = 9;
  moved.layouts[0]?.perDim.reverse();
  const other = generate(moved);
  assert.notEqual(other.h, made.h);
  assert.notEqual(other.ts, made.ts);
});

test("neither side keeps its own copy: onednn.cc includes abi.h, backend.ts imports abi.ts", () => {
  const cc = readFileSync(join(here, "onednn.cc"), "utf8");
  const ts = readFileSync(join(here, "backend.ts"), "utf8");
  assert.match(cc, /#include "abi\.h"/);
  for (const e of spec.enums)
    assert.doesNotMatch(cc, new RegExp(`enum\\s+${e.cpp}\\b`), `enum ${e.cpp} in onednn.cc`);
  // Positional offsets such as p[5 + 7 * i] belong to the generated layout helpers.
  assert.doesNotMatch(cc, /p\[\d+ \+ \d+ \* /);
  assert.match(ts, /from "\.\/abi\.js"/);
  assert.doesNotMatch(ts, /const (ACT|BINARY|UNARY|GRAD_OP) = \{[^}]*:\s*\d/);
  assert.doesNotMatch(ts, /Int32Array\.from\(\[\s*(batch|\d)/);
});

test("the packers write each field where the spec puts it", () => {
  const conv = packConvParams({
    nd: 2,
    N: 4,
    IC: 3,
    OC: 8,
    G: 1,
    act: ACT.relu,
    dims: [
      { in: 28, k: 3, out: 26, stride: 1, dil: 0, padL: 0, padR: 0 },
      { in: 30, k: 5, out: 15, stride: 2, dil: 1, padL: 1, padR: 2 },
    ],
  });
  const layout = spec.layouts.find((l) => l.name === "conv");
  assert.ok(layout);
  assert.equal(conv.length, layout.head.length + 2 * layout.perDim.length + layout.tail.length);
  assert.deepEqual([...conv], [2, 4, 3, 8, 1, 28, 3, 26, 1, 0, 0, 0, 30, 5, 15, 2, 1, 1, 2, ACT.relu]);
  assert.throws(
    () => packConvParams({ nd: 3, N: 1, IC: 1, OC: 1, G: 1, act: 0, dims: [] }),
    /nd 3 but 0 dims/,
  );
  const pool = packPoolParams({
    nd: 2,
    N: 1,
    C: 2,
    alg: POOL_ALG.avg,
    dims: [
      { in: 4, k: 2, out: 2, stride: 2, padL: 0, padR: 0 },
      { in: 6, k: 3, out: 2, stride: 3, padL: 0, padR: 0 },
    ],
  });
  assert.deepEqual([...pool], [2, 1, 2, 1, 4, 2, 2, 2, 0, 0, 6, 3, 2, 3, 0, 0]);
  const mm = { B: 2, M: 3, K: 4, N: 5, batchA: 2, batchB: 1, transA: 0, transB: 1, hasBias: 1, act: ACT.elu };
  assert.deepEqual([...packMatMulParams(mm)], [2, 3, 4, 5, 2, 1, 0, 1, 1, ACT.elu]);
  assert.equal(BIN_OP.ReluGrad, 8);
});

test("the addon refuses parameter arrays that do not match the spec, naming abi.json", (t) => {
  const addon = loadNativeAddon() as
    | (Record<string, unknown> & {
        poolForward(p: Int32Array, x: Float32Array, y: Float32Array): void;
        matMul(
          p: Int32Array,
          a: Float32Array,
          b: Float32Array,
          bias: Float32Array | null,
          out: Float32Array,
          alpha: number,
        ): void;
      })
    | undefined;
  if (!addon) {
    t.diagnostic("oneDNN addon not built on this machine: only the spec and the packers are checked");
    return;
  }
  const x = new Float32Array(16);
  const y = new Float32Array(4);
  // A valid 2D max pooling runs; the same array cut short is refused before any index is read.
  const p = packPoolParams({
    nd: 2,
    N: 1,
    C: 1,
    alg: POOL_ALG.max,
    dims: [
      { in: 4, k: 2, out: 2, stride: 2, padL: 0, padR: 0 },
      { in: 4, k: 2, out: 2, stride: 2, padL: 0, padR: 0 },
    ],
  });
  x.forEach((_, i) => {
    x[i] = i;
  });
  addon.poolForward(p, x, y);
  assert.deepEqual([...y], [5, 7, 13, 15]);
  assert.throws(() => addon.poolForward(p.subarray(0, 8), x, y), /pooling parameters do not match abi\.json/);
  const mm = packMatMulParams({
    B: 1,
    M: 1,
    K: 1,
    N: 1,
    batchA: 1,
    batchB: 1,
    transA: 0,
    transB: 0,
    hasBias: 0,
    act: 0,
  });
  assert.throws(
    () => addon.matMul(mm.subarray(0, 9), x, x, null, y, 0),
    /matmul parameters do not match abi\.json/,
  );
});
