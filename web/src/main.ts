/** The RadioLens web console: sign in, worklist, series viewer on Cornerstone3D, AI results (heatmap, SEG, SR), upload, audit. */

import dcmjs from "dcmjs";
import {
  api,
  errorText,
  getCredential,
  isPart10,
  multipartParts,
  onCredentialRefused,
  setCredential,
} from "./api.js";
import { heatRgba, type MapFrame, readParametricMap } from "./heat.js";
import { readNiftiVolume, sameGrid } from "./nifti.js";
import { readSr } from "./sr.js";
import {
  canvasOfPixel,
  clearSegmentations,
  currentImageId,
  forgetHeatmaps,
  frameIds,
  heatmapOfCurrent,
  hideMpr,
  initViewer,
  labelmapOfCurrent,
  mprRefusal,
  PRESETS,
  PRIMARY_TOOLS,
  position,
  prefetch,
  preload,
  resetView,
  type SegmentInfo,
  setHeatmap,
  setLocalHeatmap,
  setPrimaryTool,
  setSegmentVisible,
  setWindow,
  showLocalPicture,
  showMpr,
  showNifti,
  showNiftiLabelmap,
  showSegmentation,
  showStack,
  sopOf,
  sortBySlice,
  supplyInstances,
  toggleInvert,
} from "./viewer.js";

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
};

