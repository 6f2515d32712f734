/** Analysis of stored instances: decode, predict, write the DICOM SR and heatmap SC results, commit exactly once, send them on. */
import { RadioLensError } from "../core/errors.js";
import { heatmapToImageGrid } from "../explain/overlay.js";
import { DicomError, parseDicom } from "../io/dicom/index.js";
import { checkIntendedUse, gateDecision, intendedUseOf, oodDecision } from "../models/intended-use.js";
import type { Prediction } from "../models/predict.js";
import codesData from "../radiology-reports/data/sr-codes.json" with { type: "json" };
import { generateReport } from "../radiology-reports/generate.js";
import { buildComprehensiveSR, readSourceImageRef } from "../radiology-reports/sr.js";
import { FINDINGS } from "../radiology-reports/vocab.js";
import type { Code } from "../results/codes.js";
import { contributingEquipment } from "../results/equipment.js";
import { type ClassificationFinding, writeMeasurementReport } from "../results/measurement-report.js";
import { writeParametricMap } from "../results/parametric-map.js";
import { type SourceSeries, sourceSeriesOf } from "../results/source.js";
import { recordAudit } from "./audit.js";
import { dicomDisplayImage } from "./decode.js";
import { shortHash } from "./hash.js";
import { explainGradCam } from "./heatmaps.js";
import type { InstanceStore } from "./instances.js";
import type { InstanceRecord, JobRecord, Repository } from "./repository/sqlite.js";
import { buildHeatmapSC, writePart10 } from "./secondary-capture.js";
import type { ServedModel } from "./served-models.js";
import { parseScope, readScope, segmentSeries } from "./volume-analysis.js";

/**
 * Maps a model's labels onto the report generator's findings (case-insensitive, e.g. "pneumonia" → Pneumonia);
 * labels that are no finding ("normal") are left out of the SR's coded findings.
 *
 * @example
 * ```ts
 * findingsOf({ normal: 0.2, pneumonia: 0.8 }); // { labels: ["Pneumonia"], probabilities: [0.8] }
 * ```
 */
export function findingsOf(probabilities: Readonly<Record<string, number>>): {
  labels: string[];
  probabilities: number[];
} {
  const labels: string[] = [];
  const probs: number[] = [];
  for (const [label, p] of Object.entries(probabilities)) {
    const f = FINDINGS.find((x) => x.toLowerCase() === label.toLowerCase().replace(/[\s-]/g, "_"));
    if (f && !labels.includes(f)) {
      labels.push(f);
      probs.push(Math.min(1, Math.max(0, p)));
    }
  }
  return { labels, probabilities: probs };
}

/**
 * Builds the Comprehensive SR for one prediction of one source instance, or undefined when the model has no
 * label the report vocabulary knows. The report module's tree (PS3.3 A.35.3) carries coded positive findings;
 * the Findings container here also gets one TEXT (DCM 121071 Finding) per model output with its probability,
 * so a below-threshold result still states the number a reader can check.
 *
 * @example
 * ```ts
 * const sr = buildResultSR(sourceBytes, model, prediction);
 * ```
 */
export function buildResultSR(source: Uint8Array, model: ServedModel, p: Prediction): Uint8Array | undefined {
  const f = findingsOf(p.probabilities);
  if (f.labels.length === 0) return undefined;
  const threshold = p.threshold > 0 && p.threshold < 1 ? p.threshold : 0.5;
  const report = generateReport(
    {
      model: { name: model.card.name, version: model.card.version },
      ...f,
      threshold,
      ...(p.ood ? { inDistribution: p.ood.inDistribution } : {}),
    },
    "en",
  );
  const ds = buildComprehensiveSR(report, readSourceImageRef(source), { SeriesNumber: 999 });
  ds["ContributingEquipmentSequence"] = contributingEquipment(
    { name: model.card.name, version: model.card.version },
    new Date(),
  );
  const content = ds["ContentSequence"] as Record<string, unknown>[];
  const findings = content.find(
    (c) =>
      (c["ConceptNameCodeSequence"] as { CodeValue?: string }[] | undefined)?.[0]?.CodeValue === "59776-5",
  );
  if (findings) {
    const items = findings["ContentSequence"] as Record<string, unknown>[];
    for (const [label, prob] of Object.entries(p.probabilities)) {
      items.push({
        RelationshipType: "CONTAINS",
        ValueType: "TEXT",
        ConceptNameCodeSequence: [
          { CodeValue: "121071", CodingSchemeDesignator: "DCM", CodeMeaning: "Finding" },
        ],
        TextValue: `Model output '${label}': probability ${prob.toFixed(4)} (threshold ${threshold.toFixed(2)})`,
      });
    }
  }
  return writePart10(ds);
}

