/** Model routes: list, model card, and predict (DICOM, PNG, JPEG, multipart) through the micro-batcher. */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { RadioLensError } from "../../core/errors.js";
import { encodePng } from "../../io/image/png.js";
import {
  assertIntendedUse,
  checkIntendedUse,
  intendedUseOf,
  oodDecision,
} from "../../models/intended-use.js";
import { recordAudit } from "../audit.js";
import { roleAllows } from "../auth.js";
import type { ServiceContext } from "../context.js";
import { shortHash } from "../hash.js";
import { explainGradCam } from "../heatmaps.js";
import type { ServedModel } from "../served-models.js";

function modelOf(ctx: ServiceContext, req: FastifyRequest): ServedModel {
  const { id } = req.params as { id: string };
  const m = ctx.models.get(id);
  if (!m) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: `model '${id}'` });
  return m;
}

/**
 * The predict answer's schema: Fastify compiles it into a serializer (fast-json-stringify) instead of running
 * JSON.stringify over the object, and the OpenAPI document shows it. Unlisted properties are still written.
 */
const PREDICT_RESPONSE = {
  type: "object",
  additionalProperties: true,
  properties: {
    model: {
      type: "object",
      additionalProperties: true,
      properties: {
        id: { type: "string" },
        name: { type: "string" },
        version: { type: "string" },
        runtime: { type: "string" },
      },
    },
    label: { type: "string" },
    probabilities: { type: "object", additionalProperties: { type: "number" } },
    threshold: { type: "number" },
    explanation: { type: "object", additionalProperties: true },
    input: {
      type: "object",
      additionalProperties: true,
      properties: {
        format: { type: "string" },
        rows: { type: "integer" },
        columns: { type: "integer" },
        png: { type: "string" },
      },
    },
    timings: {
      type: "object",
      description:
        "Where the request's time went (ms): decoding, waiting for its batch, preprocessing and running the batch, the audit commit, the total; and the size of its batch",
      additionalProperties: { type: "number" },
    },
  },
} as const;

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" } },
  required: ["id"],
} as const;

/**
 * Registers `GET /v1/models`, `GET /v1/models/:id` and `POST /v1/models/:id/predict`.
 *
 * @example
 * ```ts
 * await app.register(modelRoutes, { ctx });
 * ```
 */
