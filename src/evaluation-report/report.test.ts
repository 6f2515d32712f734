/** The HTML report end to end: a tiny model trained on PneumoniaMNIST, the report built, opened in headless Chromium with no console error and no request, and screenshotted. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { sharedData } from "../../test/support/shared-data.js";
import { reportCommand } from "../cli/commands/report.js";
import { tf } from "../engine/backend.js";
import { explainFile } from "../explain/explain.js";
import { decodePng } from "../io/image/png.js";
import { readImage } from "../io/index.js";
import { trainModel } from "../train/run.js";
import { buildReport } from "./report.js";

const NPZ = sharedData("medmnist/pneumoniamnist.npz");
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

test("the report is one self-contained file that renders in headless Chromium without errors", async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const dir = mkdtempSync(join(tmpdir(), "rl-report-"));
  const bundle = join(dir, "model");
  await trainModel({
    data: NPZ,
    model: "seed-cnn",
    epochs: 1,
    batchSize: 32,
    seed: 1,
    out: bundle,
    limit: 512,
    backend: "wasm",
  });
  const before = tf.memory().numTensors;
  const out = join(dir, "report.html");
  const r = await buildReport({ model: bundle, data: NPZ, split: "test", out, bootstrap: 200, seed: 3 });
  assert.equal(tf.memory().numTensors, before, "the report leaked tensors");
  const html = readFileSync(out, "utf8");

  // Content: the sections, every headline metric, the official test split size, the samples.
  assert.equal(r.evaluation.n_samples, 624);
  for (const s of [
    "Dataset",
    "Metrics on test",
    "Figures",
    "Sample predictions with heatmaps",
    "Model card",
    "Intended use",
  ])
    assert.ok(html.includes(s), `section ${s} missing`);
  for (const k of ["balanced accuracy", "specificity", "average precision", "brier", "ece"])
    assert.ok(html.includes(`<td>${k}</td>`), k);
  assert.ok(
    html.includes("<td>test</td><td>624</td><td>234 (37.5%)</td><td>390 (62.5%)</td>"),
    "test split counts",
  );
  assert.ok(html.includes("the same file the model was trained on"));
  assert.equal(r.sampleIndices.length, 8);
  assert.equal((html.match(/alt="gradcam overlay/g) ?? []).length, 8);
  // Self-contained: nothing but data URIs and in-page anchors as sources or links.
  const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] as string);
  assert.ok(refs.length > 20);
  for (const ref of refs)
    assert.ok(ref.startsWith("data:") || ref.startsWith("#"), `external reference ${ref.slice(0, 60)}`);
  assert.ok(!/<script|<link|@import|url\(/i.test(html), "no scripts, stylesheets or CSS urls");

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (q) => errors.push(`request failed: ${q.url().slice(0, 80)}`));
    page.on("request", (q) => {
      if (!q.url().startsWith("data:")) requests.push(q.url());
    });
    const url = pathToFileURL(out).href;
    await page.goto(url, { waitUntil: "load" });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [url], "the page fetched something besides itself");
    // Every image decoded (a broken data URI has naturalWidth 0).
    const broken = await page.$$eval("img", (imgs) =>
      (imgs as unknown as { complete: boolean; naturalWidth: number; alt: string }[])
        .filter((i) => !i.complete || i.naturalWidth === 0)
        .map((i) => i.alt),
    );
    assert.deepEqual(broken, []);
    assert.equal(await page.locator("figure img").count(), 5); // ROC, PR, confusion, reliability, training curves
    const shot = join(dir, "report.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 50_000);
    console.log(`report ${r.bytes} bytes, screenshot ${shot}`);
  } finally {
    await browser.close();
  }

  // The command writes the same kind of file.
  let text = "";
  const code = await reportCommand.run(
    {
      values: {
        model: bundle,
        data: NPZ,
        out: join(dir, "cli.html"),
        bootstrap: "0",
        samples: "2",
        method: "occlusion",
      },
      positionals: [],
    },
    { stdout: (t) => (text += t), stderr: () => {}, isTTY: false },
  );
  assert.equal(code, 0);
  assert.match(text, /cli\.html/);
  assert.equal(
    (readFileSync(join(dir, "cli.html"), "utf8").match(/alt="occlusion overlay/g) ?? []).length,
    2,
  );

  // A real chest X-ray of its own size: the overlay lands on that image's grid, not the model's 28 × 28.
  const xray = sharedData("xray/COVID-00003a.jpg");
  const src = await readImage(xray);
  const heat = join(dir, "xray-gradcam.png");
  const e = await explainFile({
    model: bundle,
    image: xray,
    out: heat,
    method: "gradcam++",
    colormap: "inferno",
  });
  const png = decodePng(readFileSync(heat));
  assert.deepEqual(png.shape, [src.shape[0], src.shape[1], 3]);
  assert.deepEqual([e.rows, e.cols], [src.shape[0], src.shape[1]]);
  assert.equal(tf.memory().numTensors, before);
});