const FINDING_CODES = (
  codesData as unknown as { findings: Record<string, { value: string; scheme: string; meaning: string }> }
).findings;

/**
 * The coded finding of a model label: the report vocabulary's code (SNOMED CT) when the label is one of its
 * findings, else a local code (99RADIOLENS, declared in the SR's Coding Scheme Identification) named after the
 * label.
 *
 * @example
 * ```ts
 * findingCode("pneumonia"); // { CodeValue: "233604007", CodingSchemeDesignator: "SCT", CodeMeaning: "Pneumonia" }
 * ```
 */
export function findingCode(label: string): Code {
  const f = FINDINGS.find((x) => x.toLowerCase() === label.toLowerCase().replace(/[\s-]/g, "_"));
  const c = f ? FINDING_CODES[f] : undefined;
  if (c) return { CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
  return {
    CodeValue: label.slice(0, 16),
    CodingSchemeDesignator: "99RADIOLENS",
    CodeMeaning: label.slice(0, 64),
  };
}

/**
 * The TID 1500 Measurement Report of one classification of one source instance: one measurement group per model
 * output with its probability (marked calibrated when the card has a calibration temperature).
 *
 * @example
 * ```ts
 * const sr = buildClassificationReport(source, sourceSeriesOf([parsed]), model, prediction);
 * ```
 */
export function buildClassificationReport(
  series: SourceSeries,
  model: ServedModel,
  p: Prediction,
): Uint8Array {
  const calibrated = (model.card.calibration?.temperature ?? 0) > 0;
  const classification: ClassificationFinding[] = Object.entries(p.probabilities).map(
    ([label, probability]) => ({
      label,
      probability,
      finding: findingCode(label),
      calibrated,
    }),
  );
  return writeMeasurementReport({
    algorithm: { name: model.card.name, version: model.card.version },
    study: series,
    images: series.images.map((im) => ({ ...im, SeriesInstanceUID: series.SeriesInstanceUID })),
    classification,
  });
}

/** What the worker needs. */
export interface AnalysisContext {
  readonly repo: Repository;
  readonly store: InstanceStore;
  readonly models: ReadonlyMap<string, ServedModel>;
  /**
   * Whether a job's results are put in the outbox with its commit, for the result sender to deliver: one answer
   * for every job, or one per routing rule (null: a job of no rule), true where that rule has a destination.
   */
  readonly sendResults?: boolean | ((rule: string | null) => boolean);
  readonly onResult?: (job: JobRecord, outcome: "done" | "failed", error?: unknown) => void;
  /** A repository call outside any job failed (e.g. the database is unreachable); the worker retries at its next poll. */
  readonly onError?: (error: unknown) => void;
  readonly maxAttempts?: number;
}

/**
 * Audits an analysis outcome that produced no result (refused, left out or failed) under the system user; the
 * detail names codes and attribute values, never identifiers. Outcome 4 = minor failure, 8 = serious (DICOM
 * Audit Message EventOutcomeIndicator, PS3.15 A.5.3).
 */
function auditAnalysis(
  ctx: AnalysisContext,
  modelId: string,
  job: JobRecord,
  outcome: 4 | 8,
  detail: string,
): Promise<void> {
  return recordAudit(ctx.repo, {
    event: "instancesAccessed",
    action: "E",
    outcome,
    user: "system",
    role: "system",
    source: "analysis",
    object: `analysis:${modelId}:${shortHash(job.sha256)}`,
    detail,
  });
}

function permanent(e: unknown): boolean {
  return e instanceof DicomError || (e instanceof RadioLensError && e.httpStatus < 500);
}

/**
 * Runs one claimed job. The prediction, the results' index rows, their outbox rows and the job's "done" mark
 * commit in one transaction, so a crash before it re-runs the job and a crash after it never does: exactly one
 * committed analysis, and every committed result is in the outbox (src/serve/outbox.ts sends it on).
 *
 * @example
 * ```ts
 * const job = await repo.claimJob();
 * if (job) await runJob(ctx, job);
 * ```
 */
export async function runJob(ctx: AnalysisContext, job: JobRecord): Promise<void> {
  const results: InstanceRecord[] = [];
  try {
    const model = ctx.models.get(job.modelId);
    if (!model) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: `model '${job.modelId}'` });
    const send =
      typeof ctx.sendResults === "function" ? ctx.sendResults(job.rule) : (ctx.sendResults ?? false);
    if (job.scope !== null) {
      await runGroupJob(ctx, job, model, send);
      return;
    }
    const inst = await ctx.repo.getInstance(job.sopInstanceUid);
    if (!inst) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance of job" });
    // The version this job was queued for, even if a newer one replaced it in the index since.
    const bytes = ctx.store.read({ ...inst, fileKey: `${job.sha256.slice(0, 2)}/${job.sha256}.dcm` });
    const display = await dicomDisplayImage(bytes);
    // The same gate as REST and the CLI; a received instance is never forced. A refused one stays stored and
    // acknowledged, gets a "not analysed" prediction row and an audit record, and no SR or heatmap.
    const gate = gateDecision(checkIntendedUse(intendedUseOf(model.card).inputs, display), false);
    const p = gate.analysed ? await model.batcher.predict(display) : undefined;
    const decision = gate.analysed ? oodDecision(model.card.ood, p?.ood, false) : gate;
    if (!p || !decision.analysed) {
      const reason = decision.reason ?? "not analysed";
      await ctx.repo.completeJob(
        job.id,
        {
          sopInstanceUid: job.sopInstanceUid,
          modelId: model.id,
          modelVersion: model.card.version,
          label: `Not analysed: ${reason}`,
          probabilities: {},
          resultSopInstanceUid: null,
        },
        [],
        false,
      );
      await auditAnalysis(
        ctx,
        model.id,
        job,
        4,
        `not analysed: ${decision.code ?? ""} ${reason}`.replace(/ {2,}/g, " "),
      ).catch((e: unknown) => ctx.onError?.(e));
      ctx.onResult?.(job, "done");
      return;
    }
    const kinds = new Set(model.results);
    const sr = kinds.has("report-sr") ? buildResultSR(bytes, model, p) : undefined;
    if (sr) results.push(ctx.store.writeResult(sr));
    // The source's geometry, read only for the result objects that carry it.
    let geometry: SourceSeries | undefined;
    const series = (): SourceSeries => {
      geometry ??= sourceSeriesOf([parseDicom(bytes, { untilTag: 0x7fe00010 })]);
      return geometry;
    };
    if (kinds.has("measurement-report")) {
      results.push(ctx.store.writeResult(buildClassificationReport(series(), model, p)));
    }
    // The job's result UID is its first SR (the report, else the measurement report).
    const reportUid = results[0]?.sopInstanceUid ?? null;
    const wantsHeatmap = kinds.has("secondary-capture") || kinds.has("parametric-map");
    if (wantsHeatmap && model.layers && display.shape.length === 3) {
      const { heat } = explainGradCam(model, display);
      // The heatmap as a Secondary Capture the PACS can show next to the source.
      if (kinds.has("secondary-capture")) {
        results.push(
          ctx.store.writeResult(buildHeatmapSC(display, heat, readSourceImageRef(bytes), model.card)),
        );
      }
      // And as float values on the source's grid, which a viewer overlays without burned-in pixels.
      if (kinds.has("parametric-map")) {
        const values = heatmapToImageGrid(heat, series().Rows, series().Columns);
        const label = model.card.labels[heat.classIndex] ?? String(heat.classIndex);
        const pm = writeParametricMap(values, series(), {
          algorithm: { name: model.card.name, version: model.card.version },
          description: `Grad-CAM (Selvaraju et al. 2017), class ${label}, layer ${heat.layer}`,
        });
        results.push(ctx.store.writeResult(pm));
      }
    }
    await ctx.repo.completeJob(
      job.id,
      {
        sopInstanceUid: job.sopInstanceUid,
        modelId: model.id,
        modelVersion: model.card.version,
        label: p.label,
        probabilities: p.probabilities,
        resultSopInstanceUid: reportUid,
      },
      results,
      send,
    );
    ctx.onResult?.(job, "done");
  } catch (e) {
    if (job.scope !== null) {
      // The reason a series or study was not analysed (e.g. inconsistent geometry) is audited: error codes and
      // the reader's messages name tags and counts, never values.
      await auditAnalysis(
        ctx,
        job.modelId,
        job,
        permanent(e) ? 4 : 8,
        `${job.scope.split(":")[0]} not analysed (rule '${job.rule ?? ""}'): ${(e as { code?: string }).code ?? "error"}: ${(e as Error).message ?? ""}`,
      ).catch((err: unknown) => ctx.onError?.(err));
    }
    try {
      await ctx.repo.failJob(
        job.id,
        e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : "error",
        permanent(e) ? 0 : (ctx.maxAttempts ?? 3),
      );
    } catch (stored) {
      // The store is unreachable: the job is still claimed by this live process, so no recovery would free it.
      // Throwing hands it to the worker's release list, retried until the store answers.
      ctx.onResult?.(job, "failed", e);
      throw stored;
    }
    ctx.onResult?.(job, "failed", e);
  }
}

