/** End-to-end test of the web console (Cornerstone3D) in headless Chromium: storescu → worklist → series, W/L, heatmap, SEG, SR, roles. */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { type Browser, chromium, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { writeTestBundle } from "../../test/support/serve.js";
import { freePort, REPO_ROOT, sharedData } from "../../test/support/shared-data.js";
import { jet } from "../../web/src/heat.js";
import { PRESETS } from "../../web/src/presets.js";
import { initEngine } from "../engine/backend.js";
import { WINDOW_PRESETS } from "../io/dicom/pipeline.js";
import { readNifti } from "../io/nifti/index.js";
import { newUid } from "../radiology-reports/sr.js";
import { buildApp } from "./app.js";
import { type DimseServer, startDimseServer } from "./dimse.js";
import { buildMultipart, contentTypeParams, parseMultipart } from "./multipart.js";
import { webConsoleRoutes } from "./routes/web.js";
import { writePart10 } from "./secondary-capture.js";

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
/** Screenshots kept after the run (git-ignored; CI keeps them as artifacts). */
const SHOTS = process.env["RADIOLENS_E2E_ARTIFACTS"] ?? join(REPO_ROOT, "test-artifacts", "console");
const KEYS = {
  viewer: "console-viewer-key-0123456789",
  clinician: "console-clinician-key-0123456789",
  admin: "console-admin-key-0123456789",
} as const;
const work = mkdtempSync(join(tmpdir(), "rl-console-"));
let app: FastifyInstance;
let scp: DimseServer;
let scpPort = 0;
let base = "";

// ---- A synthetic 100-slice 512×512 CT series with known Hounsfield values ----

const N = 100;
const SIZE = 512;
const STUDY = newUid();
const SERIES = newUid();
const FOR = newUid();
const SOPS = Array.from({ length: N }, () => newUid());
const CT_CLASS = "1.2.840.10008.5.1.4.1.1.2";
/** Air outside a 200-pixel disk of soft tissue (40 HU); a 32-pixel square whose value encodes the slice. */
const HU = { air: -1000, tissue: 40, marker: (k: number) => -500 + 10 * k } as const;
const inDisk = (x: number, y: number, r: number, cx = SIZE / 2, cy = SIZE / 2): boolean =>
  (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
/** The SEG's lesion: a disk of radius 40 around (300, 256) on slices 40-59. */
const LESION = { cx: 300, cy: 256, r: 40, from: 40, to: 59 } as const;

function ctSlice(k: number): Uint8Array {
  const px = new Int16Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++)
      px[y * SIZE + x] =
        x >= 100 && x < 132 && y >= 240 && y < 272 ? HU.marker(k) : inDisk(x, y, 200) ? HU.tissue : HU.air;
  return writePart10({
    SOPClassUID: CT_CLASS,
    SOPInstanceUID: SOPS[k],
    StudyInstanceUID: STUDY,
    SeriesInstanceUID: SERIES,
    FrameOfReferenceUID: FOR,
    Modality: "CT",
    PatientName: "Viewer^Test",
    PatientID: "RL-VIEW-1",
    StudyDate: "20260101",
    StudyTime: "120000",
    AccessionNumber: "ACC-VIEW-1",
    BodyPartExamined: "CHEST",
    SeriesNumber: 1,
    InstanceNumber: k + 1,
    ImageType: ["ORIGINAL", "PRIMARY", "AXIAL"],
    ImagePositionPatient: [-128, -128, k * 2.5],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: [0.5, 0.5],
    SliceThickness: 2.5,
    Rows: SIZE,
    Columns: SIZE,
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    RescaleIntercept: 0,
    RescaleSlope: 1,
    RescaleType: "HU",
    WindowCenter: 40,
    WindowWidth: 400,
    PixelData: px.buffer,
    _vrMap: { PixelData: "OW" },
  });
}

/** A binary DICOM SEG (PS3.3 A.51) of the lesion over its slices, built with dcmjs naturalized keywords. */
function lesionSeg(): Uint8Array {
  const frames = Array.from({ length: LESION.to - LESION.from + 1 }, (_, i) => LESION.from + i);
  const bits = new Uint8Array((frames.length * SIZE * SIZE) / 8);
  frames.forEach((_, f) => {
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) {
        if (!inDisk(x, y, LESION.r, LESION.cx, LESION.cy)) continue;
        const p = f * SIZE * SIZE + y * SIZE + x;
        bits[p >> 3] = (bits[p >> 3] as number) | (1 << (p & 7));
      }
  });
  const code = (v: string, s: string, m: string) => ({
    CodeValue: v,
    CodingSchemeDesignator: s,
    CodeMeaning: m,
  });
  return writePart10({
    SOPClassUID: "1.2.840.10008.5.1.4.1.1.66.4",
    SOPInstanceUID: newUid(),
    StudyInstanceUID: STUDY,
    SeriesInstanceUID: newUid(),
    FrameOfReferenceUID: FOR,
    Modality: "SEG",
    PatientName: "Viewer^Test",
    PatientID: "RL-VIEW-1",
    StudyDate: "20260101",
    StudyTime: "120000",
    AccessionNumber: "ACC-VIEW-1",
    SeriesNumber: 300,
    InstanceNumber: 1,
    ImageType: ["DERIVED", "PRIMARY"],
    ContentLabel: "LESION",
    ContentDescription: "Test lesion",
    ContentCreatorName: "Test^Reader",
    SegmentationType: "BINARY",
    Rows: SIZE,
    Columns: SIZE,
    NumberOfFrames: frames.length,
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: "00",
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: SERIES,
        ReferencedInstanceSequence: frames.map((k) => ({
          ReferencedSOPClassUID: CT_CLASS,
          ReferencedSOPInstanceUID: SOPS[k],
        })),
      },
    ],
    SegmentSequence: [
      {
        SegmentNumber: 1,
        SegmentLabel: "Lesion",
        SegmentAlgorithmType: "MANUAL",
        SegmentedPropertyCategoryCodeSequence: [code("49755003", "SCT", "Morphologically Altered Structure")],
        SegmentedPropertyTypeCodeSequence: [code("4147007", "SCT", "Mass")],
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
        PixelMeasuresSequence: [{ PixelSpacing: [0.5, 0.5], SliceThickness: 2.5, SpacingBetweenSlices: 2.5 }],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map((k) => ({
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: CT_CLASS,
              ReferencedSOPInstanceUID: SOPS[k],
              PurposeOfReferenceCodeSequence: [
                code("121322", "DCM", "Source image for image processing operation"),
              ],
            },
          ],
          DerivationCodeSequence: [code("113076", "DCM", "Segmentation")],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: [1, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: [-128, -128, k * 2.5] }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
    })),
    PixelData: bits.buffer,
    _vrMap: { PixelData: "OB" },
  });
}

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir, { recursive: true }).map(String)) {
    if (name.startsWith("dist") || name.includes("node_modules")) continue;
    t = Math.max(t, statSync(join(dir, name)).mtimeMs);
  }
  return t;
}