function status(text: string, error = false): void {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

/** One worklist row as GET /v1/worklist returns it. */
interface Study {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  studyDate: string;
  accessionNumber: string;
  modalities: string[];
  receivedAt: string;
  series: {
    seriesInstanceUid: string;
    modality: string;
    sopClassUid: string;
    instances: number;
    origin: string;
  }[];
  models: string[];
  status: string;
  reason?: string;
  finding?: {
    label: string;
    probability: number;
    modelId: string;
    sopInstanceUid: string;
    seriesInstanceUid: string;
  };
  results: { sopInstanceUid: string; seriesInstanceUid: string; modality: string }[];
}

const SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4";
/** Parametric Map Storage (PS3.4 B.5): the service's heatmap as float values on the source's grid. */
const PM_CLASS = "1.2.840.10008.5.1.4.1.1.30";
const NON_IMAGE = new Set(["SR", "SEG", "KO", "PR", "RTSTRUCT", "RTPLAN", "RWV"]);
let role = "";
let studies: Study[] = [];
let sortKey = "receivedAt";
let sortDesc = true;
let openStudy: Study | undefined;
let openSeries = "";
let poll: number | undefined;
let viewerReady: Promise<void> | undefined;

// ---- Worklist ----

const sortValue = (s: Study, key: string): string | number => {
  switch (key) {
    case "patient":
      return `${s.patientName} ${s.patientId}`;
    case "modalities":
      return s.modalities.join(",");
    case "models":
      return s.models.join(",");
    case "finding":
      return s.finding?.label ?? "";
    case "probability":
      return s.finding?.probability ?? -1;
    default:
      return String((s as unknown as Record<string, unknown>)[key] ?? "");
  }
};

function renderWorklist(): void {
  const text = $<HTMLInputElement>("filter").value.trim().toLowerCase();
  const want = $<HTMLSelectElement>("status-filter").value;
  const rows = studies
    .filter((s) => !want || s.status === want)
    .filter(
      (s) =>
        !text ||
        [
          s.patientName,
          s.patientId,
          s.accessionNumber,
          s.studyDate,
          s.modalities.join(" "),
          s.finding?.label ?? "",
          s.status,
        ]
          .join(" ")
          .toLowerCase()
          .includes(text),
    )
    .sort((a, b) => {
      const x = sortValue(a, sortKey);
      const y = sortValue(b, sortKey);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sortDesc ? -c : c;
    });
  const body = $("worklist-body");
  body.replaceChildren();
  for (const s of rows) {
    const tr = document.createElement("tr");
    tr.dataset["study"] = s.studyInstanceUid;
    tr.dataset["status"] = s.status;
    tr.dataset["seriesCount"] = String(s.series.length);
    if (openStudy?.studyInstanceUid === s.studyInstanceUid) tr.className = "open";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-study";
    open.textContent = s.patientName || s.patientId || "(no name)";
    open.setAttribute(
      "aria-label",
      `Open study of ${s.patientName || s.patientId || "unnamed patient"} from ${s.studyDate}`,
    );
    open.addEventListener("click", () => void openStudyRow(s.studyInstanceUid));
    open.addEventListener("pointerenter", () => warm(s));
    open.addEventListener("focus", () => warm(s));
    const cells: (string | HTMLElement)[] = [
      open,
      s.studyDate,
      s.modalities.join(", "),
      new Date(s.receivedAt).toLocaleTimeString(),
      s.models.join(", "),
      s.status + (s.reason ? `: ${s.reason}` : ""),
      s.finding?.label ?? "",
      s.finding ? s.finding.probability.toFixed(3) : "",
    ];
    for (const c of cells) {
      const td = tr.insertCell();
      if (typeof c === "string") td.textContent = c;
      else td.append(c);
    }
    (tr.cells[5] as HTMLTableCellElement).className = `status status-${s.status.replace(" ", "-")}`;
    body.append(tr);
  }
}

/** The image ids of a series' instances (QIDO-RS), asked once per series and instance count. */
const instanceLists = new Map<string, Promise<string[]>>();
function instanceIds(study: string, series: string, count: number): Promise<string[]> {
  const key = `${series}:${count}`;
  let p = instanceLists.get(key);
  if (!p) {
    p = (async () => {
      const q = await api(`/dicomweb/studies/${study}/series/${series}/instances?limit=10000`);
      if (!q.ok) throw new Error(await errorText(q));
      const list = (await q.json()) as Record<string, { Value?: unknown[] }>[];
      return list.map((it) => `wadouri:${String(it["00081190"]?.Value?.[0] ?? "")}`);
    })();
    p.catch(() => instanceLists.delete(key));
    instanceLists.set(key, p);
  }
  return p;
}

/** The series a study opens on: the finding's series, else the image series with the most images. */
function imageSeriesOf(s: Study): Study["series"] {
  return s.series.filter((x) => x.origin === "received" && !NON_IMAGE.has(x.modality));
}
function firstSeriesOf(s: Study): Study["series"][number] | undefined {
  const imageSeries = imageSeriesOf(s);
  return (
    imageSeries.find((x) => x.seriesInstanceUid === s.finding?.seriesInstanceUid) ??
    [...imageSeries].sort((a, b) => b.instances - a.instances)[0]
  );
}

/**
 * Fetches the instance list and the first image of the series a study would open on, so that opening it shows
 * an image without waiting on the network: done for the top rows of the worklist and for a study the pointer or
 * the keyboard focus rests on.
 */
function warm(s: Study): void {
  const se = WARM ? firstSeriesOf(s) : undefined;
  if (!se) return;
  instanceIds(s.studyInstanceUid, se.seriesInstanceUid, se.instances)
    .then((ids) => {
      if (ids[0]) preload(ids[0]);
    })
    .catch(() => undefined);
}
const WARM_ROWS = 3;
/** `?warm=0` turns the warm-up off, to measure the first view without it. */
const WARM = new URLSearchParams(location.search).get("warm") !== "0";

async function refreshWorklist(): Promise<void> {
  const r = await api("/v1/worklist?limit=200");
  if (!r.ok) return;
  studies = ((await r.json()) as { studies: Study[] }).studies;
  renderWorklist();
  for (const tr of [...$("worklist-body").querySelectorAll<HTMLTableRowElement>("tr")].slice(0, WARM_ROWS)) {
    const s = studies.find((x) => x.studyInstanceUid === tr.dataset["study"]);
    if (s) warm(s);
  }
  if (openStudy) {
    const now = studies.find((s) => s.studyInstanceUid === openStudy?.studyInstanceUid);
    if (now && (now.status !== openStudy.status || now.results.length !== openStudy.results.length)) {
      openStudy = now;
      showStudyResult(now);
      showImagePrediction();
    }
  }
}

// ---- Study and series ----

function showStudyResult(s: Study): void {
  const f = s.finding;
  $("prediction-label").textContent = f
    ? `${f.label} (${f.probability.toFixed(3)}) — ${f.modelId}`
    : s.status === "not analysed" || s.status === "failed"
      ? `${s.status === "failed" ? "Failed" : "Not analysed"}: ${s.reason ?? ""}`
      : `Analysis ${s.status}`;
  const toggle = $<HTMLInputElement>("heatmap-toggle");
  toggle.disabled = s.status !== "done";
  if (toggle.disabled) toggle.checked = false;
}

async function openStudyRow(uid: string): Promise<void> {
  const clicked = performance.now();
  const s = studies.find((x) => x.studyInstanceUid === uid);
  if (!s) return;
  openStudy = s;
  renderWorklist();
  showStudyResult(s);
  const imageSeries = imageSeriesOf(s);
  const bar = $("series-bar");
  bar.replaceChildren();
  for (const se of imageSeries) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${se.modality} · ${se.instances} image${se.instances === 1 ? "" : "s"}`;
    b.setAttribute("aria-label", `Open ${se.modality} series with ${se.instances} images`);
    b.addEventListener("click", () => void openSeriesOf(s, se.seriesInstanceUid));
    bar.append(b);
  }
  const first = firstSeriesOf(s);
  if (first) await openSeriesOf(s, first.seriesInstanceUid, clicked);
  else status("This study has no image series to show", true);
}

let mprIds: string[] = [];
/** Back to the stack view; MPR is offered again only for a series whose geometry allows it. */
function leaveMpr(ids: string[] = [], why = "Open a CT or MR series to reconstruct it"): void {
  hideMpr();
  $("mpr").hidden = true;
  $("viewer-wrap").hidden = false;
  const b = $<HTMLButtonElement>("mpr-toggle");
  b.setAttribute("aria-pressed", "false");
  mprIds = ids;
  b.disabled = ids.length === 0;
  $("mpr-why").textContent = ids.length === 0 ? why : "";
  $("mpr").dataset["ready"] = "";
}

async function toggleMpr(): Promise<void> {
  const b = $<HTMLButtonElement>("mpr-toggle");
  if (b.getAttribute("aria-pressed") === "true") return leaveMpr(mprIds);
  b.setAttribute("aria-pressed", "true");
  $("viewer-wrap").hidden = true;
  $("mpr").hidden = false;
  status("Reconstructing the volume…");
  try {
    await showMpr(mprIds, [
      $<HTMLDivElement>("mpr-axial"),
      $<HTMLDivElement>("mpr-sagittal"),
      $<HTMLDivElement>("mpr-coronal"),
    ]);
    $("mpr").dataset["ready"] = "true";
    status("Axial, sagittal and coronal views");
  } catch (e) {
    leaveMpr(mprIds);
    status(`MPR failed: ${(e as Error).message}`, true);
  }
}

/** Opens a series; `t0` is when the user asked for it (the first-view time is measured from it). */
async function openSeriesOf(s: Study, series: string, t0 = performance.now()): Promise<void> {
  await viewerReady;
  openSeries = series;
  leaveMpr([], "MPR is offered once the series is loaded");
  const vp = $("viewport");
  vp.dataset["series"] = "";
  vp.dataset["loaded"] = "";
  clearSegmentations();
  $("segments").replaceChildren();
  const count = s.series.find((x) => x.seriesInstanceUid === series)?.instances ?? 0;
  let ids: string[];
  try {
    ids = await instanceIds(s.studyInstanceUid, series, count);
  } catch (e) {
    return status((e as Error).message, true);
  }
  // Where the first view's time goes: the instance list, then the first image fetched, decoded and drawn.
  vp.dataset["listMs"] = (performance.now() - t0).toFixed(0);
  if (ids.length === 0) return status("The series has no instances", true);
  await showStack(ids, 0);
  if (openSeries !== series) return;
  // Keys scroll at once, without a click into the image first.
  vp.focus();
  vp.dataset["series"] = series;
  vp.dataset["firstViewMs"] = (performance.now() - t0).toFixed(0);
  status(`Series shown; loading ${ids.length} image${ids.length === 1 ? "" : "s"}…`);
  // A multi-frame instance becomes a stack of its frames.
  if (ids.length === 1) {
    const frames = frameIds(ids[0] as string);
    if (frames.length > 1) {
      ids = frames;
      await showStack(ids, 0);
    }
  }
  if (ids.length > 2) {
    // The rest of the series in one WADO-RS request (not one per instance), then decoded from memory.
    const r = await api(`/dicomweb/studies/${s.studyInstanceUid}/series/${series}`, {
      headers: { accept: 'multipart/related; type="application/dicom"' },
    });
    if (r.ok) {
      const parts = multipartParts(
        new Uint8Array(await r.arrayBuffer()),
        r.headers.get("content-type") ?? "",
      );
      vp.dataset["seriesRequest"] = String(await supplyInstances(parts, ids));
    }
  }
  await prefetch(ids);
  if (openSeries !== series) return;
  const sorted = sortBySlice(ids);
  if (sorted.some((id, i) => id !== ids[i])) {
    const current = currentImageId();
    await showStack(sorted, Math.max(0, sorted.indexOf(current ?? "")));
    ids = sorted;
  }
  const modality = s.series.find((x) => x.seriesInstanceUid === series)?.modality ?? "";
  const refusal = ["CT", "MR", "PT", "NM"].includes(modality)
    ? mprRefusal(ids)
    : `MPR is for CT, MR, PET and NM volumes, not ${modality}`;
  leaveMpr(refusal ? [] : ids, refusal ?? "");
  await showSegs(s, series);
  vp.dataset["loaded"] = "true";
  status(`${ids.length} image${ids.length === 1 ? "" : "s"} loaded`);
}

/** DICOM SEG objects of the study (received or produced) that reference this series, shown as labelmaps. */
async function showSegs(s: Study, series: string): Promise<void> {
  const segs = s.series.filter((x) => x.modality === "SEG" || x.sopClassUid === SEG_CLASS);
  for (const se of segs) {
    const r = await api(`/dicomweb/studies/${s.studyInstanceUid}/series/${se.seriesInstanceUid}`, {
      headers: { accept: 'multipart/related; type="application/dicom"' },
    });
    if (!r.ok) continue;
    const parts = multipartParts(new Uint8Array(await r.arrayBuffer()), r.headers.get("content-type") ?? "");
    for (const [i, part] of parts.entries()) {
      if (openSeries !== series) return;
      let segments: SegmentInfo[];
      try {
        segments = await showSegmentation(part.slice().buffer, `seg-${se.seriesInstanceUid}-${i}`);
      } catch (e) {
        // A SEG over another series of the study does not match these images: not shown here.
        console.warn(`SEG not shown over this series: ${(e as Error).message}`);
        continue;
      }
      listSegments(segments);
    }
  }
}

/** The Parametric Map results of a study, frame by source image (fetched once per study and result count). */
const studyMaps = new Map<string, Promise<Map<string, MapFrame>>>();
function mapsOf(s: Study): Promise<Map<string, MapFrame>> {
  const pmSeries = new Set(
    s.series.filter((x) => x.sopClassUid === PM_CLASS).map((x) => x.seriesInstanceUid),
  );
  const maps = s.results.filter((r) => pmSeries.has(r.seriesInstanceUid));
  const key = `${s.studyInstanceUid}:${maps.length}`;
  let p = studyMaps.get(key);
  if (!p) {
    p = (async () => {
      const out = new Map<string, MapFrame>();
      const parse = (b: ArrayBuffer): Record<string, unknown> =>
        dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(b).dict);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < maps.length) {
          const m = maps[next++] as Study["results"][number];
          const r = await api(
            `/dicomweb/studies/${s.studyInstanceUid}/series/${m.seriesInstanceUid}/instances/${m.sopInstanceUid}`,
            { headers: { accept: 'multipart/related; type="application/dicom"' } },
          );
          if (!r.ok) continue;
          const parts = multipartParts(
            new Uint8Array(await r.arrayBuffer()),
            r.headers.get("content-type") ?? "",
          );
          for (const part of parts) for (const f of readParametricMap(part, parse)) out.set(f.source, f);
        }
      };
      await Promise.all(Array.from({ length: Math.min(6, maps.length) }, worker));
      return out;
    })();
    p.catch(() => studyMaps.delete(key));
    studyMaps.set(key, p);
  }
  return p;
}

/** Adds segments to the segment list, each with a labelled visibility checkbox. */
function listSegments(segments: readonly SegmentInfo[]): void {
  const ul = $("segments");
  for (const seg of segments) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset["segment"] = String(seg.index);
    box.addEventListener("change", () => setSegmentVisible(seg, box.checked));
    label.append(box, ` ${seg.label}`);
    li.append(label);
    ul.append(li);
  }
}

let niftiCount = 0;
/** Opens the chosen NIfTI image, and its label mask as a labelmap when one is chosen (both read locally). */
async function openNifti(): Promise<void> {
  await viewerReady;
  const img = $<HTMLInputElement>("nifti-image").files?.[0];
  const mask = $<HTMLInputElement>("nifti-mask").files?.[0];
  if (!img) return status("Choose a NIfTI image (.nii or .nii.gz) first", true);
  openStudy = undefined;
  openSeries = "";
  leaveMpr([], "MPR of NIfTI volumes is not offered yet");
  renderWorklist();
  clearSegmentations();
  $("segments").replaceChildren();
  $("series-bar").replaceChildren();
  $("prediction-label").textContent = "";
  $("probabilities").replaceChildren();
  $("sr").replaceChildren();
  const toggle = $<HTMLInputElement>("heatmap-toggle");
  toggle.checked = false;
  toggle.disabled = true;
  setHeatmap(false, 0);
  const vp = $("viewport");
  for (const k of ["series", "loaded", "nifti", "segmentation"]) vp.dataset[k] = "";
  status(`Reading ${img.name}…`);
  try {
    const vol = await readNiftiVolume(new Uint8Array(await img.arrayBuffer()), img.name);
    const ids = await showNifti(vol);
    if (mask) {
      const m = await readNiftiVolume(new Uint8Array(await mask.arrayBuffer()), mask.name);
      if (!sameGrid(vol, m))
        throw new Error(
          `${mask.name} (${m.dims.join("×")}) is not on the voxel grid of ${img.name} (${vol.dims.join("×")}); choose the mask predicted for or drawn on this image`,
        );
      const id = `nifti-mask-${++niftiCount}`;
      listSegments(await showNiftiLabelmap(m, ids, id));
      vp.dataset["segmentation"] = id;
    }
    vp.dataset["nifti"] = img.name;
    vp.dataset["loaded"] = "true";
    vp.focus();
    status(`${img.name}: ${vol.dims.join("×")} voxels${mask ? `, mask ${mask.name}` : ""}`);
  } catch (e) {
    status(`Cannot show ${img.name}: ${(e as Error).message}`, true);
  }
}

/** The SR result of the image shown (its findings and the model's outputs), in the side panel. */
async function showReport(s: Study, srUid: string | null | undefined): Promise<void> {
  const box = $("sr");
  const sr = s.results.find((r) => r.sopInstanceUid === srUid);
  if (!sr) {
    box.replaceChildren();
    return;
  }
  if (box.dataset["sop"] === sr.sopInstanceUid) return;
  const r = await api(
    `/dicomweb/studies/${s.studyInstanceUid}/series/${sr.seriesInstanceUid}/instances/${sr.sopInstanceUid}`,
    {
      headers: { accept: 'multipart/related; type="application/dicom"' },
    },
  );
  if (!r.ok) return;
  const [part] = multipartParts(new Uint8Array(await r.arrayBuffer()), r.headers.get("content-type") ?? "");
  if (!part) return;
  const { title, lines } = readSr(part);
  const h = document.createElement("h3");
  h.textContent = title;
  const ul = document.createElement("ul");
  for (const l of lines) {
    const li = document.createElement("li");
    li.style.marginLeft = `${l.depth}em`;
    li.textContent = l.value ? `${l.name}: ${l.value}` : l.name;
    if (!l.value) li.className = "sr-heading";
    ul.append(li);
  }
  box.replaceChildren(h, ul);
  box.dataset["sop"] = sr.sopInstanceUid;
}

let predTimer: number | undefined;
/** The probabilities of the image shown, once scrolling rests (each lookup is an audited access). */
function showImagePrediction(): void {
  clearTimeout(predTimer);
  predTimer = window.setTimeout(async () => {
    const id = currentImageId();
    if (!id?.startsWith("wadouri:")) return;
    const r = await api(`/v1/predictions/${sopOf(id)}`);
    if (!r.ok || currentImageId() !== id) return;
    const { predictions } = (await r.json()) as {
      predictions: {
        label: string;
        modelId: string;
        probabilities: Record<string, number>;
        resultSopInstanceUid: string | null;
      }[];
    };
    showProbabilities(predictions[0]?.probabilities ?? {});
    if (openStudy) await showReport(openStudy, predictions[0]?.resultSopInstanceUid);
  }, 300);
}

function showProbabilities(probabilities: Record<string, number>): void {
  const table = $<HTMLTableElement>("probabilities");
  table.replaceChildren();
  for (const [label, prob] of Object.entries(probabilities)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = label;
    tr.insertCell().textContent = prob.toFixed(3);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(prob * 100)}px`;
    tr.insertCell().append(bar);
  }
}