/**
 * Runs a job of a series- or study-level rule: every series of its scope segmented as one volume, the SEG and
 * SR of each series committed with the job exactly as an instance job's results are. One failing series fails the
 * job (retried up to the limit, at once when permanent), so nothing is half-committed.
 */
async function runGroupJob(
  ctx: AnalysisContext,
  job: JobRecord,
  model: ServedModel,
  send: boolean,
): Promise<void> {
  const scope = parseScope(job.scope as string);
  const bySeries = await readScope(ctx.repo, (rec) => ctx.store.read(rec), scope);
  const results: InstanceRecord[] = [];
  const summary: string[] = [];
  const voxels: Record<string, number> = {};
  let firstRefusal: unknown;
  for (const instances of bySeries.values()) {
    let r: Awaited<ReturnType<typeof segmentSeries>>;
    try {
      r = await segmentSeries(model, instances);
    } catch (e) {
      // A study holds series that are no volume (a dose report, a scout): a study-level job segments the others
      // and audits why each was left out; a series-level job, or a study with no volume at all, fails.
      if (scope.level === "series" || !(e instanceof DicomError)) throw e;
      firstRefusal ??= e;
      await auditAnalysis(
        ctx,
        model.id,
        job,
        4,
        `series of the study left out (rule '${job.rule ?? ""}'): ${e.code}: ${e.message}`,
      );
      continue;
    }
    for (const o of r.objects) results.push(ctx.store.writeResult(o));
    for (const [k, v] of Object.entries(r.voxels)) voxels[k] = (voxels[k] ?? 0) + v;
    summary.push(`${instances.length} slices`);
  }
  if (summary.length === 0) throw firstRefusal;
  await ctx.repo.completeJob(
    job.id,
    {
      sopInstanceUid: job.sopInstanceUid,
      modelId: model.id,
      modelVersion: model.card.version,
      // Voxels per segment in the label: the probabilities column (which the worklist shows as probabilities)
      // stays empty for a segmentation.
      label: `Segmentation of ${summary.length} series (${summary.join(", ")}): ${Object.entries(voxels)
        .map(([k, v]) => `${k} ${v} voxels`)
        .join(", ")}`.slice(0, 1000),
      probabilities: {},
      resultSopInstanceUid: results[0]?.sopInstanceUid ?? null,
    },
    results,
    send,
  );
  ctx.onResult?.(job, "done");
}

