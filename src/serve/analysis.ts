/** Analysis of stored instances: decode, predict, write the DICOM SR and heatmap SC results, commit exactly once, send them on. */
import { RadioLensError } from "../core/errors.js";
import { DicomError } from "../io/dicom/index.js";
import type { Prediction } from "../models/predict.js";
import { generateReport } from "../reports/generate.js";
import { buildComprehensiveSR, readSourceImageRef } from "../reports/sr.js";
import { FINDINGS } from "../reports/vocab.js";
import { dicomDisplayImage } from "./decode.js";
import { explainGradCam } from "./explain.js";
import type { InstanceStore } from "./instances.js";
import type { ServedModel } from "./models.js";
import { buildHeatmapSC, writePart10 } from "./secondary-capture.js";
import type { InstanceRecord, JobRecord, Repository } from "./store.js";

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
    { model: { name: model.card.name, version: model.card.version }, ...f, threshold },
    "en",
  );
  const ds = buildComprehensiveSR(report, readSourceImageRef(source), { SeriesNumber: 999 });
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

/** Sends a stored result file on (the DIMSE C-STORE SCU); resolves with the DIMSE status. */
export type ResultSender = (path: string) => Promise<number>;

/** What the worker needs. */
export interface AnalysisContext {
  readonly repo: Repository;
  readonly store: InstanceStore;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly send?: ResultSender;
  readonly onResult?: (
    job: JobRecord,
    outcome: "done" | "failed" | "sent" | "send-failed",
    error?: unknown,
  ) => void;
  readonly maxAttempts?: number;
}

function permanent(e: unknown): boolean {
  return e instanceof DicomError || (e instanceof RadioLensError && e.httpStatus < 500);
}

/**
 * Runs one claimed job. The prediction, the results' index rows and the job's "done" mark commit in one transaction,
 * so a crash before it re-runs the job and a crash after it never does: exactly one committed analysis.
 *
 * @example
 * ```ts
 * const job = repo.claimJob();
 * if (job) await runJob(ctx, job);
 * ```
 */
export async function runJob(ctx: AnalysisContext, job: JobRecord): Promise<void> {
  let committed = false;
  const results: InstanceRecord[] = [];
  try {
    const model = ctx.models.get(job.modelId);
    if (!model) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: `model '${job.modelId}'` });
    const inst = ctx.repo.getInstance(job.sopInstanceUid);
    if (!inst) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance of job" });
    // The version this job was queued for, even if a newer one replaced it in the index since.
    const bytes = ctx.store.read({ ...inst, fileKey: `${job.sha256.slice(0, 2)}/${job.sha256}.dcm` });
    const display = await dicomDisplayImage(bytes);
    const p = await model.batcher.predict(display);
    const sr = buildResultSR(bytes, model, p);
    if (sr) results.push(ctx.store.writeResult(sr));
    if (model.layers && display.shape.length === 3) {
      // The heatmap as a Secondary Capture the PACS can show next to the source.
      const { heat } = explainGradCam(model, display);
      const sc = buildHeatmapSC(display, heat, readSourceImageRef(bytes), model.card);
      results.push(ctx.store.writeResult(sc));
    }
    committed = ctx.repo.completeJob(
      job.id,
      {
        sopInstanceUid: job.sopInstanceUid,
        modelId: model.id,
        modelVersion: model.card.version,
        label: p.label,
        probabilities: p.probabilities,
        resultSopInstanceUid: sr ? (results[0]?.sopInstanceUid ?? null) : null,
      },
      results,
    );
    ctx.onResult?.(job, "done");
  } catch (e) {
    ctx.repo.failJob(
      job.id,
      e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : "error",
      permanent(e) ? 0 : (ctx.maxAttempts ?? 3),
    );
    ctx.onResult?.(job, "failed", e);
    return;
  }
  if (!committed || !ctx.send) return;
  for (const r of results) {
    // A busy or restarting PACS is common: three tries, 0.5 s then 1 s apart; the last outcome is audited.
    let outcome: { ok: boolean; why: unknown } = { ok: false, why: undefined };
    for (let attempt = 0; attempt < 3 && !outcome.ok; attempt++) {
      if (attempt > 0) await new Promise((res) => setTimeout(res, 500 * 2 ** (attempt - 1)));
      try {
        const status = await ctx.send(ctx.store.pathOf(r.fileKey));
        outcome = { ok: status === 0, why: status };
      } catch (e) {
        outcome = { ok: false, why: e };
      }
    }
    ctx.onResult?.(job, outcome.ok ? "sent" : "send-failed", outcome.why);
  }
}

/**
 * The queue worker: claims pending jobs (oldest first) and runs up to `concurrency` at once so the micro-batcher
 * can group them. On start it returns jobs a crashed process left running to the queue.
 *
 * @example
 * ```ts
 * const w = new JobWorker(ctx, 4); w.start(); w.notify(); await w.stop();
 * ```
 */
export class JobWorker {
  private active = 0;
  private stopped = true;
  private poll: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly ctx: AnalysisContext,
    private readonly concurrency = 4,
    private readonly pollMs = 500,
  ) {}

  /** Recovers interrupted jobs and starts claiming. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.ctx.repo.recoverJobs();
    this.poll = setInterval(() => this.notify(), this.pollMs);
    this.poll.unref();
    this.notify();
  }

  /** Wakes the worker (called after an instance is stored). */
  notify(): void {
    while (!this.stopped && this.active < this.concurrency) {
      const job = this.ctx.repo.claimJob();
      if (!job) return;
      this.active++;
      const p = runJob(this.ctx, job).finally(() => {
        this.active--;
        this.inflight.delete(p);
        this.notify();
      });
      this.inflight.add(p);
    }
  }

  /** Stops claiming and waits for running jobs. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    await Promise.all([...this.inflight]);
  }

  /** Jobs running now. */
  get running(): number {
    return this.active;
  }
}