// ---- Upload: DICOM through STOW-RS (stored, queued, in the worklist), PNG/JPEG through predict ----

async function filesOfDrop(dt: DataTransfer): Promise<File[]> {
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile)
      out.push(await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej)));
    else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  const entries = [...dt.items]
    .map((i) => i.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...dt.files];
  for (const e of entries) await walk(e);
  return out;
}

function multipart(parts: Uint8Array[]): { body: Blob; type: string } {
  const boundary = `radiolens-${crypto.randomUUID()}`;
  const chunks: BlobPart[] = [];
  for (const p of parts) {
    chunks.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, p as BlobPart, "\r\n");
  }
  chunks.push(`--${boundary}--\r\n`);
  return {
    body: new Blob(chunks),
    type: `multipart/related; type="application/dicom"; boundary=${boundary}`,
  };
}

async function upload(files: File[]): Promise<void> {
  const dicom: Uint8Array[] = [];
  const pictures: File[] = [];
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    if (isPart10(bytes)) dicom.push(bytes);
    else if (/^image\/(png|jpeg)$/.test(f.type)) pictures.push(f);
  }
  if (dicom.length === 0 && pictures.length === 0)
    return status("No DICOM, PNG or JPEG file in what was dropped", true);
  let stored = 0;
  // STOW-RS in batches, so a large folder stays under the request size limit.
  for (let i = 0; i < dicom.length; i += 20) {
    const { body, type } = multipart(dicom.slice(i, i + 20));
    status(`Storing ${Math.min(i + 20, dicom.length)} of ${dicom.length} DICOM file(s)…`);
    const r = await api("/dicomweb/studies", { method: "POST", headers: { "content-type": type }, body });
    if (r.status !== 200 && r.status !== 202) return status(await errorText(r), true);
    stored += ((await r.json()) as { "00081199"?: { Value?: unknown[] } })["00081199"]?.Value?.length ?? 0;
  }
  if (dicom.length > 0) {
    status(`${stored} DICOM instance(s) stored; analysis queued — see the worklist`);
    await refreshWorklist();
  }
  for (const f of pictures) await predictPicture(f);
}

