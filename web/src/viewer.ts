/** The image viewer on Cornerstone3D: a stack viewport over WADO-RS instances or NIfTI slices, tools, VOI presets, heatmap overlay, SEG and NIfTI labelmaps. */
import { adaptersSEG } from "@cornerstonejs/adapters";
import {
  cache,
  init as coreInit,
  Enums,
  imageLoader,
  metaData,
  RenderingEngine,
  setVolumesForViewports,
  type Types,
  utilities,
  volumeLoader,
} from "@cornerstonejs/core";
import { init as dicomImageLoaderInit, wadouri } from "@cornerstonejs/dicom-image-loader";
import {
  AngleTool,
  addTool,
  EllipticalROITool,
  LengthTool,
  PanTool,
  RectangleROITool,
  StackScrollTool,
  segmentation,
  Enums as ToolEnums,
  ToolGroupManager,
  init as toolsInit,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";
import dcmjs from "dcmjs";
import { authHeaders, multipartParts } from "./api.js";
import { type NiftiVolume, sliceOrientation, slicePosition } from "./nifti.js";

const ENGINE = "radiolens-engine";
const VIEWPORT = "radiolens-stack";
const TOOL_GROUP = "radiolens-tools";
const MPR_GROUP = "radiolens-mpr-tools";
/** The fewest slices a series needs for MPR: fewer give sagittal and coronal views a few lines high. */
export const MPR_MIN_SLICES = 10;

export { PRESETS } from "./presets.js";

/** The tools a user can put on the primary mouse button. */
export const PRIMARY_TOOLS = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  length: LengthTool.toolName,
  angle: AngleTool.toolName,
  rectangleRoi: RectangleROITool.toolName,
  ellipticalRoi: EllipticalROITool.toolName,
} as const;

/** A segment of a displayed segmentation, for the segment list. */
export interface SegmentInfo {
  readonly segmentationId: string;
  readonly index: number;
  readonly label: string;
}

let engine: RenderingEngine | undefined;
let element: HTMLDivElement | undefined;
let overlay: HTMLCanvasElement | undefined;
const heatmaps = new Map<string, Promise<ImageBitmap | undefined>>();
const localHeat = new Map<string, ImageBitmap>();
const heat = { on: false, opacity: 0.4 };
let onImageChange: (index: number, count: number) => void = () => {};
let heatmapSource: (imageId: string) => Promise<ImageBitmap | undefined> = async () => undefined;
let localCount = 0;

function stack(): Types.IStackViewport {
  const vp = engine?.getViewport(VIEWPORT);
  if (!vp) throw new Error("the viewer is not initialised");
  return vp as Types.IStackViewport;
}

/** The SOP Instance UID at the end of a WADO-RS instance URL inside an image id. */
export function sopOf(imageId: string): string {
  return /\/instances\/([0-9.]+)/.exec(imageId)?.[1] ?? imageId;
}

/**
 * Starts Cornerstone3D (WebGL rendering), the DICOM image loader (codecs in web workers; instances fetched from
 * WADO-RS with the tab's credential) and the tools, and enables `el` as a stack viewport.
 *
 * @example
 * ```ts
 * await initViewer(document.getElementById("viewport") as HTMLDivElement, overlayCanvas, { onImage: (i, n) => {} });
 * ```
 */