/** What a job left claimed by a store failure is released with: back to pending, or failed at the limit. */
const STORE_FAILED = "RL_ERR_STORE_UNAVAILABLE: the result could not be committed";

/**
 * A loop that claims work from the repository and runs up to `concurrency` items at once; shared by the analysis
 * worker and the result sender. Claims are asynchronous (a database round trip), so one claiming pass runs at a
 * time and a wake-up during it triggers another pass. An item whose run threw (its final store write failed) is
 * still claimed by this live process, so it is kept and `release`d at each recovery tick until the store answers.
 * At start and every `recoverMs` it returns work claimed by processes that are gone, so a crashed instance's work
 * is picked up by the survivors.
 *
 * @example
 * ```ts
 * const loop = new ClaimLoop({ claim: () => repo.claimJob(), run: (job) => runJob(ctx, job), recover: () => repo.recoverJobs() }, 4);
 * await loop.start(); loop.notify(); await loop.stop();
 * ```
 */
export class ClaimLoop<T> {
  private active = 0;
  private stopped = true;
  private poll: NodeJS.Timeout | undefined;
  private recoverTimer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | undefined;
  private again = false;
  private readonly inflight = new Set<Promise<void>>();
  private readonly unreleased = new Set<T>();

  constructor(
    private readonly ops: {
      readonly claim: () => Promise<T | undefined>;
      readonly run: (item: T) => Promise<void>;
      readonly recover: () => Promise<number>;
      /** Gives back an item whose run failed to record its outcome. */
      readonly release?: (item: T) => Promise<void>;
      readonly onError?: (error: unknown) => void;
    },
    private readonly concurrency = 4,
    private readonly pollMs = 500,
    private readonly recoverMs = 10_000,
  ) {}

