/** The RadioLens web console: sign in, open an image (upload or received), window/level, zoom/pan, prediction, Grad-CAM overlay, model card. */
import "./shims/buffer.js";
import type { DicomDataset } from "../../src/io/dicom/dataset.js";
import { parseDicom } from "../../src/io/dicom/parse.js";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
};

/** The signed-in credential lives only in this tab (sessionStorage), never in a URL. */
const KEY = "radiolens.credential";
let credential = sessionStorage.getItem(KEY) ?? "";

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (credential.split(".").length === 3) headers.set("authorization", `Bearer ${credential}`);
  else headers.set("x-api-key", credential);
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401) signOut("Your credential was refused; sign in again.");
  return r;
}

async function errorText(r: Response): Promise<string> {
  try {
    const j = (await r.json()) as { error?: { code: string; message: string } };
    return j.error ? `${j.error.code}: ${j.error.message}` : `HTTP ${r.status}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

function status(text: string, error = false): void {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

// ---- Viewer state: the image as values on its own grid, a window, a view transform, an optional heatmap. ----

interface Picture {
  readonly rows: number;
  readonly cols: number;
  /** Grey values (modality units for DICOM, 0-255 otherwise), or null for colour images. */
  readonly grey: Float32Array | null;
  /** RGBA for colour images. */
  readonly rgba: Uint8ClampedArray | null;
}

let picture: Picture | undefined;
let heat: HTMLCanvasElement | undefined;
const view = { zoom: 1, panX: 0, panY: 0 };
const base = document.createElement("canvas");

function renderBase(): void {
  if (!picture) return;
  base.width = picture.cols;
  base.height = picture.rows;
  const ctx = base.getContext("2d");
  if (!ctx) return;
  const img = ctx.createImageData(picture.cols, picture.rows);
  if (picture.rgba) img.data.set(picture.rgba);
  else if (picture.grey) {
    // Linear VOI LUT (PS3.3 C.11.2.1.2.1) with the current window.
    const ww = Number($<HTMLInputElement>("ww").value);
    const wl = Number($<HTMLInputElement>("wl").value);
    const lo = wl - 0.5 - (ww - 1) / 2;
    const span = Math.max(ww - 1, 1);
    for (let i = 0; i < picture.grey.length; i++) {
      const v = Math.round(Math.min(1, Math.max(0, ((picture.grey[i] as number) - lo) / span)) * 255);
      img.data[i * 4] = v;
      img.data[i * 4 + 1] = v;
      img.data[i * 4 + 2] = v;
      img.data[i * 4 + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  draw();
}

function draw(): void {
  const canvas = $<HTMLCanvasElement>("canvas");
  const ctx = canvas.getContext("2d");
  if (!ctx || !picture) return;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const fit = Math.min(canvas.width / picture.cols, canvas.height / picture.rows) * view.zoom;
  ctx.setTransform(
    fit,
    0,
    0,
    fit,
    (canvas.width - picture.cols * fit) / 2 + view.panX,
    (canvas.height - picture.rows * fit) / 2 + view.panY,
  );
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(base, 0, 0);
  if (heat && $<HTMLInputElement>("overlay-toggle").checked) {
    ctx.globalAlpha = Number($<HTMLInputElement>("opacity").value) / 100;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(heat, 0, 0, picture.cols, picture.rows);
    ctx.globalAlpha = 1;
  }
}

function setWindow(ww: number, wl: number): void {
  $<HTMLInputElement>("ww").value = String(Math.round(ww));
  $<HTMLInputElement>("wl").value = String(Math.round(wl));
}

function isPart10(b: Uint8Array): boolean {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** Native (uncompressed) little-endian pixel data of the first frame, with the Modality LUT (PS3.3 C.11.1). */
function dicomPicture(bytes: Uint8Array): Picture {
  const parsed = parseDicom(bytes);
  const ds: DicomDataset = parsed.dataset;
  const rows = ds.number("Rows") ?? 0;
  const cols = ds.number("Columns") ?? 0;
  const samples = ds.number("SamplesPerPixel") ?? 1;
  const bits = ds.number("BitsAllocated") ?? 16;
  const signed = ds.number("PixelRepresentation") === 1;
  const px = ds.get(0x7fe00010);
  const ts = parsed.transferSyntaxUID;
  if (
    !px ||
    px.fragments ||
    !["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"].includes(ts)
  ) {
    throw new Error(
      "this transfer syntax is compressed: the preview needs uncompressed data (the prediction still runs)",
    );
  }
  const v = px.value;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const n = rows * cols * samples;
  if (samples === 3 && bits === 8) {
    const rgba = new Uint8ClampedArray(rows * cols * 4);
    const planar = ds.number("PlanarConfiguration") === 1;
    for (let i = 0; i < rows * cols; i++) {
      for (let c = 0; c < 3; c++) rgba[i * 4 + c] = v[planar ? c * rows * cols + i : i * 3 + c] as number;
      rgba[i * 4 + 3] = 255;
    }
    return { rows, cols, grey: null, rgba };
  }
  const slope = ds.number("RescaleSlope") ?? 1;
  const intercept = ds.number("RescaleIntercept") ?? 0;
  const grey = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols && i < n; i++) {
    const raw = bits === 8 ? (v[i] as number) : signed ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true);
    grey[i] = raw * slope + intercept;
  }
  const center = ds.number("WindowCenter");
  const width = ds.number("WindowWidth");
  if (center !== undefined && width !== undefined && width > 0) setWindow(width, center);
  else {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const g of grey) {
      if (g < lo) lo = g;
      if (g > hi) hi = g;
    }
    setWindow(Math.max(hi - lo, 1), (hi + lo) / 2);
  }
  if (ds.string("PhotometricInterpretation") === "MONOCHROME1")
    for (let i = 0; i < grey.length; i++) grey[i] = -(grey[i] as number);
  return { rows, cols, grey, rgba: null };
}

async function imagePicture(blob: Blob): Promise<Picture> {
  const bmp = await createImageBitmap(blob);
  const c = document.createElement("canvas");
  c.width = bmp.width;
  c.height = bmp.height;
  const ctx = c.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  ctx.drawImage(bmp, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const grey = new Float32Array(c.width * c.height);
  for (let i = 0; i < grey.length; i++)
    grey[i] =
      0.299 * (d[i * 4] as number) + 0.587 * (d[i * 4 + 1] as number) + 0.114 * (d[i * 4 + 2] as number);
  setWindow(256, 128);
  return { rows: c.height, cols: c.width, grey, rgba: null };
}

/** Shows the image; false when this browser cannot decode it (the caller can ask the server for a rendering). */
async function show(bytes: Uint8Array, type: string): Promise<boolean> {
  heat = undefined;
  $("preview-error").textContent = "";
  const toggle = $<HTMLInputElement>("overlay-toggle");
  toggle.checked = false;
  toggle.disabled = true;
  Object.assign(view, { zoom: 1, panX: 0, panY: 0 });
  try {
    picture =
      type === "application/dicom"
        ? dicomPicture(bytes)
        : await imagePicture(new Blob([bytes as BlobPart], { type }));
    renderBase();
    return true;
  } catch (e) {
    picture = undefined;
    $("preview-error").textContent = `Preview unavailable: ${(e as Error).message}`;
    return false;
  }
}

interface PredictResponse {
  model: { id: string; name: string; version: string };
  label: string;
  probabilities: Record<string, number>;
  threshold: number;
  timings?: { totalMs: number; inferenceMs: number };
  input?: { format: string; png?: string };
  explanation?: { heatmapPng: string; label: string; layer: string };
  ood?: { score: number; threshold: number; inDistribution: boolean };
  forced?: boolean;
}

function showPrediction(
  p: Pick<PredictResponse, "label" | "probabilities"> & Partial<PredictResponse>,
): void {
  $("prediction-label").textContent =
    `${p.label || "(no label over the threshold)"}${p.forced ? " [forced: outside intended use or distribution]" : ""}${p.model ? ` — ${p.model.name} ${p.model.version}` : ""}`;
  const table = $<HTMLTableElement>("probabilities");
  table.replaceChildren();
  for (const [label, prob] of Object.entries(p.probabilities)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = label;
    tr.insertCell().textContent = prob.toFixed(3);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(prob * 100)}px`;
    tr.insertCell().append(bar);
  }
  $("timings").textContent = p.timings
    ? `${p.timings.totalMs.toFixed(1)} ms (inference ${p.timings.inferenceMs.toFixed(1)} ms)`
    : "";
}