function storescu(files: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      "storescu",
      ["-aet", "MODALITY", "-aec", "RADIOLENS", "-to", "30", "127.0.0.1", String(scpPort), ...files],
      { encoding: "utf8", timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

before(async () => {
  // Build the console when its sources are newer than the bundle.
  if (!existsSync(join(DIST, "index.html")) || statSync(join(DIST, "index.html")).mtimeMs < newest(WEB)) {
    const b = spawnSync(
      process.execPath,
      [join(REPO_ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", join(WEB, "vite.config.ts")],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 600_000 },
    );
    assert.equal(b.status, 0, `vite build: ${b.stderr}${b.stdout}`);
  }
  mkdirSync(SHOTS, { recursive: true });
  await initEngine({ backend: "wasm" });
  await writeTestBundle(join(work, "model"));
  app = await buildApp({
    // The default results (report SR, heatmap Secondary Capture) and the heatmap as a Parametric Map.
    models: [
      {
        dir: join(work, "model"),
        id: "default",
        results: ["report-sr", "secondary-capture", "parametric-map"],
      },
    ],
    dataDir: join(work, "data"),
    auth: {
      apiKeys: [
        { id: "dr-viewer", role: "viewer", key: KEYS.viewer },
        { id: "dr-console", role: "clinician", key: KEYS.clinician },
        { id: "it-admin", role: "admin", key: KEYS.admin },
      ],
    },
    limits: { rateMax: 100_000 },
  });
  await app.register(webConsoleRoutes, { root: DIST });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  scpPort = await freePort();
  scp = startDimseServer(app.radiolens, {
    aeTitle: "RADIOLENS",
    port: scpPort,
    allowedCallingAeTitles: ["MODALITY"],
  });
});

after(async () => {
  scp?.close();
  await app?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The RGBA of the viewer's pixel at (x, y) of its 512×512 area, as the user sees it (image, overlays, labelmap). */
async function seen(page: Page, x: number, y: number): Promise<number[]> {
  const png = PNG.sync.read(await page.locator("#viewer-wrap").screenshot());
  const i = (y * png.width + x) * 4;
  return [png.data[i], png.data[i + 1], png.data[i + 2], png.data[i + 3]].map(Number);
}

/** The grey a linear VOI window gives a value (PS3.3 C.11.2.1.2.1, with the range centre ± width/2). */
const grey = (v: number, width: number, center: number): number =>
  Math.round(Math.min(1, Math.max(0, (v - (center - width / 2)) / width)) * 255);

/** The middle value (the upper one of an even count). */
const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wheel events at about 60 Hz from the first slice to the last; each wheel event's time to the next drawn slice. */
async function measureScroll(
  page: Page,
): Promise<{ lags: number[]; reached: number; span: number; endLag: number }> {
  await page.evaluate(`(() => {
      const el = document.getElementById("viewport");
      window.__wheel = [];
      window.__drawn = [];
      if (!window.__timed) {
        window.__timed = true;
        el.addEventListener("wheel", () => window.__wheel.push(performance.now()), { capture: true });
        el.addEventListener("CORNERSTONE_IMAGE_RENDERED", () =>
          window.__drawn.push([performance.now(), window.radiolensViewer.position().index]));
      }
    })()`);
  await page.hover("#viewport");
  for (let i = 0; i < N - 1; i++) {
    await page.mouse.wheel(0, 100);
    await page.waitForTimeout(16);
  }
  await page.waitForFunction(`window.radiolensViewer.position().index === ${N - 1}`, null, {
    timeout: 10_000,
  });
  return (await page.evaluate(`(() => {
      const lags = [];
      const reached = new Set(window.__drawn.map((d) => d[1]));
      for (const w of window.__wheel) {
        const d = window.__drawn.find((x) => x[0] >= w);
        lags.push(d ? d[0] - w : Infinity);
      }
      const last = window.__drawn.find((d) => d[1] === ${N - 1});
      const w = window.__wheel;
      return { lags, reached: reached.size, span: w[w.length - 1] - w[0], endLag: last ? last[0] - w[w.length - 1] : Infinity };
    })()`)) as { lags: number[]; reached: number; span: number; endLag: number };
}

// The harness evaluates strings in the page, which the console's CSP (checked below) forbids to scripts.
const PAGE = { viewport: { width: 1600, height: 1000 }, bypassCSP: true } as const;

/** Records the page's uncaught exceptions and console errors in `errors`, which each test expects to end empty. */
function recordErrors(page: Page, errors: string[]): void {
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
}

/** A console-sized page of `browser` and the errors it logs. */
async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage(PAGE);
  const errors: string[] = [];
  recordErrors(page, errors);
  return { page, errors };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.fill("#api-key", key);
  await page.click("#signin-button");
  await page.waitForSelector("#app:not([hidden])", { timeout: 30_000 });
}

test("the console's files load without credentials; its data does not; traversal is refused", async () => {
  const page = await fetch(`${base}/console/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.equal((await fetch(`${base}/v1/models`)).status, 401);
  assert.equal((await fetch(`${base}/v1/worklist`)).status, 401);
  const r = await fetch(`${base}/console/..%2f..%2fpackage.json`);
  assert.notEqual(r.status, 200);
});

test("headless Chromium: storescu series in the worklist with its result, stack, scroll, W/L, heatmap, SEG, SR, roles", {
  timeout: 600_000,
}, async (t) => {
  assert.ok(existsSync(CHROMIUM), "Debian chromium is installed at /usr/bin/chromium");
  const dir = join(work, "series");
  mkdirSync(dir);
  const files = SOPS.map((_, k) => {
    const f = join(dir, `ct${String(k).padStart(3, "0")}.dcm`);
    writeFileSync(f, ctSlice(k));
    return f;
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  try {
    const { page, errors } = await openPage(browser);
    await page.goto(`${base}/console/`);
    await page.fill("#api-key", "wrong-key-0000000000000");
    await page.click("#signin-button");
    // Page-side code is passed as strings: this file compiles without DOM types.
    await page.waitForFunction(`(document.getElementById("signin-error")?.textContent ?? "").length > 0`);
    // The refused key's 401 is the one expected error; from here on the page must log none.
    errors.length = 0;
    await page.fill("#api-key", KEYS.clinician);
    await page.click("#signin-button");
    await page.waitForSelector("#app:not([hidden])", { timeout: 30_000 });
    assert.match((await page.textContent("#card")) ?? "", /seed-cnn-test/);
    assert.match((await page.textContent("#banner")) ?? "", /Decision support/);

    // A modality sends the series by C-STORE; the worklist (polled) shows it, then its result.
    const t0 = Date.now();
    const sent = await storescu(files);
    assert.equal(sent.code, 0, sent.out);
    const row = `#worklist-body tr[data-study="${STUDY}"]`;
    await page.waitForSelector(row, { timeout: 30_000 });
    const listedS = (Date.now() - t0) / 1000;
    await page.waitForSelector(`${row}[data-status="done"]`, { timeout: 300_000 });
    const doneS = (Date.now() - t0) / 1000;
    t.diagnostic(
      `${N} slices sent by storescu: listed after ${listedS.toFixed(1)} s, analysed after ${doneS.toFixed(1)} s`,
    );
    assert.match(
      (await page.textContent(row)) ?? "",
      /Viewer\^Test.*CT.*default.*done.*(normal|pneumonia)\s*0\.\d{3}/,
    );

    // First view: from the click on the study to the first slice drawn.
    const c0 = Date.now();
    await page.click(`${row} button.open-study`);
    await page.waitForSelector(`#viewport[data-series="${SERIES}"]`, { timeout: 20_000 });
    const firstViewMs = Date.now() - c0;
    const inPage = Number(await page.getAttribute("#viewport", "data-first-view-ms"));
    t.diagnostic(
      `first view of a ${SIZE}x${SIZE} CT slice: ${firstViewMs} ms from the click (${inPage} ms in the page)`,
    );
    // The 1 s target is measured under the shared measurement lock (README); this bound guards against regressions
    // on a loaded CI host.
    assert.ok(inPage < 3000, `first view within 3 s of the click (${inPage} ms)`);
    assert.match((await page.textContent("#slice")) ?? "", new RegExp(`Image 1 / ${N}`));
    // The file's own window (W 400, L 40): tissue at the centre, air in the corner.
    const centre = await seen(page, 256, 256);
    assert.ok(Math.abs((centre[0] as number) - grey(HU.tissue, 400, 40)) <= 3, `centre ${centre}`);
    assert.ok(((await seen(page, 5, 5))[0] as number) <= 3, "air is black");

    await page.waitForSelector(`#viewport[data-loaded="true"]`, { timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, "01-series.png"), fullPage: true });

    // Scrolling: 99 wheel steps at 60 Hz from the first slice; each drawn slice is timed in the page.
    const { lags, reached, span, endLag } = await measureScroll(page);
    const med = median(lags);
    const max = Math.max(...lags);
    t.diagnostic(
      `scroll: ${lags.length} wheel events over ${span.toFixed(0)} ms (${((1000 * (lags.length - 1)) / span).toFixed(1)} Hz), ${reached} slices drawn, wheel→draw median ${med.toFixed(1)} ms, max ${max.toFixed(1)} ms, last slice drawn ${endLag.toFixed(0)} ms after the last wheel event`,
    );
    assert.match(
      (await page.textContent("#slice")) ?? "",
      new RegExp(`Image ${N} / ${N}`),
      "scrolled to the last",
    );
    // Keeping up: every wheel step shows its own slice (none skipped) and nothing is left waiting: the last
    // slice is drawn within a quarter second of the last wheel event.
    assert.ok(reached >= N - 1, `each wheel step drew its slice (${reached} distinct slices)`);
    assert.ok(
      endLag < 250,
      `no backlog: last slice drawn ${endLag.toFixed(0)} ms after the last wheel event`,
    );
    // The last slice's marker: value -500 + 10·99 = 490 HU under the file's window → white.
    const marker = await seen(page, 116, 256);
    assert.ok(Math.abs((marker[0] as number) - grey(HU.marker(N - 1), 400, 40)) <= 3, `marker ${marker}`);
    await page.focus("#viewport");
    await page.keyboard.press("Home");
    await page.waitForFunction(`window.radiolensViewer.position().index === 0`);
    const first = await seen(page, 116, 256);
    assert.ok(
      Math.abs((first[0] as number) - grey(HU.marker(0), 400, 40)) <= 3,
      `marker of slice 1 ${first}`,
    );
    await page.keyboard.press("End");
    await page.waitForFunction(`window.radiolensViewer.position().index === ${N - 1}`);

    // Window presets: the centre (40 HU) is drawn as the VOI function computes for each.
    assert.deepEqual(
      Object.entries(PRESETS).map(([k, p]) => [k, p.width, p.center]),
      Object.entries(WINDOW_PRESETS).map(([k, p]) => [k, p.width, p.center]),
      "the console's presets are the library's",
    );
    for (const [preset, { width: w, center: c }] of Object.entries(PRESETS)) {
      await page.click(`button[data-preset="${preset}"]`);
      await page.waitForTimeout(150);
      const px = await seen(page, 256, 256);
      assert.ok(
        Math.abs((px[0] as number) - grey(HU.tissue, w, c)) <= 3,
        `${preset}: ${px} vs ${grey(HU.tissue, w, c)}`,
      );
      assert.match((await page.textContent("#window")) ?? "", new RegExp(`W ${w} / L ${c}`));
    }
    await page.click("#invert");
    await page.waitForTimeout(150);
    assert.ok(
      Math.abs(((await seen(page, 256, 256))[0] as number) - (255 - grey(HU.tissue, 400, 40))) <= 3,
      "inverted",
    );
    await page.click("#reset");
    await page.waitForTimeout(150);
    assert.ok(Math.abs(((await seen(page, 256, 256))[0] as number) - grey(HU.tissue, 400, 40)) <= 3, "reset");

    // The heatmap of the image shown, over it, with its opacity.
    const plain = await seen(page, 256, 256);
    assert.ok(plain[0] === plain[1] && plain[1] === plain[2], "without the heatmap the CT is grey");
    await page.check("#heatmap-toggle");
    await page.waitForFunction(
      `(() => { const c = document.getElementById("heat-overlay"); const d = c.getContext("2d").getImageData(c.width / 2, c.height / 2, 1, 1).data; return d[3] > 0; })()`,
      null,
      { timeout: 30_000 },
    );
    const overlaid = await seen(page, 256, 256);
    assert.ok(
      !(overlaid[0] === overlaid[1] && overlaid[1] === overlaid[2]),
      `the heatmap colours it (${overlaid})`,
    );
    await page.screenshot({ path: join(SHOTS, "02-heatmap.png"), fullPage: true });
    await page.uncheck("#heatmap-toggle");
    await page.waitForTimeout(100);
    assert.deepEqual(await seen(page, 256, 256), plain, "heatmap off: the image again");

    // The same heatmap from the Parametric Map result of the slice shown (float values on its grid), coloured
    // as its values say: the overlay's centre pixel is jet((v - first) / (last - first)) of the map's value there.
    const shownSop = SOPS[N - 1] as string;
    const study = (
      (await (await fetch(`${base}/v1/worklist`, { headers: { "x-api-key": KEYS.clinician } })).json()) as {
        studies: { studyInstanceUid: string; series: { seriesInstanceUid: string; sopClassUid: string }[] }[];
      }
    ).studies.find((x) => x.studyInstanceUid === STUDY);
    const pmSeries = (study?.series ?? []).filter((x) => x.sopClassUid === "1.2.840.10008.5.1.4.1.1.30");
    assert.equal(pmSeries.length, N, "a Parametric Map per analysed slice");
    // dcmjs has no type declarations; the module name is passed as a value so it is loaded untyped.
    const { default: dcmjs } = (await import(String("dcmjs"))) as {
      // biome-ignore lint/suspicious/noExplicitAny: a naturalized dataset is untyped JSON.
      default: { data: { DicomMessage: any; DicomMetaDictionary: any } };
    };
    let expectedRgb: number[] | undefined;
    for (const se of pmSeries) {
      const r = await fetch(`${base}/dicomweb/studies/${STUDY}/series/${se.seriesInstanceUid}`, {
        headers: { "x-api-key": KEYS.clinician, accept: 'multipart/related; type="application/dicom"' },
      });
      const boundary = contentTypeParams(r.headers.get("content-type") ?? "")["boundary"] ?? "";
      const [part] = parseMultipart(new Uint8Array(await r.arrayBuffer()), boundary).map((x) => x.body);
      assert.ok(part, "the map's series holds its instance");
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(part.slice().buffer).dict,
      );
      const src =
        ds.PerFrameFunctionalGroupsSequence?.[0]?.DerivationImageSequence?.[0]?.SourceImageSequence?.[0];
      if (src?.ReferencedSOPInstanceUID !== shownSop) continue;
      const rwv = ds.SharedFunctionalGroupsSequence?.[0]?.RealWorldValueMappingSequence?.[0];
      const v = new Float32Array(ds.FloatPixelData[0])[256 * SIZE + 256] as number;
      const lo = rwv.DoubleFloatRealWorldValueFirstValueMapped as number;
      const hi = rwv.DoubleFloatRealWorldValueLastValueMapped as number;
      expectedRgb = jet((v - lo) / (hi - lo || 1));
    }
    assert.ok(expectedRgb, "the shown slice has its Parametric Map");
    await page.selectOption("#heatmap-source", "pm");
    await page.check("#heatmap-toggle");
    const overlayCentre = `(() => { const c = document.getElementById("heat-overlay"); const d = c.getContext("2d").getImageData(c.width / 2 + 0.5, c.height / 2 + 0.5, 1, 1).data; return [d[0], d[1], d[2], d[3]]; })()`;
    await page.waitForFunction(`${overlayCentre}[3] > 0`, null, { timeout: 60_000 });
    const pmRgba = (await page.evaluate(overlayCentre)) as number[];
    assert.ok(
      pmRgba.slice(0, 3).every((c, i) => Math.abs(c - (expectedRgb?.[i] as number)) <= 6),
      `Parametric Map overlay ${pmRgba} vs jet of its value ${expectedRgb}`,
    );
    assert.ok(
      Math.abs((pmRgba[3] as number) - 0.4 * 255) <= 3,
      `drawn at the slider's opacity (${pmRgba[3]})`,
    );
    await page.fill("#opacity", "80");
    await page.waitForFunction(`${overlayCentre}[3] > 190`, null, { timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, "02b-parametric-map.png"), fullPage: true });
    await page.uncheck("#heatmap-toggle");
    await page.fill("#opacity", "40");
    await page.selectOption("#heatmap-source", "service");
    await page.waitForTimeout(100);
    assert.deepEqual(await seen(page, 256, 256), plain, "Parametric Map off: the image again");

    // The SR result of the image shown, in the side panel.
    await page.waitForFunction(
      `(document.getElementById("sr")?.textContent ?? "").includes("Model output")`,
      null,
      {
        timeout: 20_000,
      },
    );
    assert.match(
      (await page.textContent("#sr")) ?? "",
      /Model output '(normal|pneumonia)': probability 0\.\d{4}/,
    );

    // MPR: the 100 evenly spaced axial slices as a volume, in axial, sagittal and coronal views.
    assert.equal(await page.isEnabled("#mpr-toggle"), true, "a regular CT series offers MPR");
    await page.click("#mpr-toggle");
    await page.waitForSelector('#mpr[data-ready="true"]', { timeout: 60_000 });
    await page.waitForTimeout(300);
    /** Width and height (px) of the tissue (40 HU, grey 128 under W 400 / L 40) drawn in a view. */
    const extent = async (sel: string): Promise<{ w: number; h: number }> => {
      const png = PNG.sync.read(await page.locator(sel).screenshot());
      let [x0, y0, x1, y1] = [png.width, png.height, -1, -1];
      for (let y = 0; y < png.height; y++)
        for (let x = 0; x < png.width; x++) {
          const o = (y * png.width + x) * 4;
          const [r, g, b] = [png.data[o], png.data[o + 1], png.data[o + 2]] as [number, number, number];
          if (Math.abs(r - grey(HU.tissue, 400, 40)) <= 12 && r === g && g === b) {
            [x0, y0] = [Math.min(x0, x), Math.min(y0, y)];
            [x1, y1] = [Math.max(x1, x), Math.max(y1, y)];
          }
        }
      return { w: x1 - x0 + 1, h: y1 - y0 + 1 };
    };
    const views = {
      axial: await extent("#mpr-axial"),
      sagittal: await extent("#mpr-sagittal"),
      coronal: await extent("#mpr-coronal"),
    };
    t.diagnostic(`MPR extents (px): ${JSON.stringify(views)}`);
    await page.screenshot({ path: join(SHOTS, "03-mpr.png"), fullPage: true });
    for (const [v, e] of Object.entries(views))
      assert.ok(e.w > 50 && e.h > 50, `${v} view drawn (${e.w}x${e.h})`);
    // Through the centre the tissue disk is 200 mm across (400 px of 0.5 mm); the series is 100 × 2.5 = 250 mm
    // long: sagittal and coronal views are 1.25 times as tall as wide, the axial one round.
    const ratio = (e: { w: number; h: number }): number => e.h / e.w;
    assert.ok(
      Math.abs(ratio(views.sagittal) - 1.25) < 0.05,
      `sagittal extent ${JSON.stringify(views.sagittal)}`,
    );
    assert.ok(
      Math.abs(ratio(views.coronal) - 1.25) < 0.05,
      `coronal extent ${JSON.stringify(views.coronal)}`,
    );
    assert.ok(Math.abs(ratio(views.axial) - 1) < 0.05, `axial extent ${JSON.stringify(views.axial)}`);
    await page.click("#mpr-toggle");
    await page.waitForSelector("#viewer-wrap:not([hidden])");

    // A SEG arrives for the series (STOW-RS): reopened, its labelmap covers the lesion on slice 50.
    const { body, contentType } = buildMultipart([lesionSeg()], "application/dicom");
    const stow = await fetch(`${base}/dicomweb/studies`, {
      method: "POST",
      headers: { "x-api-key": KEYS.clinician, "content-type": contentType },
      body,
    });
    assert.equal(stow.status, 200);
    // The next poll lists it; a refresh asks at once.
    await page.click("#refresh");
    await page.waitForTimeout(1500);
    await page.click(`${row} button.open-study`);
    await page.waitForSelector(`#viewport[data-loaded="true"]`, { timeout: 60_000 });
    await page.waitForSelector("#segments input[data-segment='1']", { timeout: 20_000 });
    assert.match((await page.textContent("#segments")) ?? "", /Lesion/);
    await page.evaluate(`document.getElementById("viewport").focus()`);
    for (let i = 0; i < 50; i++) await page.keyboard.press("ArrowDown");
    await page.waitForFunction(`window.radiolensViewer.position().index === 50`);
    await page.waitForTimeout(200);
    const inLesion = await seen(page, LESION.cx, LESION.cy);
    const outside = await seen(page, 256, 400);
    assert.ok(
      !(inLesion[0] === inLesion[1] && inLesion[1] === inLesion[2]),
      `labelmap drawn over the lesion (${inLesion})`,
    );
    assert.ok(outside[0] === outside[1] && outside[1] === outside[2], `no labelmap outside it (${outside})`);
    await page.screenshot({ path: join(SHOTS, "04-seg.png"), fullPage: true });
    await page.uncheck("#segments input[data-segment='1']");
    await page.waitForTimeout(200);
    const hidden = await seen(page, LESION.cx, LESION.cy);
    assert.ok(hidden[0] === hidden[1] && hidden[1] === hidden[2], `segment hidden (${hidden})`);

    // A PNG/JPEG upload goes through predict: shown, with its prediction and heatmap.
    const xray = readdirSync(sharedData("xray")).find((f) => /\.(png|jpe?g)$/i.test(f)) ?? "";
    await page.setInputFiles("#file", join(sharedData("xray"), xray));
    await page.waitForFunction(
      `(document.getElementById("status")?.textContent ?? "").startsWith("Prediction ready") || (document.getElementById("status")?.textContent ?? "") === "Not analysed"`,
      null,
      { timeout: 60_000 },
    );
    assert.match((await page.textContent("#prediction-label")) ?? "", /^(normal|pneumonia|Not analysed)/);
    await page.screenshot({ path: join(SHOTS, "05-upload.png"), fullPage: true });
    assert.deepEqual(errors, [], "no errors in the page");

    // Roles: a viewer sees the worklist but no upload; an administrator also gets the audit view.
    const viewer = await browser.newPage(PAGE);
    await signIn(viewer, KEYS.viewer);
    await viewer.waitForSelector(row);
    assert.equal(await viewer.isVisible("#upload"), false, "a viewer cannot upload");
    assert.equal(await viewer.isVisible("#force-label"), false);
    assert.equal(await viewer.isVisible("#audit-button"), false);
    const admin = await browser.newPage(PAGE);
    await signIn(admin, KEYS.admin);
    assert.equal(await admin.isVisible("#force-label"), true, "an administrator may force analysis");
    await admin.click("#audit-button");
    await admin.waitForFunction(`document.querySelectorAll("#audit-table tbody tr").length > 0`);
    assert.match((await admin.textContent("#audit-table")) ?? "", /dr-console/);
    await admin.screenshot({ path: join(SHOTS, "06-audit.png"), fullPage: true });
    t.diagnostic(`screenshots: ${SHOTS}`);
  } finally {
    await browser.close();
  }
});

test("headless Chromium: an MSD hippocampus NIfTI and its label mask as a labelmap, voxel for voxel", {
  timeout: 300_000,
}, async (t) => {
  assert.ok(existsSync(CHROMIUM), "Debian chromium is installed at /usr/bin/chromium");
  const task = sharedData("segmentation", "msd-hippocampus");
  const name = "hippocampus_001.nii.gz";
  const imagePath = join(task, "imagesTr", name);
  const labelPath = join(task, "labelsTr", name);
  const label = readNifti(labelPath);
  const [nk, nj, ni] = label.shape as [number, number, number, number];
  // The slice with the most labelled voxels, holding both the anterior (1) and posterior (2) hippocampus.
  let k = 0;
  let most = -1;
  for (let z = 0; z < nk; z++) {
    const s = label.data.subarray(z * ni * nj, (z + 1) * ni * nj);
    let n = 0;
    for (const v of s) if (v > 0) n++;
    if (s.includes(1) && s.includes(2) && n > most) [k, most] = [z, n];
  }
  const expected = Array.from(label.data.subarray(k * ni * nj, (k + 1) * ni * nj), Number);
  assert.ok(most > 0, "the case has a slice with both labels");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
  try {
    const { page, errors } = await openPage(browser);
    // Opening a NIfTI reads it in the browser: any role may, a viewer included.
    await signIn(page, KEYS.viewer);
    await page.setInputFiles("#nifti-image", imagePath);
    await page.setInputFiles("#nifti-mask", labelPath);
    await page.click("#nifti-open");
    await page.waitForSelector(`#viewport[data-nifti="${name}"]`, { timeout: 30_000 });
    assert.match((await page.textContent("#status")) ?? "", new RegExp(`${ni}×${nj}×${nk} voxels`));
    assert.match((await page.textContent("#segments")) ?? "", /Label 1.*Label 2/s);
    const seg = (await page.getAttribute("#viewport", "data-segmentation")) ?? "";
    await page.focus("#viewport");
    await page.keyboard.press("Home");
    for (let i = 0; i < k; i++) await page.keyboard.press("ArrowDown");
    await page.waitForFunction(`window.radiolensViewer.position().index === ${k}`);
    // The slice label follows the drawn image (it changes when the new slice is rendered).
    await page.waitForFunction(
      `(document.getElementById("slice")?.textContent ?? "") === "Image ${k + 1} / ${nk}"`,
    );
    // The labelmap the renderer holds over slice k is the label file's slice k.
    const shown = (await page.evaluate(
      `Array.from(window.radiolensViewer.labelmapOfCurrent(${JSON.stringify(seg)}) ?? [])`,
    )) as number[];
    assert.equal(shown.length, ni * nj);
    assert.deepEqual(shown, expected, `labelmap over slice ${k} equals ${name}'s labels`);
    // And it is what the user sees: at each voxel's centre the view is coloured exactly where the file labels it.
    await page.waitForTimeout(300);
    const centres = (await page.evaluate(`(() => {
      const out = [];
      for (let j = 0; j < ${nj}; j++)
        for (let i = 0; i < ${ni}; i++) out.push(window.radiolensViewer.canvasOfPixel(i, j));
      return out;
    })()`)) as [number, number][];
    const colourAt = async (): Promise<(v: number) => number[]> => {
      const png = PNG.sync.read(await page.locator("#viewport").screenshot());
      return (v) => {
        const [x, y] = (centres[v] as [number, number]).map(Math.floor) as [number, number];
        const o = (y * png.width + x) * 4;
        return [png.data[o], png.data[o + 1], png.data[o + 2]].map(Number);
      };
    };
    const coloured = (c: number[]): boolean => Math.max(...c) - Math.min(...c) > 12;
    let at = await colourAt();
    const wrong = expected.flatMap((l, v) => (coloured(at(v)) !== l > 0 ? [v] : []));
    assert.deepEqual(wrong, [], `voxels drawn differently from their label (${wrong.length} of ${ni * nj})`);
    await page.screenshot({ path: join(SHOTS, "07-nifti.png"), fullPage: true });
    // Hiding the anterior hippocampus (1) leaves only the posterior (2) coloured.
    await page.uncheck("#segments input[data-segment='1']");
    await page.waitForTimeout(300);
    at = await colourAt();
    const wrongHidden = expected.flatMap((l, v) => (coloured(at(v)) !== (l === 2) ? [v] : []));
    assert.deepEqual(wrongHidden, [], "segment 1 hidden, segment 2 shown");
    // A mask on another grid is refused with a message, not drawn misaligned.
    const other = readdirSync(join(task, "labelsTr")).find((f) => {
      const s = readNifti(join(task, "labelsTr", f)).shape;
      return f !== name && (s[0] !== nk || s[1] !== nj || s[2] !== ni);
    });
    assert.ok(other, "a case with another shape");
    await page.setInputFiles("#nifti-mask", join(task, "labelsTr", other));
    await page.click("#nifti-open");
    await page.waitForSelector("#status.error", { timeout: 30_000 });
    assert.match((await page.textContent("#status")) ?? "", /not on the voxel grid/);
    assert.deepEqual(errors, [], "no errors in the page");
    t.diagnostic(
      `${name}: slice ${k + 1} of ${nk}, ${most} labelled voxels matched; screenshot 07-nifti.png`,
    );
  } finally {
    await browser.close();
  }
});

const RUNS = Number(process.env["RADIOLENS_CONSOLE_RUNS"] ?? 0);

// RADIOLENS_CONSOLE_RUNS=n (`npm run bench:console`): the figures of the README, over the series the test above
// sent. Registered only when asked for, so that the suite has no skipped test.
if (RUNS > 0)
  test("bench: first view and scrolling of the 100-slice CT, warm and cold", {
    timeout: 3_600_000,
  }, async (t) => {
    const row = `#worklist-body tr[data-study="${STUDY}"]`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    try {
      const runs = RUNS;

      // RADIOLENS_CONSOLE_RUNS=n: the first view and the scroll n times each with and without the warm-up of the
      // worklist's top rows (alternating), each in a fresh browser context (no cache), printed as medians and ranges.
      const benchErrors: string[] = [];
      const figures: Record<
        string,
        { inPage: number[]; click: number[]; list: number[]; scroll: number[]; drawn: number[] }
      > = {};
      for (let r = 0; r < runs * 2; r++) {
        const mode = r % 2 === 0 ? "warm" : "cold";
        const ctx = await browser.newContext(PAGE);
        const p = await ctx.newPage();
        recordErrors(p, benchErrors);
        await p.goto(`${base}/console/${mode === "cold" ? "?warm=0" : ""}`);
        await p.fill("#api-key", KEYS.clinician);
        await p.click("#signin-button");
        await p.waitForSelector(row, { timeout: 30_000 });
        // A reader looks at the worklist for a moment (one poll) before choosing a study.
        await p.waitForTimeout(2500);
        const c = Date.now();
        await p.click(`${row} button.open-study`);
        await p.waitForSelector(`#viewport[data-series="${SERIES}"]`, { timeout: 20_000 });
        const f = (figures[mode] ??= { inPage: [], click: [], list: [], scroll: [], drawn: [] });
        f.click.push(Date.now() - c);
        f.inPage.push(Number(await p.getAttribute("#viewport", "data-first-view-ms")));
        f.list.push(Number(await p.getAttribute("#viewport", "data-list-ms")));
        await p.waitForSelector(`#viewport[data-loaded="true"]`, { timeout: 60_000 });
        const sc = await measureScroll(p);
        f.scroll.push(median(sc.lags));
        f.drawn.push(sc.reached);
        await ctx.close();
      }
      const fmt = (xs: number[]): string =>
        `median ${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
      for (const [mode, f] of Object.entries(figures))
        t.diagnostic(
          `bench ${mode} x${f.inPage.length}: first view in the page ${fmt(f.inPage)} ms, from the click ${fmt(f.click)} ms, instance list ${fmt(f.list)} ms; scroll wheel→draw ${fmt(f.scroll)} ms, slices drawn ${fmt(f.drawn)} of ${N - 1}`,
        );
      assert.deepEqual(benchErrors, [], "no errors in the bench runs");
    } finally {
      await browser.close();
    }
  });