export async function modelRoutes(app: FastifyInstance, { ctx }: { ctx: ServiceContext }): Promise<void> {
  app.get(
    "/v1/models",
    { config: { auth: "viewer" }, schema: { summary: "Served models", tags: ["models"] } },
    async () => ({
      models: [...ctx.models.values()].map((m) => ({
        id: m.id,
        name: m.card.name,
        version: m.card.version,
        runtime: m.runtime,
        task: m.card.task,
        labels: m.card.labels,
      })),
    }),
  );

  app.get(
    "/v1/models/:id",
    {
      config: { auth: "viewer" },
      schema: { summary: "A model's card (radiolens.json)", tags: ["models"], params: ID_PARAMS },
    },
    async (req) => {
      const m = modelOf(ctx, req);
      return { id: m.id, card: m.card };
    },
  );

  app.post(
    "/v1/models/:id/predict",
    {
      config: { auth: "clinician" },
      bodyLimit: ctx.limits.predictBytes,
      schema: {
        summary:
          "Predict one image (application/dicom, image/png, image/jpeg or multipart/form-data with a 'file' part)",
        tags: ["models"],
        params: ID_PARAMS,
        querystring: {
          type: "object",
          properties: {
            explain: { type: "string", enum: ["gradcam"] },
            render: { type: "string", enum: ["png"] },
            force: { type: "string", enum: ["true", "false"] },
          },
        },
        response: { 200: PREDICT_RESPONSE },
      },
    },
    async (req) => {
      const t0 = performance.now();
      const m = modelOf(ctx, req);
      const body = req.body as Uint8Array | undefined;
      const who = req.principal;
      const audit = (outcome: 0 | 4 | 8, detail: string): Promise<void> =>
        recordAudit(ctx.repo, {
          event: "instancesAccessed",
          action: "E",
          outcome,
          user: who?.id ?? "anonymous",
          role: who?.role ?? "",
          source: req.ip,
          object: `predict:${m.id}:${body ? shortHash(body) : "empty"}`,
          detail,
        });
      try {
        if (!body)
          throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "send the image as the request body" });
        const {
          explain,
          render,
          force: forceQ,
        } = req.query as {
          explain?: string;
          render?: string;
          force?: string;
        };
        const force = forceQ === "true";
        // Analysing what a model was not made for is an administrator's decision, recorded in the audit log.
        if (force && !roleAllows(who?.role ?? "", "admin"))
          throw new RadioLensError("RL_ERR_FORBIDDEN", {
            action: "analyse images outside a model's intended use (force)",
          });
        const { image, format } = await ctx.decoder.decode(body, req.headers["content-type"] ?? "");
        const gate = checkIntendedUse(intendedUseOf(m.card).inputs, image);
        if (!force) assertIntendedUse(gate);
        const t1 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const timed = await Promise.race([
          m.batcher.predictTimed(image),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new RadioLensError("RL_ERR_TIMEOUT", { ms: ctx.limits.predictTimeoutMs })),
              ctx.limits.predictTimeoutMs,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        const p = timed.prediction;
        const od = oodDecision(m.card.ood, p.ood, force);
        if (!od.analysed && p.ood)
          throw new RadioLensError("RL_ERR_OUT_OF_DISTRIBUTION", {
            score: p.ood.score.toFixed(3),
            threshold: p.ood.threshold.toFixed(3),
          });
        const forced = force && (gate !== undefined || od.forced === true);
        const notes = [gate?.reason, od.reason].filter((r): r is string => r !== undefined);
        const explanation = explain === "gradcam" ? explainGradCam(m, image).explanation : undefined;
        const t2 = performance.now();
        await audit(0, forced ? `predicted ${format}, forced: ${notes.join("; ")}` : `predicted ${format}`);
        const t3 = performance.now();
        return {
          model: { id: m.id, name: m.card.name, version: m.card.version, runtime: m.runtime },
          label: p.label,
          probabilities: p.probabilities,
          threshold: p.threshold,
          ...(p.ood ? { ood: p.ood } : {}),
          ...(forced ? { forced: true } : {}),
          ...(notes.length > 0 ? { notes } : {}),
          ...(explanation ? { explanation } : {}),
          input: {
            format,
            rows: image.shape[0],
            columns: image.shape[1],
            // The image as the model saw it before preprocessing (VOI applied for DICOM), for viewers that cannot
            // decode the upload themselves (compressed DICOM in a browser).
            ...(render === "png" ? { png: Buffer.from(encodePng(image)).toString("base64") } : {}),
          },
          timings: {
            decodeMs: +(t1 - t0).toFixed(3),
            // Prediction and Grad-CAM, as before; then its parts: batch wait, batch preprocessing, runtime.
            inferenceMs: +(t2 - t1).toFixed(3),
            waitMs: +timed.waitMs.toFixed(3),
            preprocessMs: +timed.prepareMs.toFixed(3),
            runMs: +timed.runMs.toFixed(3),
            batchSize: timed.batchSize,
            auditMs: +(t3 - t2).toFixed(3),
            totalMs: +(t3 - t0).toFixed(3),
          },
        };
      } catch (e) {
        await audit(
          (e as { httpStatus?: number }).httpStatus !== undefined &&
            (e as { httpStatus: number }).httpStatus >= 500
            ? 8
            : 4,
          /^RL_ERR_(OUTSIDE_INTENDED_USE|OUT_OF_DISTRIBUTION)$/.test((e as { code?: string }).code ?? "")
            ? `not analysed: ${(e as Error).message}`
            : `failed: ${(e as { code?: string }).code ?? "error"}`,
        ).catch(() => {});
        throw e;
      }
    },
  );
}