async function predictPicture(f: File): Promise<void> {
  await viewerReady;
  status(`Analysing ${f.name}…`);
  openStudy = undefined;
  openSeries = "";
  leaveMpr([], "A picture has no volume to reconstruct");
  clearSegmentations();
  const imageId = await showLocalPicture(await createImageBitmap(f));
  const force = $<HTMLInputElement>("force").checked && role === "admin";
  const model = $<HTMLSelectElement>("model").value;
  const r = await api(
    `/v1/models/${encodeURIComponent(model)}/predict?explain=gradcam${force ? "&force=true" : ""}`,
    {
      method: "POST",
      headers: { "content-type": f.type },
      body: f,
    },
  );
  if (!r.ok) {
    const text = await errorText(r);
    const gated = /^RL_ERR_(OUTSIDE_INTENDED_USE|OUT_OF_DISTRIBUTION): (.*)$/.exec(text);
    $("prediction-label").textContent = gated ? `Not analysed: ${gated[2]}` : "";
    return status(gated ? "Not analysed" : text, true);
  }
  const p = (await r.json()) as {
    model: { name: string; version: string };
    label: string;
    probabilities: Record<string, number>;
    forced?: boolean;
    explanation?: { heatmapPng: string };
    timings?: { totalMs: number; inferenceMs: number };
  };
  $("prediction-label").textContent =
    `${p.label || "(no label over the threshold)"}${p.forced ? " [forced: outside intended use or distribution]" : ""} — ${p.model.name} ${p.model.version}`;
  showProbabilities(p.probabilities);
  $("timings").textContent = p.timings
    ? `${p.timings.totalMs.toFixed(1)} ms (inference ${p.timings.inferenceMs.toFixed(1)} ms)`
    : "";
  if (p.explanation) {
    const blob = await (await fetch(`data:image/png;base64,${p.explanation.heatmapPng}`)).blob();
    setLocalHeatmap(imageId, await createImageBitmap(blob));
    $<HTMLInputElement>("heatmap-toggle").disabled = false;
  }
  status("Prediction ready");
}

