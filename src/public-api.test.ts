// The package as users get it: `npm pack`, installed into a fresh project, imported as "radiolens" by the README's program.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeTestBundle } from "../test/support/bundle.js";
import { initEngine } from "./engine/backend.js";

const root = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "rl-pack-"));
let tarball = "";
let packed: string[] = [];

before(() => {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);
});
after(() => rmSync(work, { recursive: true, force: true }));

test("the tarball holds the library and executable, and no tests, test support or fixtures", () => {
  assert.ok(packed.includes("dist/index.js") && packed.includes("dist/index.d.ts"), "public entry point");
  assert.ok(packed.includes("bin/radiolens.js"));
  const leaked = packed.filter((p) =>
    /\.test\.|(^|\/)testing\.|pg-testing|sklearn-agreement|\.py$|^test\//.test(p),
  );
  assert.deepEqual(leaked, []);
});

test("a fresh project imports radiolens from the packed tarball and runs the README's program", async () => {
  const project = join(work, "project");
  const modules = join(project, "node_modules");
  mkdirSync(join(modules, "radiolens"), { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", join(modules, "radiolens"), "--strip-components=1"]);
  // The dependencies the tarball declares, linked from this checkout's install instead of fetched again.
  const manifest = JSON.parse(readFileSync(join(modules, "radiolens", "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  for (const dep of Object.keys(manifest.dependencies)) {
    const scope = dep.startsWith("@") ? dep.split("/")[0]! : undefined;
    if (scope) mkdirSync(join(modules, scope), { recursive: true });
    symlinkSync(join(root, "node_modules", dep), join(modules, dep));
  }
  // Transitive dependencies resolve through the hoisted tree of this checkout.
  for (const name of readdirSync(join(root, "node_modules"))) {
    if (name.startsWith(".") || name === "radiolens") continue;
    if (name.startsWith("@")) {
      for (const sub of readdirSync(join(root, "node_modules", name))) {
        const target = join(modules, name, sub);
        mkdirSync(join(modules, name), { recursive: true });
        try {
          symlinkSync(join(root, "node_modules", name, sub), target);
        } catch {}
      }
      continue;
    }
    try {
      symlinkSync(join(root, "node_modules", name), join(modules, name));
    } catch {}
  }
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", type: "module", private: true }),
  );
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use as a library"));
  const program = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(program, "README has a js program under 'Use as a library'");
  writeFileSync(join(project, "predict.mjs"), program);
  const bundle = join(work, "bundle");
  await initEngine({ backend: "cpu" });
  await writeTestBundle(bundle);
  const image = join(root, "..", "shared", "data", "dicom", "pydicom", "CT_small.dcm");
  const out = execFileSync(process.execPath, ["predict.mjs", image, bundle], {
    cwd: project,
    encoding: "utf8",
    env: { ...process.env, RADIOLENS_LOG_LEVEL: "error" },
  });
  const prediction = JSON.parse(out.trim().split("\n").at(-1)!) as {
    probabilities: Record<string, number>;
    label: string;
  };
  assert.deepEqual(Object.keys(prediction.probabilities).sort(), ["normal", "pneumonia"]);
  const total = Object.values(prediction.probabilities).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
  assert.ok(["normal", "pneumonia"].includes(prediction.label));
  // The package's own entry is what resolved, not this checkout's sources.
  const resolved = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", 'console.log(import.meta.resolve("radiolens"))'],
    {
      cwd: project,
      encoding: "utf8",
    },
  );
  assert.match(resolved, /project\/node_modules\/radiolens\/dist\/index\.js/);
});
