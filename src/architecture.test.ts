/** The package's layering as a test: folders import only lower layers, deid only core and io/dicom, and no file imports itself through a cycle. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";

const SRC = import.meta.dirname;

/**
 * Each top-level folder's layer: an import must point to a strictly lower layer (or stay in its own folder).
 * core ← io/transforms/metrics/engine ← data/models/reports ← train/explain/results ← serve ← batch/cli ← index.
 */
const LAYER: Readonly<Record<string, number>> = {
  core: 0,
  "version.ts": 0,
  engine: 1,
  io: 1,
  metrics: 1,
  transforms: 1,
  data: 2,
  models: 2,
  deid: 2,
  "radiology-reports": 2,
  train: 3,
  explain: 3,
  results: 3,
  "evaluation-report": 4,
  serve: 4,
  batch: 5,
  cli: 6,
  "index.ts": 7,
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "node_modules" && name !== "build") sources(p, out);
    } else if (/\.ts$/.test(name) && !/\.(test|d)\.ts$/.test(name)) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports of a file (type-only ones included: a cycle of types is still a cycle). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = (m[1] ?? m[2]) as string;
    found.push(normalize(join(dirname(file), spec)).replace(/\.js$/, ".ts"));
  }
  return found;
}

const topOf = (file: string): string => relative(SRC, file).split("/")[0] as string;

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC))]));

test("every top-level folder of src/ has a layer", () => {
  const tops = new Set(files.map(topOf));
  for (const t of tops) assert.ok(t in LAYER, `${t} has no layer in src/architecture.test.ts`);
});

test("imports point only to lower layers", () => {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    const a = topOf(from);
    for (const to of targets) {
      const b = topOf(to);
      if (a !== b && !((LAYER[b] ?? 99) < (LAYER[a] ?? -1)))
        wrong.push(`${relative(SRC, from)} → ${relative(SRC, to)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("deid uses only core and io/dicom", () => {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    if (topOf(from) !== "deid") continue;
    for (const to of targets) {
      const r = relative(SRC, to);
      if (!/^(deid|core)\//.test(r) && !r.startsWith("io/dicom/"))
        wrong.push(`${relative(SRC, from)} → ${r}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("no import cycles between files", () => {
  // Tarjan's strongly connected components; any component of more than one file is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        comp.push(relative(SRC, w));
      } while (w !== v);
      if (comp.length > 1) cycles.push(comp.sort());
    }
  };
  for (const f of graph.keys()) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test("the import scanner sees imports, re-exports and dynamic imports", () => {
  // A scanner that found nothing would pass every test above.
  const edges = [...graph.values()].reduce((s, t) => s + t.length, 0);
  assert.ok(edges > files.length, `${edges} imports in ${files.length} files`);
  const index = importsOf(join(SRC, "index.ts"));
  assert.ok(index.some((t) => t.endsWith("/core/errors.ts") || t.includes("/core/")));
});
