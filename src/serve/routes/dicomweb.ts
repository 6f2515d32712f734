/** DICOMweb (PS3.18): STOW-RS store, QIDO-RS search and WADO-RS retrieve over the received instances and the results. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RadioLensError } from "../../core/errors.js";
import type { ServiceContext } from "../context.js";
import { type IngestResult, ingestInstance } from "../ingest.js";
import { buildMultipart, contentTypeParams, parseMultipart } from "../multipart.js";
import { type DicomJson, parseQido, qidoJson } from "../qido.js";
import type { QidoColumn, QidoFilter, QidoLevel } from "../repository/queries.js";
import type { InstanceRecord, SearchResult } from "../repository/sqlite.js";
import {
  EXPLICIT_LE,
  encodeRendered,
  frameCount,
  frameList,
  instanceMetadata,
  negotiate,
  type Offer,
  parseStored,
  renderFrame,
  renderOptions,
  uncompressedFrames,
} from "../wado.js";

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

const str = (vr: string, v: string | number | undefined): { vr: string; Value?: unknown[] } =>
  v === undefined || v === "" ? { vr } : { vr, Value: [v] };

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/dicomweb`;
}

const uidFilter = (column: QidoColumn, level: QidoLevel, value: string): QidoFilter => ({
  column,
  level,
  match: { kind: "exact", value },
});

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
 * Registers STOW-RS (`POST /dicomweb/studies[/:study]`), QIDO-RS (studies, series and instances at every level,
 * PS3.18 10.6) and WADO-RS (study, series, instance, `/metadata`, `/frames/{list}` and `/rendered`, PS3.18 10.4);
 * what is supported is listed in docs/dicomweb-conformance.md (ADR 128).
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

  // PS3.18 8.6.3: an error answer also says why in a Warning header (code 299), for clients that drop bodies.
  app.addHook("onSend", async (_req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === "string" && !reply.hasHeader("warning")) {
      try {
        const e = (JSON.parse(payload) as { error?: { code?: string; message?: string } }).error;
        if (e?.code)
          reply.header(
            "warning",
            `299 radiolens "${`${e.code}: ${e.message ?? ""}`.replace(/[^ -~]|["\\]/g, " ").slice(0, 300)}"`,
          );
      } catch {
        // Not a JSON error body: nothing to add.
      }
    }
    return payload;
  });

  const qido = { config: { auth: "viewer" as const, audit: "query" as const } };
  const JSON_OFFERS: Offer[] = [{ type: "application/dicom+json" }, { type: "application/json" }];
  const search =
    (level: QidoLevel) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const { offer } = negotiate(req.headers.accept, JSON_OFFERS);
      const p = (req.params ?? {}) as { study?: string; series?: string };
      const fixed: QidoFilter[] = [];
      if (p.study) fixed.push(uidFilter("study_instance_uid", "study", p.study));
      if (p.series) fixed.push(uidFilter("series_instance_uid", "series", p.series));
      const q = parseQido(req.query as Record<string, unknown>, level, fixed);
      const base = baseUrl(req);
      const found = await ctx.repo.search(q.search);
      // Included attributes outside the index come from the instances' files, at instance level only.
      const fromFile = (r: SearchResult): DicomJson =>
        level === "instance" && q.fromFiles.size > 0
          ? instanceMetadata(ctx.store.read(r.record), "", [...q.fromFiles])
          : {};
      // PS3.18 as amended by CP-2473: no match is 200 with an empty array, not 204.
      return reply.type(offer.type).send(found.map((r) => qidoJson(r, q, base, fromFile(r))));
    };
  const searchRoute = (url: string, level: QidoLevel, summary: string, params?: object): void => {
    app.get(
      url,
      { ...qido, schema: { summary, tags: ["dicomweb"], ...(params ? { params } : {}) } },
      search(level),
    );
  };
  searchRoute("/dicomweb/studies", "study", "QIDO-RS: search studies");
  searchRoute("/dicomweb/series", "series", "QIDO-RS: search all series");
  searchRoute("/dicomweb/instances", "instance", "QIDO-RS: search all instances");
  searchRoute("/dicomweb/studies/:study/series", "series", "QIDO-RS: search a study's series", PARAMS.study);
  searchRoute(
    "/dicomweb/studies/:study/instances",
    "instance",
    "QIDO-RS: search a study's instances",
    PARAMS.study,
  );
  searchRoute(
    "/dicomweb/studies/:study/series/:series/instances",
    "instance",
    "QIDO-RS: search a series' instances",
    PARAMS.series,
  );

  const wado = { config: { auth: "viewer" as const, audit: "access" as const } };
  const noQuery = (req: FastifyRequest): void => {
    const names = Object.keys((req.query ?? {}) as object);
    if (names.length > 0)
      throw new RadioLensError("RL_ERR_BAD_REQUEST", {
        detail: `unknown query parameter "${names[0]}" for this WADO-RS resource`,
      });
  };
  const recordsOf = async (req: FastifyRequest): Promise<InstanceRecord[]> => {
    const p = req.params as { study: string; series?: string; instance?: string };
    if (p.instance) return [await one(req)];
    const found = await ctx.repo.findInstances({
      studyInstanceUid: p.study,
      ...(p.series ? { seriesInstanceUid: p.series } : {}),
      limit: 10000,
    });
    if (found.length === 0)
      throw new RadioLensError("RL_ERR_NOT_FOUND", { what: p.series ? "series" : "study" });
    return found;
  };
  const one = async (req: FastifyRequest): Promise<InstanceRecord> => {
    const p = req.params as { study: string; series: string; instance: string };
    const r = await ctx.repo.getInstance(p.instance);
    if (!r || r.studyInstanceUid !== p.study || r.seriesInstanceUid !== p.series)
      throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "instance" });
    return r;
  };
  const instanceUrl = (req: FastifyRequest, r: InstanceRecord): string =>
    `${baseUrl(req)}/studies/${r.studyInstanceUid}/series/${r.seriesInstanceUid}/instances/${r.sopInstanceUid}`;

  // Retrieve (PS3.18 10.4.1.1.1-3): the stored files as multipart/related; type="application/dicom", each part
  // in its stored transfer syntax; a specific transfer-syntax is given only when every file is in it.
  const retrieve = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    noQuery(req);
    const { transferSyntax: ts } = negotiate(req.headers.accept, [
      { type: "multipart/related", partType: "application/dicom", transferSyntaxes: ["*"] },
    ]);
    const files = (await recordsOf(req)).map((r) => ctx.store.read(r));
    // No transcoding: a named transfer syntax is served only when the files are stored in it.
    if (ts !== undefined && ts !== "*" && files.some((f) => parseStored(f).transferSyntaxUID !== ts))
      throw new RadioLensError("RL_ERR_NOT_ACCEPTABLE", {
        asked: `transfer-syntax=${ts}`.slice(0, 100),
        offered: "the stored transfer syntax (transfer-syntax=*)",
      });
    return sendMultipart(reply, files);
  };
  const wadoRoute = (
    url: string,
    summary: string,
    params: object,
    handler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
  ): void => {
    app.get(url, { ...wado, schema: { summary, tags: ["dicomweb"], params } }, handler);
  };
  wadoRoute(
    "/dicomweb/studies/:study",
    "WADO-RS: retrieve a study (multipart/related)",
    PARAMS.study,
    retrieve,
  );
  wadoRoute("/dicomweb/studies/:study/series/:series", "WADO-RS: retrieve a series", PARAMS.series, retrieve);
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/instances/:instance",
    "WADO-RS: retrieve an instance",
    PARAMS.instance,
    retrieve,
  );

  // Metadata (PS3.18 10.4.1.1.2): DICOM JSON of every instance, Pixel Data by BulkDataURI.
  const metadata = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    noQuery(req);
    const { offer } = negotiate(req.headers.accept, JSON_OFFERS);
    const out = (await recordsOf(req)).map((r) => instanceMetadata(ctx.store.read(r), instanceUrl(req, r)));
    return reply.type(offer.type).send(out);
  };
  wadoRoute(
    "/dicomweb/studies/:study/metadata",
    "WADO-RS: a study's metadata (DICOM JSON)",
    PARAMS.study,
    metadata,
  );
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/metadata",
    "WADO-RS: a series' metadata (DICOM JSON)",
    PARAMS.series,
    metadata,
  );
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/instances/:instance/metadata",
    "WADO-RS: an instance's metadata (DICOM JSON)",
    PARAMS.instance,
    metadata,
  );

  const FRAMES = {
    type: "object",
    properties: { ...PARAMS.instance.properties, frames: { type: "string", maxLength: 20000 } },
    required: ["study", "series", "instance", "frames"],
  } as const;
  // Frames (PS3.18 10.4.1.1.5): uncompressed, one application/octet-stream part per frame, in the asked order.
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/instances/:instance/frames/:frames",
    "WADO-RS: frames, uncompressed (multipart/related; type=application/octet-stream)",
    FRAMES,
    async (req, reply) => {
      noQuery(req);
      const { transferSyntax } = negotiate(req.headers.accept, [
        { type: "multipart/related", partType: "application/octet-stream", transferSyntaxes: [EXPLICIT_LE] },
      ]);
      const parsed = parseStored(ctx.store.read(await one(req)));
      const list = frameList((req.params as { frames: string }).frames, frameCount(parsed));
      const parts = await uncompressedFrames(parsed, list);
      const { body, contentType } = buildMultipart(
        parts,
        "application/octet-stream",
        undefined,
        `application/octet-stream; transfer-syntax=${transferSyntax ?? EXPLICIT_LE}`,
      );
      return reply.type(contentType).send(body);
    },
  );

  // Rendered (PS3.18 10.4.1.1.3-4): PNG or JPEG by Accept, window and quality by query.
  const RENDERED: Offer[] = [{ type: "image/png" }, { type: "image/jpeg" }];
  const rendered = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { offer } = negotiate(req.headers.accept, RENDERED);
    const opts = renderOptions(req.query as Record<string, unknown>);
    const parsed = parseStored(ctx.store.read(await one(req)));
    const count = frameCount(parsed);
    if (count === 0) throw new RadioLensError("RL_ERR_NOT_FOUND", { what: "Pixel Data of the instance" });
    const frameText = (req.params as { frames?: string }).frames;
    // One frame per image: a rendered instance shows its middle frame, as the models see it.
    let frame = Math.floor(count / 2) + 1;
    if (frameText !== undefined) {
      const list = frameList(frameText, count);
      if (list.length !== 1)
        throw new RadioLensError("RL_ERR_BAD_REQUEST", {
          detail: "a rendered frame resource names one frame",
        });
      frame = list[0] as number;
    }
    const img = await renderFrame(parsed, frame, opts);
    const type = offer.type as "image/png" | "image/jpeg";
    return reply.type(type).send(Buffer.from(encodeRendered(img, type, opts.quality)));
  };
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/instances/:instance/rendered",
    "WADO-RS: the instance rendered (PNG or JPEG by Accept; window, quality)",
    PARAMS.instance,
    rendered,
  );
  wadoRoute(
    "/dicomweb/studies/:study/series/:series/instances/:instance/frames/:frames/rendered",
    "WADO-RS: one frame rendered (PNG or JPEG by Accept; window, quality)",
    FRAMES,
    rendered,
  );
}