export async function initViewer(
  el: HTMLDivElement,
  heatCanvas: HTMLCanvasElement,
  hooks: {
    readonly onImage: (index: number, count: number) => void;
    readonly heatmapFor: (sopInstanceUid: string) => Promise<ImageBitmap | undefined>;
    readonly onWindow: (width: number, center: number) => void;
  },
): Promise<void> {
  element = el;
  overlay = heatCanvas;
  onImageChange = hooks.onImage;
  heatmapSource = async (imageId) => localHeat.get(imageId) ?? hooks.heatmapFor(sopOf(imageId));
  coreInit();
  dicomImageLoaderInit({
    maxWebWorkers: Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)),
    // WADO-RS answers multipart/related (PS3.18 8.6.1.2); the loader gets the Part 10 bytes of the first part.
    beforeSend: () => ({ ...authHeaders(), Accept: 'multipart/related; type="application/dicom"' }),
    beforeProcessing: async (xhr: XMLHttpRequest) => {
      const [part] = multipartParts(
        new Uint8Array(xhr.response as ArrayBuffer),
        xhr.getResponseHeader("content-type") ?? "",
      );
      if (!part) throw new Error("empty WADO-RS response");
      return part.slice().buffer;
    },
  });
  toolsInit();
  for (const t of [
    WindowLevelTool,
    PanTool,
    ZoomTool,
    StackScrollTool,
    LengthTool,
    AngleTool,
    RectangleROITool,
    EllipticalROITool,
  ])
    addTool(t);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP);
  if (!group) throw new Error("tool group");
  for (const name of Object.values(PRIMARY_TOOLS)) group.addTool(name);
  group.addTool(StackScrollTool.toolName);
  const { MouseBindings } = ToolEnums;
  group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  for (const name of [
    LengthTool.toolName,
    AngleTool.toolName,
    RectangleROITool.toolName,
    EllipticalROITool.toolName,
  ])
    group.setToolPassive(name);

  engine = new RenderingEngine(ENGINE);
  engine.enableElement({
    viewportId: VIEWPORT,
    type: Enums.ViewportType.STACK,
    element: el,
    defaultOptions: { background: [0, 0, 0] as Types.Point3 },
  });
  group.addViewport(VIEWPORT, ENGINE);
  // The slice shown is reported once it is drawn: images already in memory (NIfTI slices) are drawn without a
  // STACK_NEW_IMAGE event.
  let shown = "";
  const report = (): void => {
    const vp = stack();
    const key = `${vp.getCurrentImageId()}|${vp.getImageIds().length}`;
    if (key === shown) return;
    shown = key;
    onImageChange(vp.getCurrentImageIdIndex(), vp.getImageIds().length);
  };
  el.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => {
    report();
    void drawHeat();
  });
  el.addEventListener(Enums.Events.IMAGE_RENDERED, () => {
    report();
    void drawHeat();
  });
  el.addEventListener(Enums.Events.VOI_MODIFIED, () => {
    const w = getWindow();
    if (w) hooks.onWindow(w.width, w.center);
  });
  el.addEventListener("keydown", (ev) => {
    const vp = engine?.getViewport(VIEWPORT) as Types.IStackViewport | undefined;
    if (!vp || vp.getImageIds().length === 0) return;
    const n = vp.getImageIds().length;
    const i = vp.getCurrentImageIdIndex();
    const to: Record<string, number> = {
      ArrowDown: i + 1,
      ArrowRight: i + 1,
      ArrowUp: i - 1,
      ArrowLeft: i - 1,
      PageDown: i + 10,
      PageUp: i - 10,
      Home: 0,
      End: n - 1,
    };
    const next = to[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    void vp.setImageIdIndex(Math.min(n - 1, Math.max(0, next)));
  });
  const mpr = ToolGroupManager.createToolGroup(MPR_GROUP);
  if (!mpr) throw new Error("tool group");
  for (const name of [
    WindowLevelTool.toolName,
    PanTool.toolName,
    ZoomTool.toolName,
    StackScrollTool.toolName,
  ])
    mpr.addTool(name);
  mpr.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
  mpr.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
  mpr.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
  mpr.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  new ResizeObserver(() => engine?.resize(true, true)).observe(el);
  await warmUp();
}

/**
 * Draws a tiny signed 16-bit CT once in a hidden viewport, so the decode worker is started and the WebGL shaders
 * are compiled before the user opens a study (the first view then costs only the fetch, decode and draw).
 */
async function warmUp(): Promise<void> {
  const ct = "1.2.840.10008.5.1.4.1.1.2";
  const uid = "2.25.1";
  const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ct,
    MediaStorageSOPInstanceUID: uid,
    TransferSyntaxUID: "1.2.840.10008.1.2.1",
    ImplementationClassUID: "2.25.2",
  });
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    SOPClassUID: ct,
    SOPInstanceUID: uid,
    Modality: "CT",
    Rows: 4,
    Columns: 4,
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    RescaleIntercept: 0,
    RescaleSlope: 1,
    ImagePositionPatient: [0, 0, 0],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: [1, 1],
    PixelData: new Int16Array(16).fill(-1000).buffer,
    _vrMap: { PixelData: "OW" },
  });
  const host = document.createElement("div");
  host.style.cssText = "position:absolute;left:-10000px;top:0;width:32px;height:32px";
  document.body.append(host);
  try {
    const imageId = wadouri.fileManager.add(new Blob([dict.write()], { type: "application/dicom" }));
    engine?.enableElement({ viewportId: "radiolens-warmup", type: Enums.ViewportType.STACK, element: host });
    const vp = engine?.getViewport("radiolens-warmup") as Types.IStackViewport | undefined;
    await vp?.setStack([imageId], 0);
    vp?.render();
  } catch (e) {
    // Only a head start: a failure here changes nothing for the real images.
    console.warn(`viewer warm-up skipped: ${(e as Error).message}`);
  } finally {
    engine?.disableElement("radiolens-warmup");
    host.remove();
  }
}

