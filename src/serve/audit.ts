/** Audit event types of DICOM PS3.15 A.5.3 (Event ID codes of PS3.16 CID 150) and the one helper that records them. */
import type { AuditRecord, Repository } from "./repository/sqlite.js";

/**
 * The PS3.15 A.5.3 events the service records, as (DCM code, meaning).
 *
 * @example
 * ```ts
 * AUDIT_EVENTS.instancesTransferred.code; // "110104"
 * ```
 */
export const AUDIT_EVENTS = {
  applicationActivity: { code: "110100", meaning: "Application Activity" },
  auditLogUsed: { code: "110101", meaning: "Audit Log Used" },
  instancesAccessed: { code: "110103", meaning: "DICOM Instances Accessed" },
  instancesTransferred: { code: "110104", meaning: "DICOM Instances Transferred" },
  export: { code: "110106", meaning: "Export" },
  query: { code: "110112", meaning: "Query" },
  securityAlert: { code: "110113", meaning: "Security Alert" },
  userAuthentication: { code: "110114", meaning: "User Authentication" },
} as const;

/** An event key of {@link AUDIT_EVENTS}. */
export type AuditEvent = keyof typeof AUDIT_EVENTS;

/** The fields a caller supplies; the event type fills code and meaning. */
export interface AuditEntry {
  readonly event: AuditEvent;
  readonly action: AuditRecord["action"];
  readonly outcome: AuditRecord["outcome"];
  readonly user: string;
  readonly role: string;
  readonly source: string;
  readonly object: string;
  readonly detail?: string;
}

/**
 * Writes one audit record. Callers pass hashes or route names as `object`, never a UID or a patient attribute.
 *
 * @example
 * ```ts
 * await recordAudit(repo, { event: "userAuthentication", action: "E", outcome: 4, user: "anonymous", role: "", source: "127.0.0.1", object: "/v1/models" });
 * ```
 */
export async function recordAudit(repo: Repository, e: AuditEntry): Promise<void> {
  const ev = AUDIT_EVENTS[e.event];
  await repo.audit({
    eventId: ev.code,
    eventName: ev.meaning,
    action: e.action,
    outcome: e.outcome,
    user: e.user,
    role: e.role,
    source: e.source,
    object: e.object,
    detail: e.detail ?? "",
  });
}