  /** Recovers interrupted work, then starts claiming. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.recover();
    this.poll = setInterval(() => this.notify(), this.pollMs);
    this.poll.unref();
    this.recoverTimer = setInterval(() => void this.recover().then(() => this.notify()), this.recoverMs);
    this.recoverTimer.unref();
    this.notify();
  }

  private async recover(): Promise<void> {
    try {
      for (const item of [...this.unreleased]) {
        await this.ops.release?.(item);
        this.unreleased.delete(item);
      }
      await this.ops.recover();
    } catch (e) {
      this.ops.onError?.(e);
    }
  }

  /** Wakes the loop (new work was queued or a slot came free). */
  notify(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.fill().finally(() => {
      this.claiming = undefined;
      if (this.again) {
        this.again = false;
        this.notify();
      }
    });
  }

  private async fill(): Promise<void> {
    while (!this.stopped && this.active < this.concurrency) {
      let item: T | undefined;
      try {
        item = await this.ops.claim();
      } catch (e) {
        // The next poll tries again; nothing was claimed.
        this.ops.onError?.(e);
        return;
      }
      if (item === undefined) return;
      this.active++;
      const p: Promise<void> = this.ops
        .run(item)
        .catch((e: unknown) => {
          this.ops.onError?.(e);
          if (this.ops.release) this.unreleased.add(item);
        })
        .finally(() => {
          this.active--;
          this.inflight.delete(p);
          this.notify();
        });
      this.inflight.add(p);
    }
  }

  /** Stops claiming, waits for the work in progress and tries once more to release what is left claimed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    if (this.recoverTimer) clearInterval(this.recoverTimer);
    await this.claiming;
    await Promise.all([...this.inflight]);
    if (this.unreleased.size > 0) await this.recover();
  }

  /** Items whose outcome could not be recorded and that wait to be released. */
  get stranded(): number {
    return this.unreleased.size;
  }

  /** Items running now. */
  get running(): number {
    return this.active;
  }
}

/**
 * The queue worker: claims pending jobs (oldest first) and runs up to `concurrency` at once so the micro-batcher
 * can group them. On start, and then every `repo.recoverIntervalMs`, it returns jobs a crashed process left
 * running to the queue.
 *
 * @example
 * ```ts
 * const w = new JobWorker(ctx, 4); await w.start(); w.notify(); await w.stop();
 * ```
 */
export class JobWorker extends ClaimLoop<JobRecord> {
  constructor(ctx: AnalysisContext, concurrency = 4, pollMs = 500) {
    super(
      {
        claim: () => ctx.repo.claimJob(),
        run: (job) => runJob(ctx, job),
        recover: () => ctx.repo.recoverJobs(),
        release: (job) => ctx.repo.failJob(job.id, STORE_FAILED, ctx.maxAttempts ?? 3),
        ...(ctx.onError ? { onError: ctx.onError } : {}),
      },
      concurrency,
      pollMs,
      ctx.repo.recoverIntervalMs,
    );
  }
}
