/** The console's worklist: received studies with the analysis status and headline finding, the caller's role, and heatmaps of done analyses. */
import type { FastifyInstance } from "fastify";
import { RadioLensError } from "../../core/errors.js";
import type { ServiceContext } from "../context.js";
import { dicomDisplayImage } from "../decode.js";
import { explainGradCam } from "../heatmaps.js";
import type { InstanceRecord, JobRecord, PredictionRecord } from "../repository/sqlite.js";

/** Where a study stands, from the jobs and predictions of its received instances. */
export type StudyStatus = "queued" | "analysing" | "done" | "not analysed" | "failed";

/** One row of the worklist. */
export interface WorklistStudy {
  readonly studyInstanceUid: string;
  readonly patientId: string;
  readonly patientName: string;
  readonly studyDate: string;
  readonly accessionNumber: string;
  readonly modalities: string[];
  /** When the newest instance of the study arrived (ISO 8601). */
  readonly receivedAt: string;
  readonly series: {
    readonly seriesInstanceUid: string;
    readonly modality: string;
    readonly sopClassUid: string;
    readonly instances: number;
    readonly origin: "received" | "result";
  }[];
  /** The model(s) run or queued on the study. */
  readonly models: string[];
  readonly status: StudyStatus;
  /** Why it was not analysed, or why it failed. */
  readonly reason?: string;
  /** The instance and label with the highest probability of a finding (or the top label when all are normal). */
  readonly finding?: {
    readonly label: string;
    readonly probability: number;
    readonly modelId: string;
    readonly sopInstanceUid: string;
    readonly seriesInstanceUid: string;
  };
  /** Result objects (SR, heatmap SC, SEG...) of the study. */
  readonly results: {
    readonly sopInstanceUid: string;
    readonly seriesInstanceUid: string;
    readonly modality: string;
  }[];
}

const NOT_ANALYSED = /^Not analysed: /;
const NO_FINDING = /^(normal|no[ _]finding|negative)$/i;

/**
 * Folds the jobs and predictions of one study's received instances into one status. Work still running wins
 * (the study is not finished); then a finding; then a failure; then "not analysed" with the gate's reason.
 *
 * @example
 * ```ts
 * studyStatus([{ status: "done" }], [{ label: "pneumonia", probabilities: { pneumonia: 0.9 } }]); // { status: "done" }
 * ```
 */
export function studyStatus(
  jobs: readonly Pick<JobRecord, "status" | "error">[],
  predictions: readonly Pick<PredictionRecord, "label">[],
): { status: StudyStatus; reason?: string } {
  if (jobs.some((j) => j.status === "running")) return { status: "analysing" };
  if (jobs.some((j) => j.status === "pending")) return { status: "queued" };
  if (predictions.some((p) => !NOT_ANALYSED.test(p.label))) return { status: "done" };
  const failed = jobs.find((j) => j.status === "failed");
  if (failed) return { status: "failed", reason: failed.error ?? "failed" };
  const gated = predictions.find((p) => NOT_ANALYSED.test(p.label));
  return {
    status: "not analysed",
    reason: gated ? gated.label.replace(NOT_ANALYSED, "") : "no model analyses this kind of image",
  };
}

function headline(
  preds: readonly (PredictionRecord & { seriesInstanceUid: string })[],
): WorklistStudy["finding"] | undefined {
  let best: WorklistStudy["finding"] | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const p of preds) {
    if (NOT_ANALYSED.test(p.label)) continue;
    // The model's decision, or its top output when no label passed the threshold.
    const top = Object.entries(p.probabilities).reduce<[string, number] | undefined>(
      (a, b) => (a === undefined || b[1] > a[1] ? b : a),
      undefined,
    );
    const label = p.label && p.probabilities[p.label] !== undefined ? p.label : top?.[0];
    if (label === undefined) continue;
    const probability = p.probabilities[label] ?? 0;
    // A finding outranks any "normal"; among findings (or among normals) the higher probability wins.
    const score = (NO_FINDING.test(label) ? 0 : 2) + probability;
    if (score > bestScore) {
      bestScore = score;
      best = {
        label,
        probability,
        modelId: p.modelId,
        sopInstanceUid: p.sopInstanceUid,
        seriesInstanceUid: p.seriesInstanceUid,
      };
    }
  }
  return best;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const list = m.get(key(it));
    if (list) list.push(it);
    else m.set(key(it), [it]);
  }
  return m;
}

/**
 * Registers `GET /v1/whoami` (the caller's id and role, so the console shows only what the role may do),
 * `GET /v1/worklist` (studies, newest first, with status and finding; the console polls it) and
 * `GET /v1/heatmaps/:sopInstanceUid` (the Grad-CAM of a done analysis as a colour PNG on the image's grid).
 *
 * @example
 * ```ts
 * await app.register(worklistRoutes, { ctx });
 * ```
 */