/** Puts `name` (one of {@link PRIMARY_TOOLS}) on the primary mouse button; the previous one becomes passive. */
export function setPrimaryTool(name: string): void {
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP);
  if (!group) return;
  const prev = group.getActivePrimaryMouseButtonTool();
  if (prev === name) return;
  if (prev)
    group.setToolPassive(prev, { removeAllBindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  group.setToolActive(name, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
}

/**
 * Shows `imageIds` as a stack at `index`; resolves when the first image is drawn.
 *
 * @example
 * ```ts
 * await showStack(["wadouri:http://host/dicomweb/studies/1/series/2/instances/3"]);
 * ```
 */
export async function showStack(imageIds: string[], index = 0): Promise<void> {
  const vp = stack();
  const el = element as HTMLDivElement;
  // Resolved by the first frame drawn after the stack is set (rendering happens on the next animation frame).
  const drawn = new Promise<void>((resolve) => {
    const done = (): void => {
      el.removeEventListener(Enums.Events.IMAGE_RENDERED, done);
      resolve();
    };
    el.addEventListener(Enums.Events.IMAGE_RENDERED, done);
  });
  await vp.setStack(imageIds, index);
  vp.resetCamera();
  vp.render();
  await drawn;
  onImageChange(vp.getCurrentImageIdIndex(), imageIds.length);
}

/** Starts loading one image into the cache (the first of a series the user is likely to open); errors are ignored. */
export function preload(imageId: string): void {
  if (!cache.isLoaded(imageId)) imageLoader.loadAndCacheImage(imageId).catch(() => undefined);
}

/** The SOP Instance UID of a Part 10 file, from its File Meta Information (0002,0003), always explicit VR little endian (PS3.10 7.1). */
function mediaStorageSopInstanceUid(part: Uint8Array): string | undefined {
  const end = Math.min(part.length - 8, 1024);
  for (let i = 132; i < end; i++) {
    if (part[i] !== 0x02 || part[i + 1] !== 0x00 || part[i + 2] !== 0x03 || part[i + 3] !== 0x00) continue;
    if (part[i + 4] !== 0x55 || part[i + 5] !== 0x49) continue;
    const len = (part[i + 6] as number) | ((part[i + 7] as number) << 8);
    return new TextDecoder().decode(part.subarray(i + 8, i + 8 + len)).replace(/[\0 ]+$/, "");
  }
  return undefined;
}

/**
 * Hands the instances of one WADO-RS series response (multipart/related, PS3.18 10.4) to the image loader as if
 * each had been fetched from its own URL, so a series costs one request instead of one per instance (the
 * service's rate limit counts requests). Returns how many of `imageIds` were supplied.
 */
export async function supplyInstances(
  parts: readonly Uint8Array[],
  imageIds: readonly string[],
): Promise<number> {
  const bySop = new Map<string, string>();
  for (const id of imageIds) bySop.set(sopOf(id), id.replace(/^wadouri:/, ""));
  const pending: Promise<unknown>[] = [];
  for (const part of parts) {
    const sop = mediaStorageSopInstanceUid(part);
    const url = sop ? bySop.get(sop) : undefined;
    if (!url || wadouri.dataSetCacheManager.isLoaded(url)) continue;
    const bytes = part.slice().buffer;
    pending.push(wadouri.dataSetCacheManager.load(url, () => Promise.resolve(bytes), `wadouri:${url}`));
  }
  await Promise.all(pending);
  return pending.length;
}

/** Loads (and caches) images in the background so scrolling never waits on the network, `concurrency` at a time. */
export async function prefetch(imageIds: readonly string[], concurrency = 6): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < imageIds.length) {
      const id = imageIds[next++] as string;
      if (!cache.isLoaded(id)) await imageLoader.loadAndCacheImage(id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, imageIds.length) }, worker));
}

