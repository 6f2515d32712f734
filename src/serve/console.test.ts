/** End-to-end test of the web console in headless Chromium: sign in, upload a DICOM, see the prediction, overlay on, screenshot. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { chromium } from "playwright-core";
import { writeTestBundle } from "../../test/support/serve.js";
import { REPO_ROOT, sharedData } from "../../test/support/shared-data.js";
import { initEngine } from "../engine/backend.js";
import { buildApp } from "./app.js";
import { buildMultipart } from "./multipart.js";
import { webConsoleRoutes } from "./routes/web.js";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];
const WEB = join(REPO_ROOT, "web");
const DIST = join(WEB, "dist");
const KEY = "console-clinician-key-0123456789";
const work = mkdtempSync(join(tmpdir(), "rl-console-"));
let app: FastifyInstance;
let base = "";

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir, { recursive: true }).map(String)) {
    if (name.startsWith("dist") || name.includes("node_modules")) continue;
    t = Math.max(t, statSync(join(dir, name)).mtimeMs);
  }
  return t;
}

before(async () => {
  // Build the console when its sources are newer than the bundle.
  if (!existsSync(join(DIST, "index.html")) || statSync(join(DIST, "index.html")).mtimeMs < newest(WEB)) {
    const b = spawnSync(
      process.execPath,
      [join(REPO_ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", join(WEB, "vite.config.ts")],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.equal(b.status, 0, `vite build: ${b.stderr}${b.stdout}`);
  }
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  app = await buildApp({
    models: [{ dir: join(work, "model"), id: "default" }],
    dataDir: join(work, "data"),
    auth: { apiKeys: [{ id: "dr-console", role: "clinician", key: KEY }] },
  });
  await app.register(webConsoleRoutes, { root: DIST });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

after(async () => {
  await app?.close();
  rmSync(work, { recursive: true, force: true });
});

test("the console's files load without credentials; its data does not; traversal is refused", async () => {
  const page = await fetch(`${base}/console/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.equal((await fetch(`${base}/v1/models`)).status, 401);
  const r = await fetch(`${base}/console/..%2f..%2fpackage.json`);
  assert.notEqual(r.status, 200);
});

test("headless Chromium: sign in, upload CT_small.dcm, prediction shown, Grad-CAM overlay on, screenshot", {
  timeout: 120_000,
}, async (t) => {
  assert.ok(existsSync(CHROMIUM), "Debian chromium is installed at /usr/bin/chromium");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  try {
    // The harness evaluates strings in the page, which the console's CSP (checked above) forbids to scripts.
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/console/`);
    await page.fill("#api-key", "wrong-key-0000000000000");
    await page.click("#signin-button");
    // Page-side code is passed as strings: this file compiles without DOM types.
    await page.waitForFunction(`(document.getElementById("signin-error")?.textContent ?? "").length > 0`);
    await page.fill("#api-key", KEY);
    await page.click("#signin-button");
    await page.waitForSelector("#app:not([hidden])", { timeout: 20_000 });
    assert.match((await page.textContent("#card")) ?? "", /seed-cnn-test/);

    await page.setInputFiles("#file", sharedData("dicom/pydicom/CT_small.dcm"));
    await page.waitForFunction(
      `(document.getElementById("prediction-label")?.textContent ?? "").length > 0`,
      null,
      {
        timeout: 30_000,
      },
    );
    assert.equal((await page.textContent("#preview-error")) ?? "", "", "the DICOM is drawn");
    const label = (await page.textContent("#prediction-label")) ?? "";
    assert.match(label, /^(normal|pneumonia)/);
    assert.match((await page.textContent("#probabilities")) ?? "", /pneumonia\s*0\.\d{3}/);
    await page.waitForSelector("#overlay-toggle:not([disabled])", { timeout: 20_000 });

    const centre = (): Promise<number[]> =>
      page.evaluate(
        `Array.from(document.getElementById("canvas").getContext("2d").getImageData(256, 256, 1, 1).data)`,
      );
    const plain = await centre();
    await page.check("#overlay-toggle");
    const overlaid = await centre();
    const kept = process.env["RADIOLENS_E2E_SCREENSHOT"] ?? join(tmpdir(), "radiolens-console-e2e.png");
    await page.screenshot({ path: kept.replace(/\.png$/, "-before-assert.png"), fullPage: true });
    assert.notDeepEqual(overlaid, plain, `the overlay changes the drawn pixels (${plain} → ${overlaid})`);
    assert.ok(plain[0] === plain[1] && plain[1] === plain[2], "without the overlay the CT is grey");

    // Kept after the run (CI artifact): RADIOLENS_E2E_SCREENSHOT or the temp folder.
    const shot = process.env["RADIOLENS_E2E_SCREENSHOT"] ?? join(tmpdir(), "radiolens-console-e2e.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, "screenshot written");
    t.diagnostic(`screenshot: ${shot}`);
    // A JPEG 2000 DICOM the browser cannot decode: the server's rendering is shown instead.
    await page.evaluate(`document.getElementById("status").textContent = ""`);
    await page.setInputFiles("#file", sharedData("dicom/pydicom/MR_small_jp2klossless.dcm"));
    await page.waitForFunction(
      `(document.getElementById("status")?.textContent ?? "").startsWith("Prediction ready")`,
      null,
      {
        timeout: 30_000,
      },
    );
    assert.equal((await page.textContent("#preview-error")) ?? "", "", "rendered by the server");
    const mr = await centre();
    assert.ok(mr[3] === 255 && mr[0] === mr[1], "a grey MR is drawn");

    // A received study: stored by STOW-RS, listed under "Received", opened, its stored analysis shown.
    const { body, contentType } = buildMultipart(
      [new Uint8Array(readFileSync(sharedData("dicom/pydicom/MR_small.dcm")))],
      "application/dicom",
    );
    const stow = await fetch(`${base}/dicomweb/studies`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": contentType },
      body,
    });
    assert.equal(stow.status, 200);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await app.radiolens.repo.countPredictions()) < 1)
      await new Promise((r) => setTimeout(r, 50));
    await page.click("#refresh");
    await page.click("#studies li:first-child button");
    await page.waitForFunction(
      `document.getElementById("status")?.textContent === "Stored analysis shown"`,
      null,
      {
        timeout: 20_000,
      },
    );
    assert.equal((await page.textContent("#preview-error")) ?? "", "", "the received MR is drawn");
    assert.match((await page.textContent("#probabilities")) ?? "", /normal\s*0\.\d{3}/);
    assert.deepEqual(errors, [], "no script errors in the page");
  } finally {
    await browser.close();
  }
});
