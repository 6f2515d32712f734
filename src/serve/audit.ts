/** Audit event types of DICOM PS3.15 A.5.3 (Event ID codes of PS3.16 CID 150) and the one helper that records them, group-committed. */
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

type AuditInput = Parameters<Repository["auditMany"]>[0][number];

/** Most records in one group (PostgreSQL takes at most 65535 parameters in one statement). */
const MAX_GROUP = 512;

/**
 * Group commit of audit records (as databases group their log flushes): when other requests are in flight,
 * records written in the same turn of the event loop go to the store in one transaction at the turn's end; a lone
 * request commits at once (PostgreSQL's commit_delay with commit_siblings: waiting for company only pays when
 * there is some). Every writer is answered only once its record is committed, so a response still leaves after
 * its audit record is in the store (write-ahead: a crash cannot lose the record of an answered request), while
 * concurrent requests share one commit instead of paying one each. A failed group fails each of its writers, as
 * a failed single insert did.
 */
class AuditGroupCommit {
  private pending: { rec: AuditInput; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private running = false;
  /** Whether other work is in flight that may add records this turn (default: assume so). */
  siblings: () => boolean = () => true;

  constructor(private readonly repo: Repository) {}

  add(rec: AuditInput): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ rec, resolve, reject });
      // A commit in progress takes the records that arrive meanwhile into its next group.
      if (this.scheduled || this.running) return;
      if (this.siblings()) {
        this.scheduled = true;
        setImmediate(() => void this.commit());
      } else void this.commit();
    });
  }

  private async commit(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    while (this.pending.length > 0) {
      const group = this.pending.splice(0, MAX_GROUP);
      try {
        await this.repo.auditMany(group.map((g) => g.rec));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e);
      }
    }
    this.running = false;
  }
}

const groups = new WeakMap<Repository, AuditGroupCommit>();

function groupOf(repo: Repository): AuditGroupCommit {
  let g = groups.get(repo);
  if (!g) {
    g = new AuditGroupCommit(repo);
    groups.set(repo, g);
  }
  return g;
}

/**
 * Tells the group commit of `repo` whether other requests are in flight; without it, records always wait for the
 * end of the event-loop turn to be grouped.
 *
 * @example
 * ```ts
 * setAuditSiblings(repo, () => inflight > 1);
 * ```
 */
export function setAuditSiblings(repo: Repository, siblings: () => boolean): void {
  groupOf(repo).siblings = siblings;
}

/**
 * Writes one audit record and resolves once it is committed, grouped with the other records of the same
 * event-loop turn into one transaction. Callers pass hashes or route names as `object`, never a UID or a patient
 * attribute.
 *
 * @example
 * ```ts
 * await recordAudit(repo, { event: "userAuthentication", action: "E", outcome: 4, user: "anonymous", role: "", source: "127.0.0.1", object: "/v1/models" });
 * ```
 */
export function recordAudit(repo: Repository, e: AuditEntry): Promise<void> {
  const ev = AUDIT_EVENTS[e.event];
  return groupOf(repo).add({
    // When it happened, not when its group commits.
    time: new Date().toISOString(),
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
