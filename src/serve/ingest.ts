/** One path in for DICOM instances from STOW-RS and C-STORE: store durably, index, queue, audit, count. */
import { DicomError } from "../io/dicom/index.js";
import { recordAudit } from "./audit.js";
import type { ServiceContext } from "./context.js";
import { shortHash } from "./hash.js";
import type { InstanceRecord } from "./repository/sqlite.js";
import { instanceWork } from "./routing.js";

/** Outcome of {@link ingestInstance}. */
export type IngestResult =
  | { readonly ok: true; readonly record: InstanceRecord; readonly duplicate: boolean }
  | {
      readonly ok: false;
      readonly code: string;
      readonly reason: number;
      readonly message: string;
      readonly record?: InstanceRecord;
    };

/** Who sent the instance, for the audit record. */
export interface IngestSource {
  readonly via: "stow" | "dimse";
  readonly user: string;
  readonly role: string;
  readonly source: string;
  /** The association's calling AE title (DIMSE only), which routing rules may match. */
  readonly callingAeTitle?: string;
}

/**
 * Stores one instance. Returns only after the file and its index row are durable, so the caller may acknowledge.
 * Failure reasons are DIMSE/STOW status codes: 0xC000 cannot understand (PS3.4 B.2.3), 0xA700 out of resources.
 * The same SOP Instance UID with other bytes (resent in another transfer syntax) replaces the current version
 * and is analysed again; the same bytes again are acknowledged without new work.
 *
 * @example
 * ```ts
 * const r = await ingestInstance(ctx, bytes, { via: "stow", user: "k1", role: "clinician", source: "127.0.0.1" });
 * ```
 */
export async function ingestInstance(
  ctx: ServiceContext,
  bytes: Uint8Array,
  from: IngestSource,
): Promise<IngestResult> {
  const object = `instance:${shortHash(bytes)}`;
  const audit = (outcome: 0 | 4 | 8, detail: string): Promise<void> =>
    recordAudit(ctx.repo, {
      event: "instancesTransferred",
      action: "C",
      outcome,
      user: from.user,
      role: from.role,
      source: `${from.via}:${from.source}`,
      object,
      detail,
    });
  let result: IngestResult;
  let warnings: readonly string[] = [];
  let routing = "";
  try {
    const put = await ctx.store.put(bytes, (parsed) => {
      const ds = parsed.dataset;
      const work = instanceWork(
        ctx.rules,
        [...ctx.models.keys()],
        {
          ...(from.callingAeTitle !== undefined ? { callingAeTitle: from.callingAeTitle } : {}),
          modality: ds.string("Modality") ?? "",
          seriesDescription: ds.string("SeriesDescription") ?? "",
          sopClassUid: ds.uid("SOPClassUID") ?? parsed.meta.uid("MediaStorageSOPClassUID") ?? "",
        },
        { series: ds.uid("SeriesInstanceUID") ?? "", study: ds.uid("StudyInstanceUID") ?? "" },
      );
      // Rule names and levels only: the audit never carries a patient identifier or a UID.
      if (ctx.rules.length > 0) {
        const g = work.groups?.[0];
        routing = !work.routed
          ? "; not routed: no rule matched (stored, not analysed)"
          : `; routed by rule '${work.rule}'${g ? ` (${g.level} level, analysed when complete)` : ""}`;
      }
      return work;
    });
    warnings = put.warnings;
    for (const g of put.late) {
      routing += `; late: its ${g.level} was already queued for analysis by rule '${g.rule}' (stored, not re-analysed)`;
    }
    result = { ok: true, record: put.record, duplicate: put.outcome === "duplicate" };
  } catch (e) {
    if (e instanceof DicomError) {
      result = { ok: false, code: e.code, reason: 0xc000, message: e.message };
    } else {
      ctx.metrics.instances.inc({ via: from.via, outcome: "error" });
      await audit(8, "not stored: storage error").catch(() => {});
      throw e;
    }
  }
  ctx.metrics.instances.inc({
    via: from.via,
    outcome: result.ok ? (result.duplicate ? "duplicate" : "stored") : "refused",
  });
  await audit(
    result.ok ? 0 : 4,
    (result.ok
      ? result.duplicate
        ? "duplicate (already stored)"
        : `stored${routing}`
      : `refused: ${result.code}`) +
      // Deviations read with a warning (ADR 028) name tags and offsets only, never values.
      (warnings.length > 0 ? `; warnings: ${warnings.join("; ")}` : ""),
  );
  if (result.ok && !result.duplicate) ctx.worker.notify();
  return result;
}
