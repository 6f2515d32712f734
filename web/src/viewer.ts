/** The image viewer on Cornerstone3D: a stack viewport over WADO-RS instances, tools, VOI presets, heatmap overlay and SEG labelmaps. */
import { adaptersSEG } from "@cornerstonejs/adapters";
import {
  cache,
  init as coreInit,
  Enums,
  imageLoader,
  metaData,
  RenderingEngine,
  type Types,
  utilities,
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

const ENGINE = "radiolens-engine";
const VIEWPORT = "radiolens-stack";
const TOOL_GROUP = "radiolens-tools";

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
  el.addEventListener(Enums.Events.STACK_NEW_IMAGE, () => {
    const vp = stack();
    onImageChange(vp.getCurrentImageIdIndex(), vp.getImageIds().length);
    void drawHeat();
  });
  el.addEventListener(Enums.Events.IMAGE_RENDERED, () => void drawHeat());
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
  vp.render();
  return segments;
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