/**
 * Orders a series' images by their position along the slice normal (PS3.3 C.7.6.2.1.1), falling back to
 * Instance Number; needs the images' metadata (after {@link prefetch}).
 */
export function sortBySlice(imageIds: readonly string[]): string[] {
  const key = (id: string): number => {
    const plane = metaData.get("imagePlaneModule", id) as
      | { imagePositionPatient?: number[]; rowCosines?: number[]; columnCosines?: number[] }
      | undefined;
    const p = plane?.imagePositionPatient;
    const r = plane?.rowCosines;
    const c = plane?.columnCosines;
    if (p && r && c && p.length === 3 && r.length === 3 && c.length === 3) {
      const [r0, r1, r2] = r as [number, number, number];
      const [c0, c1, c2] = c as [number, number, number];
      const n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
      return (
        (p[0] as number) * (n[0] as number) +
        (p[1] as number) * (n[1] as number) +
        (p[2] as number) * (n[2] as number)
      );
    }
    const g = metaData.get("generalImageModule", id) as { instanceNumber?: number } | undefined;
    return g?.instanceNumber ?? 0;
  };
  return [...imageIds]
    .map((id) => ({ id, k: key(id) }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.id);
}

/** Frames of a multi-frame instance as their own image ids (`...?frame=n`, 1-based as in PS3.18). */
export function frameIds(imageId: string): string[] {
  const mf = metaData.get("multiframeModule", imageId) as { NumberOfFrames?: number } | undefined;
  const n = mf?.NumberOfFrames ?? 1;
  return n > 1 ? Array.from({ length: n }, (_, i) => `${imageId}?frame=${i + 1}`) : [imageId];
}

/** The image shown now. */
export function currentImageId(): string | undefined {
  return stack().getCurrentImageId();
}

/** Index and count of the stack. */
export function position(): { index: number; count: number } {
  const vp = stack();
  return { index: vp.getCurrentImageIdIndex(), count: vp.getImageIds().length };
}

/** Scrolls to `index`. */
export async function scrollTo(index: number): Promise<void> {
  await stack().setImageIdIndex(index);
}

/** Applies a window as width/centre (VOI range centre ± width/2). */
export function setWindow(width: number, center: number): void {
  const vp = stack();
  vp.setProperties({ voiRange: { lower: center - width / 2, upper: center + width / 2 } });
  vp.render();
}

/** The window now, as width/centre. */
export function getWindow(): { width: number; center: number } | undefined {
  const r = stack().getProperties().voiRange;
  return r ? { width: r.upper - r.lower, center: (r.upper + r.lower) / 2 } : undefined;
}

/** Inverts the grey scale. */
export function toggleInvert(): void {
  const vp = stack();
  vp.setProperties({ invert: !vp.getProperties().invert });
  vp.render();
}

/** Back to the image's own window, no inversion, fitted and centred. */
export function resetView(): void {
  const vp = stack();
  vp.resetProperties();
  vp.resetCamera();
  vp.render();
}

/** Heatmap overlay on/off and its opacity (0-1). */
export function setHeatmap(on: boolean, opacity: number): void {
  heat.on = on;
  heat.opacity = opacity;
  void drawHeat();
}

/** Forgets the heatmaps fetched so far (their source changed) and redraws. */
export function forgetHeatmaps(): void {
  heatmaps.clear();
  void drawHeat();
}

/** A heatmap (from the service's prediction of an upload) for a local image. */
export function setLocalHeatmap(imageId: string, bmp: ImageBitmap): void {
  localHeat.set(imageId, bmp);
}

/** The heatmap for the image shown now, if the service has one (cached per instance). */
export function heatmapOfCurrent(): Promise<ImageBitmap | undefined> {
  const id = currentImageId();
  if (!id) return Promise.resolve(undefined);
  let p = heatmaps.get(id);
  if (!p) {
    p = heatmapSource(id).catch(() => undefined);
    heatmaps.set(id, p);
  }
  return p;
}

async function drawHeat(): Promise<void> {
  if (!overlay || !element) return;
  const dpr = window.devicePixelRatio || 1;
  const w = element.clientWidth;
  const h = element.clientHeight;
  if (overlay.width !== Math.round(w * dpr) || overlay.height !== Math.round(h * dpr)) {
    overlay.width = Math.round(w * dpr);
    overlay.height = Math.round(h * dpr);
  }
  const ctx = overlay.getContext("2d");
  if (!ctx) return;
  const id = heat.on ? currentImageId() : undefined;
  const bmp = id ? await heatmapOfCurrent() : undefined;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!id || !bmp || id !== currentImageId() || !heat.on) return;
  const vp = stack();
  const image = cache.getImage(id);
  const cols = image?.columns ?? bmp.width;
  const rows = image?.rows ?? bmp.height;
  // The heatmap is on the image's pixel grid: map its corners through image → world → canvas, so zoom, pan,
  // flips and rotations of the viewport carry over.
  const at = (x: number, y: number): Types.Point2 | undefined => {
    const world = utilities.imageToWorldCoords(id, [x, y]);
    return world ? vp.worldToCanvas(world) : undefined;
  };
  const p00 = at(0, 0);
  const p10 = at(cols, 0);
  const p01 = at(0, rows);
  if (!p00 || !p10 || !p01) return;
  ctx.setTransform(
    (dpr * (p10[0] - p00[0])) / bmp.width,
    (dpr * (p10[1] - p00[1])) / bmp.width,
    (dpr * (p01[0] - p00[0])) / bmp.height,
    (dpr * (p01[1] - p00[1])) / bmp.height,
    dpr * p00[0],
    dpr * p00[1],
  );
  ctx.globalAlpha = heat.opacity;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(bmp, 0, 0);
}