async function loadHeat(png: string): Promise<void> {
  const bmp = await createImageBitmap(await (await fetch(`data:image/png;base64,${png}`)).blob());
  const c = document.createElement("canvas");
  c.width = bmp.width;
  c.height = bmp.height;
  c.getContext("2d")?.drawImage(bmp, 0, 0);
  heat = c;
  $<HTMLInputElement>("overlay-toggle").disabled = false;
}

async function upload(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const type = isPart10(bytes) ? "application/dicom" : file.type || "application/octet-stream";
  status(`Analysing ${file.name}…`);
  const local = await show(bytes, type);
  const model = $<HTMLSelectElement>("model").value;
  // Compressed DICOM: the server decodes it anyway and returns the rendering with the prediction.
  const r = await api(
    `/v1/models/${encodeURIComponent(model)}/predict?explain=gradcam${local ? "" : "&render=png"}`,
    {
      method: "POST",
      headers: { "content-type": type },
      body: bytes as BlobPart,
    },
  );
  if (!r.ok) {
    const text = await errorText(r);
    // Gated by the model's intended use or its OOD detector: a result, not a failure.
    const gated =
      /^RL_ERR_(OUTSIDE_INTENDED_USE|OUT_OF_DISTRIBUTION): (.*?)(; the image was not analysed|; it was not analysed)?$/.exec(
        text,
      );
    if (gated) {
      showPrediction({ label: `Not analysed: ${gated[2]}`, probabilities: {} });
      status("Not analysed", true);
      return;
    }
    status(text, true);
    return;
  }
  const p = (await r.json()) as PredictResponse;
  if (!local && p.input?.png) {
    picture = await imagePicture(await (await fetch(`data:image/png;base64,${p.input.png}`)).blob());
    $("preview-error").textContent = "";
    renderBase();
  }
  showPrediction(p);
  if (p.explanation) await loadHeat(p.explanation.heatmapPng);
  status(`Prediction ready${p.explanation ? ` — Grad-CAM of '${p.explanation.label}' available` : ""}`);
}