export async function worklistRoutes(app: FastifyInstance, { ctx }: { ctx: ServiceContext }): Promise<void> {
  app.get(
    "/v1/whoami",
    { config: { auth: "viewer" }, schema: { summary: "The caller's identity and role", tags: ["system"] } },
    async (req) => ({ id: req.principal?.id ?? "", role: req.principal?.role ?? "" }),
  );

  app.get(
    "/v1/worklist",
    {
      config: { auth: "viewer", audit: "query" },
      schema: {
        summary: "Received studies, newest first, with analysis status and headline finding",
        tags: ["results"],
        querystring: {
          type: "object",
          properties: { limit: { type: "integer", minimum: 1, maximum: 500, default: 100 } },
        },
      },
    },
    async (req) => {
      const { limit } = req.query as { limit: number };
      const all = await ctx.repo.findInstances({ limit: 100000, offset: 0 });
      const jobs = groupBy(await ctx.repo.listJobs(100000), (j) => j.sopInstanceUid);
      const studies: WorklistStudy[] = [];
      for (const [studyInstanceUid, list] of groupBy(all, (r) => r.studyInstanceUid)) {
        const received = list.filter((r) => r.origin === "received");
        if (received.length === 0) continue;
        const first = received[0] as InstanceRecord;
        const studyJobs = received.flatMap((r) => jobs.get(r.sopInstanceUid) ?? []);
        const preds = (
          await Promise.all(
            received.map(async (r) =>
              (
                await ctx.repo.predictionsFor(r.sopInstanceUid)
              ).map((p) => ({
                ...p,
                seriesInstanceUid: r.seriesInstanceUid,
              })),
            ),
          )
        ).flat();
        const finding = headline(preds);
        const series = [...groupBy(list, (r) => r.seriesInstanceUid).values()].map((s) => {
          const r = s[0] as InstanceRecord;
          return {
            seriesInstanceUid: r.seriesInstanceUid,
            modality: r.modality,
            sopClassUid: r.sopClassUid,
            instances: s.length,
            origin: r.origin,
          };
        });
        studies.push({
          studyInstanceUid,
          patientId: first.patientId,
          patientName: first.patientName,
          studyDate: first.studyDate,
          accessionNumber: first.accessionNumber,
          modalities: [...new Set(list.map((r) => r.modality).filter((m) => m))],
          receivedAt:
            received
              .map((r) => r.receivedAt)
              .sort()
              .at(-1) ?? "",
          series,
          models: [...new Set([...studyJobs.map((j) => j.modelId), ...preds.map((p) => p.modelId)])],
          ...studyStatus(studyJobs, preds),
          ...(finding ? { finding } : {}),
          results: list
            .filter((r) => r.origin === "result")
            .map((r) => ({
              sopInstanceUid: r.sopInstanceUid,
              seriesInstanceUid: r.seriesInstanceUid,
              modality: r.modality,
            })),
        });
      }
      studies.sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0));
      return { studies: studies.slice(0, limit) };
    },
  );

  app.get(
    "/v1/heatmaps/:sopInstanceUid",
    {
      config: { auth: "viewer", audit: "access" },
      schema: {
        summary: "Grad-CAM of a done analysis of a received instance, colour PNG on the image's grid",
        tags: ["results"],
        params: {
          type: "object",
          properties: { sopInstanceUid: { type: "string", pattern: "^[0-9]+(\\.[0-9]+)*$", maxLength: 64 } },
          required: ["sopInstanceUid"],
        },
        querystring: { type: "object", properties: { model: { type: "string", maxLength: 128 } } },
      },
    },
    async (req, reply) => {
      const { sopInstanceUid } = req.params as { sopInstanceUid: string };
      const inst = await ctx.repo.getInstance(sopInstanceUid);
      if (inst?.origin !== "received") throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance" });
      const wanted = (req.query as { model?: string }).model;
      // Only what the queue analysed: a gated ("not analysed") image gets no heatmap, so this never forces one.
      const done = (await ctx.repo.predictionsFor(sopInstanceUid)).find(
        (p) => !NOT_ANALYSED.test(p.label) && (wanted === undefined || p.modelId === wanted),
      );
      const model = done ? ctx.models.get(done.modelId) : undefined;
      if (!done || !model)
        throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "analysis of this instance" });
      const image = await dicomDisplayImage(ctx.store.read(inst));
      const { explanation } = explainGradCam(model, image);
      return reply
        .type("image/png")
        .header("x-radiolens-label", explanation.label)
        .send(Buffer.from(explanation.heatmapPng, "base64"));
    },
  );
}