// ---- Models, roles, audit, sign-in ----

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

async function showAudit(): Promise<void> {
  const sec = $("audit");
  sec.hidden = !sec.hidden;
  if (sec.hidden) return;
  const r = await api("/v1/audit?limit=100");
  if (!r.ok) return status(await errorText(r), true);
  const { records } = (await r.json()) as {
    records: {
      time: string;
      eventId?: string;
      event?: string;
      user: string;
      role: string;
      outcome: number;
      object: string;
    }[];
  };
  const t = $<HTMLTableElement>("audit-table");
  t.replaceChildren();
  const head = t.createTHead().insertRow();
  for (const h of ["Time", "Event", "User", "Role", "Outcome", "Object"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  const body = t.createTBody();
  for (const a of records) {
    const tr = body.insertRow();
    for (const v of [a.time, a.event ?? a.eventId ?? "", a.user, a.role, String(a.outcome), a.object])
      tr.insertCell().textContent = v;
  }
}

function signOut(message = ""): void {
  setCredential("");
  clearInterval(poll);
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
}

async function signIn(): Promise<void> {
  if (!(await loadModels())) {
    signOut("The server refused this credential.");
    return;
  }
  const who = await api("/v1/whoami");
  const me = who.ok ? ((await who.json()) as { id: string; role: string }) : { id: "", role: "viewer" };
  role = me.role;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("whoami").textContent = `${me.id} (${me.role})`;
  // The UI offers only what the role may do; the server enforces it regardless.
  $("upload").hidden = role === "viewer";
  $("force-label").hidden = role !== "admin";
  $("audit-button").hidden = role !== "admin";
  viewerReady ??= initViewer($<HTMLDivElement>("viewport"), $<HTMLCanvasElement>("heat-overlay"), {
    onImage: (index, count) => {
      $("slice").textContent = count > 0 ? `Image ${index + 1} / ${count}` : "";
      $("slice").dataset["index"] = String(index);
      showImagePrediction();
    },
    heatmapFor: async (sop) => {
      if ($<HTMLSelectElement>("heatmap-source").value === "pm") {
        const f = openStudy ? (await mapsOf(openStudy)).get(sop) : undefined;
        if (!f) return undefined;
        const rgba = heatRgba(f.values, f.columns, f.rows, f.lo, f.hi);
        return createImageBitmap(new ImageData(rgba, f.columns, f.rows));
      }
      const r = await api(`/v1/heatmaps/${sop}`);
      return r.ok ? createImageBitmap(await r.blob()) : undefined;
    },
    onWindow: (width, center) => {
      $("window").textContent = `W ${Math.round(width)} / L ${Math.round(center)}`;
    },
  });
  await viewerReady;
  await refreshWorklist();
  clearInterval(poll);
  // Live updates: the worklist is polled while the tab is signed in.
  poll = window.setInterval(() => void refreshWorklist(), 2000);
}

onCredentialRefused(signOut);
$("signin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setCredential($<HTMLInputElement>("api-key").value.trim());
  void signIn();
});
$("signout").addEventListener("click", () => signOut());
$("model").addEventListener("change", () => void loadCard());
$("refresh").addEventListener("click", () => void refreshWorklist());
$("filter").addEventListener("input", renderWorklist);
$("status-filter").addEventListener("change", renderWorklist);
for (const b of document.querySelectorAll<HTMLButtonElement>("#worklist th button")) {
  b.addEventListener("click", () => {
    const key = b.dataset["sort"] ?? "receivedAt";
    sortDesc = key === sortKey ? !sortDesc : true;
    sortKey = key;
    renderWorklist();
  });
}
$("audit-button").addEventListener("click", () => void showAudit());
for (const input of ["file", "folder"]) {
  const el = $<HTMLInputElement>(input);
  el.addEventListener("change", () => {
    if (el.files && el.files.length > 0) void upload([...el.files]);
  });
}
const drop = $("dropzone");
drop.addEventListener("dragover", (ev) => {
  ev.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  if (ev.dataTransfer) void filesOfDrop(ev.dataTransfer).then(upload);
});
drop.addEventListener("click", () => $("file").click());
$("tool").addEventListener("change", () => {
  const key = $<HTMLSelectElement>("tool").value as keyof typeof PRIMARY_TOOLS;
  setPrimaryTool(PRIMARY_TOOLS[key]);
});
for (const b of document.querySelectorAll<HTMLButtonElement>(".preset")) {
  b.addEventListener("click", () => {
    const p = PRESETS[b.dataset["preset"] ?? ""];
    if (p) setWindow(p.width, p.center);
  });
}
$("invert").addEventListener("click", () => {
  toggleInvert();
  const b = $("invert");
  b.setAttribute("aria-pressed", String(b.getAttribute("aria-pressed") !== "true"));
});
$("reset").addEventListener("click", () => {
  resetView();
  $("invert").setAttribute("aria-pressed", "false");
});
const applyHeat = async (): Promise<void> => {
  const on = $<HTMLInputElement>("heatmap-toggle").checked;
  setHeatmap(on, Number($<HTMLInputElement>("opacity").value) / 100);
  if (on && !(await heatmapOfCurrent()))
    status(
      $<HTMLSelectElement>("heatmap-source").value === "pm"
        ? "No Parametric Map result for this image (the model writes one only when configured to)"
        : "No heatmap for this image (not analysed, or no finding map)",
    );
};
$("heatmap-toggle").addEventListener("change", () => void applyHeat());
$("heatmap-source").addEventListener("change", () => {
  forgetHeatmaps();
  void applyHeat();
});
$("opacity").addEventListener("input", () => void applyHeat());
// Keyboard scrolling needs the viewer focusable; the context menu would cover right-drag zoom.
$("viewport").tabIndex = 0;
for (const id of ["mpr-axial", "mpr-sagittal", "mpr-coronal"]) {
  $(id).tabIndex = 0;
  $(id).addEventListener("contextmenu", (ev) => ev.preventDefault());
}
$("viewport").addEventListener("contextmenu", (ev) => ev.preventDefault());
$("nifti-open").addEventListener("click", () => void openNifti());
$("mpr-toggle").addEventListener("click", () => void toggleMpr());
// Exposed for the browser tests and for support: where the stack is, what labelmap is drawn, where a pixel lies.
Object.assign(window, { radiolensViewer: { position, labelmapOfCurrent, canvasOfPixel } });

if (getCredential()) void signIn();