/**
 * Shows a PNG/JPEG upload (which has no DICOM geometry) as a one-image stack of its luminance.
 *
 * @example
 * ```ts
 * const id = await showLocalPicture(await createImageBitmap(file));
 * ```
 */
export async function showLocalPicture(bmp: ImageBitmap): Promise<string> {
  const c = document.createElement("canvas");
  c.width = bmp.width;
  c.height = bmp.height;
  const ctx = c.getContext("2d");
  if (!ctx) throw new Error("no 2D canvas");
  ctx.drawImage(bmp, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const grey = new Uint8Array(c.width * c.height);
  for (let i = 0; i < grey.length; i++)
    grey[i] = Math.round(
      0.299 * (d[i * 4] as number) + 0.587 * (d[i * 4 + 1] as number) + 0.114 * (d[i * 4 + 2] as number),
    );
  const imageId = `radiolens-local:${++localCount}`;
  imageLoader.createAndCacheLocalImage(imageId, {
    scalarData: grey,
    dimensions: [c.width, c.height],
    spacing: [1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Types.Mat3,
    frameOfReferenceUID: `radiolens-local-${localCount}`,
  });
  await showStack([imageId]);
  setWindow(256, 128);
  return imageId;
}

/**
 * Reads a DICOM Segmentation (PS3.3 A.51) over the stack's images with the Cornerstone adapters and shows it as
 * a labelmap; returns its segments for the segment list.
 *
 * @example
 * ```ts
 * const segments = await showSegmentation(segBytes.buffer, "seg-1");
 * ```
 */
export async function showSegmentation(seg: ArrayBuffer, segmentationId: string): Promise<SegmentInfo[]> {
  const vp = stack();
  const imageIds = vp.getImageIds();
  const result = (await adaptersSEG.Cornerstone3D.Segmentation.createFromDICOMSegBuffer(imageIds, seg, {
    metadataProvider: metaData,
  })) as {
    labelMapImages: { imageId: string }[][] | { imageId: string }[];
    segMetadata: { data: ({ SegmentLabel?: string; SegmentNumber?: number } | undefined)[] };
  };
  const labelmapIds = (result.labelMapImages as unknown as { imageId: string }[][])
    .flat()
    .map((i) => i.imageId);
  const segments: SegmentInfo[] = [];
  result.segMetadata.data.forEach((s, i) => {
    if (s && i > 0) segments.push({ segmentationId, index: i, label: s.SegmentLabel ?? `Segment ${i}` });
  });
  await addLabelmap(segmentationId, labelmapIds, segments);
  return segments;
}

/** Registers labelmap images (one per stack image, each naming its `referencedImageId`) and draws them. */
async function addLabelmap(
  segmentationId: string,
  labelmapIds: string[],
  segments: readonly SegmentInfo[],
): Promise<void> {
  segmentation.addSegmentations([
    {
      segmentationId,
      representation: {
        type: ToolEnums.SegmentationRepresentations.Labelmap,
        data: { imageIds: labelmapIds },
      },
      config: {
        label: segmentationId,
        segments: Object.fromEntries(
          segments.map((s) => [
            s.index,
            { segmentIndex: s.index, label: s.label, locked: false, cachedStats: {}, active: s.index === 1 },
          ]),
        ),
      },
    },
  ]);
  await segmentation.addLabelmapRepresentationToViewport(VIEWPORT, [{ segmentationId }]);
  stack().render();
}

let niftiCount = 0;

/** The per-slice image options of a NIfTI volume (geometry of slice k, as DICOM image plane attributes). */
function niftiPlane(vol: NiftiVolume, k: number, frameOfReferenceUID: string) {
  const orientation = sliceOrientation(vol);
  const normal = [0, 1, 2].map((r) => vol.direction[r * 3 + 2] as number);
  return {
    dimensions: [vol.dims[0], vol.dims[1]] as Types.Point2,
    spacing: [vol.spacing[0], vol.spacing[1]] as Types.Point2,
    origin: slicePosition(vol, k) as Types.Point3,
    direction: [...orientation, ...normal] as Types.Mat3,
    frameOfReferenceUID,
  };
}

/**
 * Shows a NIfTI volume (read in the browser, nothing is sent to the service) as a stack of its k slices, at the
 * middle slice, windowed to its value range; returns the slices' image ids for {@link showNiftiLabelmap}.
 *
 * @example
 * ```ts
 * const ids = await showNifti(await readNiftiVolume(bytes, "hippocampus_001.nii.gz"));
 * ```
 */
export async function showNifti(vol: NiftiVolume): Promise<string[]> {
  const n = ++niftiCount;
  const [ni, nj, nk] = vol.dims;
  const frameOfReferenceUID = `radiolens-nifti-${n}`;
  const ids: string[] = [];
  for (let k = 0; k < nk; k++) {
    const imageId = `radiolens-nifti:${n}:${k}`;
    imageLoader.createAndCacheLocalImage(imageId, {
      scalarData: vol.data.slice(k * ni * nj, (k + 1) * ni * nj),
      ...niftiPlane(vol, k, frameOfReferenceUID),
    });
    // The renderer reads the modality of every image it draws (General Series, PS3.3 C.7.3.1); a NIfTI has none.
    utilities.genericMetadataProvider.add(imageId, {
      type: "generalSeriesModule",
      metadata: { modality: "OT", seriesInstanceUID: frameOfReferenceUID },
    });
    ids.push(imageId);
  }
  await showStack(ids, Math.floor(nk / 2));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of vol.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  // MRI intensities are in arbitrary units: the whole range of the volume, the same window on every slice.
  if (hi > lo) setWindow(hi - lo, (hi + lo) / 2);
  return ids;
}

/**
 * Shows a NIfTI label mask over the NIfTI slices `imageIds` (from {@link showNifti}, same voxel grid) as a
 * labelmap: voxel value v > 0 is segment v; returns the segments for the segment list.
 *
 * @example
 * ```ts
 * const segments = await showNiftiLabelmap(mask, ids, "nifti-mask-1");
 * ```
 */
export async function showNiftiLabelmap(
  mask: NiftiVolume,
  imageIds: readonly string[],
  segmentationId: string,
  names: Readonly<Record<number, string>> = {},
): Promise<SegmentInfo[]> {
  const [ni, nj, nk] = mask.dims;
  if (nk !== imageIds.length) throw new Error(`the mask has ${nk} slices, the image ${imageIds.length}`);
  const frameOfReferenceUID = (
    metaData.get("imagePlaneModule", imageIds[0] as string) as {
      frameOfReferenceUID?: string;
    }
  )?.frameOfReferenceUID;
  const present = new Set<number>();
  const labelmapIds = imageIds.map((referencedImageId, k) => {
    const px = new Uint8Array(ni * nj);
    for (let v = 0; v < px.length; v++) {
      const label = Math.round(mask.data[k * ni * nj + v] as number);
      if (label < 0 || label > 255) throw new Error(`${mask.name}: label ${label} is outside 0-255`);
      px[v] = label;
      if (label > 0) present.add(label);
    }
    const imageId = `${referencedImageId}:labelmap:${segmentationId}`;
    imageLoader.createAndCacheLocalImage(imageId, {
      scalarData: px,
      ...niftiPlane(mask, k, frameOfReferenceUID ?? segmentationId),
      referencedImageId,
    });
    utilities.genericMetadataProvider.add(imageId, {
      type: "generalSeriesModule",
      metadata: { modality: "SEG", seriesInstanceUID: segmentationId },
    });
    return imageId;
  });
  const segments = [...present]
    .sort((a, b) => a - b)
    .map((index) => ({ segmentationId, index, label: names[index] ?? `Label ${index}` }));
  await addLabelmap(segmentationId, labelmapIds, segments);
  return segments;
}

/**
 * The labelmap voxels drawn over the image shown now (row-major, columns × rows), from the segmentation state
 * the renderer reads; undefined when no labelmap covers it.
 */
export function labelmapOfCurrent(segmentationId: string): Uint8Array | undefined {
  const id = segmentation.getCurrentLabelmapImageIdsForViewport(VIEWPORT, segmentationId)?.[0];
  const image = id ? cache.getImage(id) : undefined;
  const voxels = image?.voxelManager?.getScalarData() ?? image?.getPixelData();
  return voxels ? Uint8Array.from(voxels as ArrayLike<number>) : undefined;
}

/** Where the centre of pixel (column, row) of the image shown lies on the viewer, in CSS pixels. */
export function canvasOfPixel(column: number, row: number): [number, number] | undefined {
  const id = currentImageId();
  if (!id) return undefined;
  const world = utilities.imageToWorldCoords(id, [column + 0.5, row + 0.5]);
  if (!world) return undefined;
  const p = stack().worldToCanvas(world);
  return [p[0], p[1]];
}

/** Shows or hides one segment of a displayed segmentation. */
export function setSegmentVisible(s: SegmentInfo, visible: boolean): void {
  segmentation.config.visibility.setSegmentIndexVisibility(
    VIEWPORT,
    { segmentationId: s.segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
    s.index,
    visible,
  );
  stack().render();
}

/** Removes every segmentation from the viewer (before another series is opened). */
export function clearSegmentations(): void {
  segmentation.removeAllSegmentationRepresentations();
  segmentation.removeAllSegmentations();
}

/**
 * Why a series cannot be shown as a volume, or undefined when it can: one orientation, one matrix and pixel
 * spacing, and slices evenly spaced along the normal (within 1 %) with at least {@link MPR_MIN_SLICES} of them
 * (PS3.3 C.7.6.2: a volume needs a regular grid). `imageIds` are sorted by position ({@link sortBySlice}).
 */
export function mprRefusal(imageIds: readonly string[]): string | undefined {
  if (imageIds.length < MPR_MIN_SLICES)
    return `${imageIds.length} images; MPR needs ${MPR_MIN_SLICES} or more`;
  type Plane = {
    imagePositionPatient?: number[];
    imageOrientationPatient?: number[];
    rows?: number;
    columns?: number;
    rowPixelSpacing?: number;
    columnPixelSpacing?: number;
  };
  const planes = imageIds.map((id) => metaData.get("imagePlaneModule", id) as Plane | undefined);
  const first = planes[0];
  const o = first?.imageOrientationPatient;
  if (!first || !o || o.length !== 6) return "no Image Orientation (Patient)";
  const n = [o[1]! * o[5]! - o[2]! * o[4]!, o[2]! * o[3]! - o[0]! * o[5]!, o[0]! * o[4]! - o[1]! * o[3]!];
  const along: number[] = [];
  for (const p of planes) {
    const q = p?.imageOrientationPatient;
    const x = p?.imagePositionPatient;
    if (!p || !q || !x || q.some((v, i) => Math.abs(v - (o[i] as number)) > 1e-3))
      return "the images do not share one orientation";
    if (p.rows !== first.rows || p.columns !== first.columns) return "the images differ in size";
    if (p.rowPixelSpacing !== first.rowPixelSpacing || p.columnPixelSpacing !== first.columnPixelSpacing)
      return "the images differ in pixel spacing";
    along.push(x[0]! * n[0]! + x[1]! * n[1]! + x[2]! * n[2]!);
  }
  const gaps = along.slice(1).map((z, i) => z - (along[i] as number));
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  if (!(Math.abs(mean) > 1e-6) || gaps.some((g) => Math.abs(g - mean) > 0.01 * Math.abs(mean)))
    return "the slices are not evenly spaced";
  return undefined;
}

let mprVolumes = 0;
const mprKeys = new Set<string>();
const MPR_VIEWPORTS = ["radiolens-axial", "radiolens-sagittal", "radiolens-coronal"] as const;

/**
 * Shows the series as a volume in three orthographic viewports (axial, sagittal, coronal) on `elements`, with
 * the stack's window; the images come from the cache the stack filled. Resolves when all three are drawn.
 *
 * @example
 * ```ts
 * if (!mprRefusal(ids)) await showMpr(ids, [axialDiv, sagittalDiv, coronalDiv]);
 * ```
 */
export async function showMpr(
  imageIds: readonly string[],
  elements: readonly [HTMLDivElement, HTMLDivElement, HTMLDivElement],
): Promise<void> {
  const e = engine;
  if (!e) throw new Error("the viewer is not initialised");
  hideMpr();
  const voi = stack().getProperties().voiRange;
  const volumeId = `cornerstoneStreamingImageVolume:radiolens-${++mprVolumes}`;
  const volume = await volumeLoader.createAndCacheVolume(volumeId, { imageIds: [...imageIds] });
  const { ORTHOGRAPHIC } = Enums.ViewportType;
  const axes = [Enums.OrientationAxis.AXIAL, Enums.OrientationAxis.SAGITTAL, Enums.OrientationAxis.CORONAL];
  MPR_VIEWPORTS.forEach((viewportId, i) => {
    e.enableElement({
      viewportId,
      type: ORTHOGRAPHIC,
      element: elements[i] as HTMLDivElement,
      defaultOptions: {
        orientation: axes[i] as Enums.OrientationAxis,
        background: [0, 0, 0] as Types.Point3,
      },
    });
  });
  const group = ToolGroupManager.getToolGroup(MPR_GROUP);
  for (const id of MPR_VIEWPORTS) group?.addViewport(id, ENGINE);
  MPR_VIEWPORTS.forEach((id, i) => {
    if (mprKeys.has(id)) return;
    mprKeys.add(id);
    // Keyboard scrolling through the reconstructed planes, as on the stack view.
    (elements[i] as HTMLDivElement).addEventListener("keydown", (ev) => {
      const delta = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 }[
        ev.key as "ArrowDown"
      ];
      const vp = engine?.getViewport(id);
      if (delta === undefined || !vp) return;
      ev.preventDefault();
      utilities.scroll(vp as unknown as Parameters<typeof utilities.scroll>[0], { delta });
    });
  });
  const drawn = elements.map(
    (el) =>
      new Promise<void>((resolve) =>
        el.addEventListener(Enums.Events.IMAGE_RENDERED, () => resolve(), { once: true }),
      ),
  );
  volume.load(() => {});
  await setVolumesForViewports(
    e,
    [{ volumeId, ...(voi ? { callback: ({ volumeActor }) => setActorVoi(volumeActor, voi) } : {}) }],
    [...MPR_VIEWPORTS],
  );
  e.renderViewports([...MPR_VIEWPORTS]);
  await Promise.all(drawn);
}

function setActorVoi(actor: Types.VolumeActor, voi: Types.VOIRange): void {
  actor.getProperty().getRGBTransferFunction(0).setMappingRange(voi.lower, voi.upper);
}

/** Leaves MPR: its viewports are released (the stack viewport was never touched). */
export function hideMpr(): void {
  const group = ToolGroupManager.getToolGroup(MPR_GROUP);
  for (const id of MPR_VIEWPORTS) {
    if (!engine?.getViewport(id)) continue;
    group?.removeViewports(ENGINE, id);
    engine.disableElement(id);
  }
}