function multipartFirst(body: Uint8Array, contentType: string): Uint8Array {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1] ?? "";
  const text = new TextDecoder("latin1").decode(body);
  const start = text.indexOf("\r\n\r\n", text.indexOf(`--${boundary}`)) + 4;
  const end = text.indexOf(`\r\n--${boundary}`, start);
  return body.subarray(start, end);
}

async function openReceived(uid: string, url: string): Promise<void> {
  const path = new URL(url).pathname;
  const r = await api(path, { headers: { accept: 'multipart/related; type="application/dicom"' } });
  if (!r.ok) return status(await errorText(r), true);
  const bytes = multipartFirst(new Uint8Array(await r.arrayBuffer()), r.headers.get("content-type") ?? "");
  await show(bytes, "application/dicom");
  const p = await api(`/v1/predictions/${uid}`);
  const preds = p.ok
    ? ((await p.json()) as { predictions: { label: string; probabilities: Record<string, number> }[] })
        .predictions
    : [];
  if (preds[0]) showPrediction(preds[0]);
  status(preds[0] ? "Stored analysis shown" : "Not analysed yet");
}

async function refreshStudies(): Promise<void> {
  const r = await api("/dicomweb/instances?origin=received&limit=50");
  if (!r.ok) return;
  const list = (await r.json()) as Record<string, { Value?: unknown[] }>[];
  const ul = $("studies");
  ul.replaceChildren();
  for (const it of list) {
    const modality = String(it["00080060"]?.Value?.[0] ?? "");
    if (modality === "SR") continue;
    const uid = String(it["00080018"]?.Value?.[0] ?? "");
    const url = String(it["00081190"]?.Value?.[0] ?? "");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${modality} ${String(it["00080020"]?.Value?.[0] ?? "")} …${uid.slice(-8)}`;
    b.addEventListener("click", () => void openReceived(uid, url));
    const li = document.createElement("li");
    li.append(b);
    ul.append(li);
  }
}

async function loadModels(): Promise<boolean> {
  const r = await api("/v1/models");
  if (!r.ok) return false;
  const { models } = (await r.json()) as { models: { id: string; name: string; version: string }[] };
  const sel = $<HTMLSelectElement>("model");
  sel.replaceChildren(...models.map((m) => new Option(`${m.id} (${m.name} ${m.version})`, m.id)));
  await loadCard();
  return true;
}

async function loadCard(): Promise<void> {
  const r = await api(`/v1/models/${encodeURIComponent($<HTMLSelectElement>("model").value)}`);
  if (!r.ok) return;
  const { card } = (await r.json()) as { card: Record<string, unknown> };
  const dl = $("card");
  dl.replaceChildren();
  for (const k of ["name", "version", "architecture", "task", "labels", "threshold", "intendedUse"]) {
    if (card[k] === undefined) continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    const v = card[k];
    dd.textContent = Array.isArray(v)
      ? (v as unknown[]).join(", ")
      : v !== null && typeof v === "object"
        ? JSON.stringify(v)
        : String(v);
    dl.append(dt, dd);
  }
}

function signOut(message = ""): void {
  credential = "";
  sessionStorage.removeItem(KEY);
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
}

async function signIn(): Promise<void> {
  if (!(await loadModels())) {
    signOut("The server refused this credential.");
    return;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("whoami").textContent = "signed in";
  await refreshStudies();
}

$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  credential = $<HTMLInputElement>("api-key").value.trim();
  sessionStorage.setItem(KEY, credential);
  void signIn();
});
$("signout").addEventListener("click", () => signOut());
$("file").addEventListener("change", () => {
  const f = $<HTMLInputElement>("file").files?.[0];
  if (f) void upload(f);
});
$("model").addEventListener("change", () => void loadCard());
$("refresh").addEventListener("click", () => void refreshStudies());
for (const id of ["ww", "wl"]) $(id).addEventListener("input", renderBase);
for (const id of ["overlay-toggle", "opacity"]) $(id).addEventListener("input", draw);
$("reset").addEventListener("click", () => {
  Object.assign(view, { zoom: 1, panX: 0, panY: 0 });
  draw();
});
const canvas = $<HTMLCanvasElement>("canvas");
canvas.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  view.zoom = Math.min(20, Math.max(0.2, view.zoom * (ev.deltaY < 0 ? 1.1 : 1 / 1.1)));
  draw();
});
let drag: { x: number; y: number } | undefined;
canvas.addEventListener("pointerdown", (ev) => {
  drag = { x: ev.clientX, y: ev.clientY };
});
window.addEventListener("pointerup", () => {
  drag = undefined;
});
canvas.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  view.panX += ev.clientX - drag.x;
  view.panY += ev.clientY - drag.y;
  drag = { x: ev.clientX, y: ev.clientY };
  draw();
});

if (credential) void signIn();
