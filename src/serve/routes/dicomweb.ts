/** DICOMweb (PS3.18): STOW-RS store, QIDO-RS search and WADO-RS retrieve over the received instances and the results. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RadioLensError } from "../../core/errors.js";
import { encodePng } from "../../io/image/png.js";
import type { ServiceContext } from "../context.js";
import { dicomDisplayImage } from "../decode.js";
import { type IngestResult, ingestInstance } from "../ingest.js";
import { buildMultipart, contentTypeParams, parseMultipart } from "../multipart.js";
import type { InstanceQuery, InstanceRecord } from "../repository/sqlite.js";

const UID = { type: "string", pattern: "^[0-9]+(\\.[0-9]+)*$", maxLength: 64 } as const;
const PARAMS = {
  study: { type: "object", properties: { study: UID }, required: ["study"] },
  series: { type: "object", properties: { study: UID, series: UID }, required: ["study", "series"] },
  instance: {
    type: "object",
    properties: { study: UID, series: UID, instance: UID },
    required: ["study", "series", "instance"],
  },
} as const;

/** QIDO-RS matching keys accepted (PS3.18 10.6.1.2), by keyword or tag. */
const QIDO_KEYS: Readonly<Record<string, keyof InstanceQuery>> = {
  StudyInstanceUID: "studyInstanceUid",
  "0020000D": "studyInstanceUid",
  SeriesInstanceUID: "seriesInstanceUid",
  "0020000E": "seriesInstanceUid",
  SOPInstanceUID: "sopInstanceUid",
  "00080018": "sopInstanceUid",
  Modality: "modality",
  "00080060": "modality",
  PatientID: "patientId",
  "00100020": "patientId",
  StudyDate: "studyDate",
  "00080020": "studyDate",
  AccessionNumber: "accessionNumber",
  "00080050": "accessionNumber",
};

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

const str = (vr: string, v: string | number | undefined): { vr: string; Value?: unknown[] } =>
  v === undefined || v === "" ? { vr } : { vr, Value: [v] };

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/dicomweb`;
}

function instanceJson(r: InstanceRecord, base: string): DicomJson {
  return {
    "00080016": str("UI", r.sopClassUid),
    "00080018": str("UI", r.sopInstanceUid),
    "00080020": str("DA", r.studyDate),
    "00080050": str("SH", r.accessionNumber),
    "00080060": str("CS", r.modality),
    "00081190": str(
      "UR",
      `${base}/studies/${r.studyInstanceUid}/series/${r.seriesInstanceUid}/instances/${r.sopInstanceUid}`,
    ),
    "00100010": r.patientName ? { vr: "PN", Value: [{ Alphabetic: r.patientName }] } : { vr: "PN" },
    "00100020": str("LO", r.patientId),
    "0020000D": str("UI", r.studyInstanceUid),
    "0020000E": str("UI", r.seriesInstanceUid),
  };
}

function queryOf(req: FastifyRequest, fixed: InstanceQuery = {}): InstanceQuery {
  const q = req.query as Record<string, string | undefined>;
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(q)) {
    const key = QIDO_KEYS[k];
    if (key && typeof v === "string" && v !== "" && v !== "*") out[key] = v;
  }
  // A RadioLens extension (not a PS3.18 matching key): "received" lists what was sent to us, "result" what we made.
  const origin = q["origin"];
  if (origin !== undefined && origin !== "received" && origin !== "result")
    throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "origin must be 'received' or 'result'" });
  if (origin) out["origin"] = origin;
  const limit = Number(q["limit"] ?? 1000);
  const offset = Number(q["offset"] ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000 || !Number.isInteger(offset) || offset < 0)
    throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "limit must be 1-10000 and offset ≥ 0" });
  return { ...(out as InstanceQuery), ...fixed, limit, offset };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

function stowResponse(results: readonly IngestResult[], base: string): { status: number; body: DicomJson } {
  const ok = results.filter((r): r is Extract<IngestResult, { ok: true }> => r.ok);
  const failed = results.filter((r): r is Extract<IngestResult, { ok: false }> => !r.ok);
  const body: DicomJson = {
    "00081199": {
      vr: "SQ",
      Value: ok.map((r) => ({
        "00081150": str("UI", r.record.sopClassUid),
        "00081155": str("UI", r.record.sopInstanceUid),
        "00081190": str(
          "UR",
          `${base}/studies/${r.record.studyInstanceUid}/series/${r.record.seriesInstanceUid}/instances/${r.record.sopInstanceUid}`,
        ),
      })),
    },
  };
  if (failed.length > 0) {
    body["00081198"] = {
      vr: "SQ",
      Value: failed.map((r) => ({
        "00081150": str("UI", r.record?.sopClassUid),
        "00081155": str("UI", r.record?.sopInstanceUid),
        "00081197": str("US", r.reason),
      })),
    };
  }
  // PS3.18 10.5.3: 200 all stored, 202 some failed, 409 none stored.
  return { status: failed.length === 0 ? 200 : ok.length === 0 ? 409 : 202, body };
}

function sendMultipart(reply: FastifyReply, items: Uint8Array[]): FastifyReply {
  const { body, contentType } = buildMultipart(items, "application/dicom");
  return reply.type(contentType).send(body);
}

/**
 * Registers STOW-RS (`POST /dicomweb/studies[/:study]`), QIDO-RS (`GET /dicomweb/studies`, `.../series`,
 * `.../instances`, `/dicomweb/instances`) and WADO-RS (`GET` study, series, instance, and `/rendered` as PNG).
 *
 * @example
 * ```ts
 * await app.register(dicomwebRoutes, { ctx });
 * ```
 */
export async function dicomwebRoutes(app: FastifyInstance, { ctx }: { ctx: ServiceContext }): Promise<void> {
  const stow = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = req.body as Uint8Array | undefined;
    const ct = req.headers["content-type"] ?? "";
    const type = ct.split(";")[0]?.trim().toLowerCase();
    if (!body)
      throw new RadioLensError("RL_ERR_BAD_REQUEST", { detail: "send instances as multipart/related" });
    let items: Uint8Array[];
    if (type === "multipart/related") {
      const params = contentTypeParams(ct);
      if (params["type"] && params["type"].toLowerCase() !== "application/dicom")
        throw new RadioLensError("RL_ERR_UNSUPPORTED_MEDIA", {
          type: params["type"],
          accepted: 'type="application/dicom"',
        });
      items = parseMultipart(body, params["boundary"] ?? "").map((p) => p.body);
    } else if (type === "application/dicom") {
      items = [body];
    } else {
      throw new RadioLensError("RL_ERR_UNSUPPORTED_MEDIA", {
        type: type ?? "",
        accepted: 'multipart/related; type="application/dicom", application/dicom',
      });
    }
    const { study } = (req.params ?? {}) as { study?: string };
    const who = req.principal;
    const results: IngestResult[] = [];
    // One instance after the other, in the order of the parts, each durable before the next.
    for (const bytes of items) {
      const r = await ingestInstance(ctx, bytes, {
        via: "stow",
        user: who?.id ?? "anonymous",
        role: who?.role ?? "",
        source: req.ip,
      });
      results.push(
        r.ok && study && r.record.studyInstanceUid !== study
          ? {
              ok: false,
              code: "RL_STUDY_MISMATCH",
              reason: 0xc000,
              message: "instance belongs to another study",
              record: r.record,
            }
          : r,
      );
    }
    const { status, body: json } = stowResponse(results, baseUrl(req));
    // PS3.18 8.4.2 Warning headers carry why each failed part was refused, with its DicomError code.
    const warnings = results
      .filter((r): r is Extract<IngestResult, { ok: false }> => !r.ok)
      .map((r) => `299 radiolens "${r.code}"`);
    if (warnings.length > 0) reply.header("warning", warnings.slice(0, 50).join(", "));
    return reply.code(status).type("application/dicom+json").send(json);
  };
  const stowSchema = {
    summary: 'STOW-RS: store instances (multipart/related; type="application/dicom")',
    tags: ["dicomweb"],
  };
  app.post(
    "/dicomweb/studies",
    { config: { auth: "clinician" }, bodyLimit: ctx.limits.stowBytes, schema: stowSchema },
    stow,
  );
  app.post(
    "/dicomweb/studies/:study",
    {
      config: { auth: "clinician" },
      bodyLimit: ctx.limits.stowBytes,
      schema: { ...stowSchema, params: PARAMS.study },
    },
    stow,
  );

  const qido = { config: { auth: "viewer" as const, audit: "query" as const } };
  app.get(
    "/dicomweb/studies",
    { ...qido, schema: { summary: "QIDO-RS: search studies", tags: ["dicomweb"] } },
    async (req, reply) => {
      const studies = groupBy(
        await ctx.repo.findInstances({ ...queryOf(req), limit: 100000, offset: 0 }),
        (r) => r.studyInstanceUid,
      );
      const q = queryOf(req);
      const out = [...studies.values()]
        .slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 1000))
        .map((list) => {
          const r = list[0] as InstanceRecord;
          return {
            "00080020": str("DA", r.studyDate),
            "00080050": str("SH", r.accessionNumber),
            "00080061": { vr: "CS", Value: [...new Set(list.map((x) => x.modality).filter((m) => m))] },
            "00081190": str("UR", `${baseUrl(req)}/studies/${r.studyInstanceUid}`),
            "00100010": r.patientName ? { vr: "PN", Value: [{ Alphabetic: r.patientName }] } : { vr: "PN" },
            "00100020": str("LO", r.patientId),
            "0020000D": str("UI", r.studyInstanceUid),
            "00201206": str("IS", new Set(list.map((x) => x.seriesInstanceUid)).size),
            "00201208": str("IS", list.length),
          };
        });
      return reply.type("application/dicom+json").send(out);
    },
  );
  app.get(
    "/dicomweb/studies/:study/series",
    {
      ...qido,
      schema: { summary: "QIDO-RS: search a study's series", tags: ["dicomweb"], params: PARAMS.study },
    },
    async (req, reply) => {
      const { study } = req.params as { study: string };
      const series = groupBy(
        await ctx.repo.findInstances(queryOf(req, { studyInstanceUid: study })),
        (r) => r.seriesInstanceUid,
      );
      const out = [...series.values()].map((list) => {
        const r = list[0] as InstanceRecord;
        return {
          "00080060": str("CS", r.modality),
          "00081190": str(
            "UR",
            `${baseUrl(req)}/studies/${r.studyInstanceUid}/series/${r.seriesInstanceUid}`,
          ),
          "0020000D": str("UI", r.studyInstanceUid),
          "0020000E": str("UI", r.seriesInstanceUid),
          "00201209": str("IS", list.length),
        };
      });
      return reply.type("application/dicom+json").send(out);
    },
  );
  const instances = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const p = (req.params ?? {}) as { study?: string; series?: string };
    const fixed: InstanceQuery = {
      ...(p.study ? { studyInstanceUid: p.study } : {}),
      ...(p.series ? { seriesInstanceUid: p.series } : {}),
    };
    const base = baseUrl(req);
    return reply
      .type("application/dicom+json")
      .send((await ctx.repo.findInstances(queryOf(req, fixed))).map((r) => instanceJson(r, base)));
  };
  app.get(
    "/dicomweb/instances",
    { ...qido, schema: { summary: "QIDO-RS: search all instances", tags: ["dicomweb"] } },
    instances,
  );
  app.get(
    "/dicomweb/studies/:study/series/:series/instances",
    {
      ...qido,
      schema: { summary: "QIDO-RS: search a series' instances", tags: ["dicomweb"], params: PARAMS.series },
    },
    instances,
  );

  const wado = { config: { auth: "viewer" as const, audit: "access" as const } };
  const retrieve = async (q: InstanceQuery, reply: FastifyReply): Promise<FastifyReply> => {
    const found = await ctx.repo.findInstances({ ...q, limit: 10000 });
    if (found.length === 0) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instances" });
    return sendMultipart(
      reply,
      found.map((r) => ctx.store.read(r)),
    );
  };
  app.get(
    "/dicomweb/studies/:study",
    {
      ...wado,
      schema: {
        summary: "WADO-RS: retrieve a study (multipart/related)",
        tags: ["dicomweb"],
        params: PARAMS.study,
      },
    },
    async (req, reply) => retrieve({ studyInstanceUid: (req.params as { study: string }).study }, reply),
  );
  app.get(
    "/dicomweb/studies/:study/series/:series",
    { ...wado, schema: { summary: "WADO-RS: retrieve a series", tags: ["dicomweb"], params: PARAMS.series } },
    async (req, reply) => {
      const p = req.params as { study: string; series: string };
      return retrieve({ studyInstanceUid: p.study, seriesInstanceUid: p.series }, reply);
    },
  );
  const one = async (req: FastifyRequest): Promise<InstanceRecord> => {
    const p = req.params as { study: string; series: string; instance: string };
    const r = await ctx.repo.getInstance(p.instance);
    if (!r || r.studyInstanceUid !== p.study || r.seriesInstanceUid !== p.series)
      throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance" });
    return r;
  };
  app.get(
    "/dicomweb/studies/:study/series/:series/instances/:instance",
    {
      ...wado,
      schema: { summary: "WADO-RS: retrieve an instance", tags: ["dicomweb"], params: PARAMS.instance },
    },
    async (req, reply) => sendMultipart(reply, [ctx.store.read(await one(req))]),
  );
  app.get(
    "/dicomweb/studies/:study/series/:series/instances/:instance/rendered",
    {
      ...wado,
      schema: {
        summary: "WADO-RS: the instance rendered as PNG (VOI LUT applied)",
        tags: ["dicomweb"],
        params: PARAMS.instance,
      },
    },
    async (req, reply) => {
      const img = await dicomDisplayImage(ctx.store.read(await one(req)));
      return reply.type("image/png").send(Buffer.from(encodePng(img)));
    },
  );
}
