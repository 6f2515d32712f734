/** The result outbox: committed results go on to the C-STORE destination until it acknowledges them, across failures and restarts. */
import { ClaimLoop } from "./analysis.js";
import type { InstanceStore } from "./instances.js";
import type { Repository, SendRecord } from "./repository/sqlite.js";

/**
 * Sends a stored result file on (the DIMSE C-STORE SCU, STOW-RS); resolves with the DIMSE status (0 = success).
 * `send` is the outbox row, whose `rule` picks the routing rule's destinations.
 */
export type ResultSender = (path: string, send?: SendRecord) => Promise<number>;

/** Retry timing of {@link ResultOutbox}. */
export interface OutboxOptions {
  /** Delay after the first failure, doubled after each further one (default 500 ms). */
  readonly baseDelayMs?: number;
  /** Longest delay between tries (default 60 s): a destination down for hours is tried once a minute. */
  readonly maxDelayMs?: number;
  /** Sends in flight at once (default 2; one association each). */
  readonly concurrency?: number;
  /** How often due sends are looked for (default 250 ms). */
  readonly pollMs?: number;
}

/**
 * Delay before the next try after `attempts` failed tries: base · 2^(attempts − 1), capped.
 *
 * @example
 * ```ts
 * retryDelay(1, { baseDelayMs: 500, maxDelayMs: 60_000 }); // 500
 * retryDelay(4, { baseDelayMs: 500, maxDelayMs: 60_000 }); // 4000
 * ```
 */
export function retryDelay(attempts: number, opts: OutboxOptions = {}): number {
  const base = opts.baseDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 60_000;
  return Math.min(max, base * 2 ** Math.min(30, Math.max(0, attempts - 1)));
}

/** What happened to one try; `delayMs` is when the next try is due after a failure. */
export type SendOutcome =
  | { readonly ok: true; readonly send: SendRecord }
  | { readonly ok: false; readonly send: SendRecord; readonly why: unknown; readonly delayMs: number };

/**
 * Delivers the outbox. Each result the analysis committed has an outbox row written in the same transaction, so
 * none can be lost between commit and send. A row is claimed atomically (one process sends it), sent by
 * C-STORE, and marked sent only on status 0x0000; on any failure it returns to pending with exponential backoff
 * and is tried again, without a limit on tries. A process killed mid-send leaves the row "sending"; the next
 * recovery (at start, then every `repo.recoverIntervalMs`; for PostgreSQL once the process's lease ran out) makes it due again, so
 * delivery is at least once: a destination may receive a result twice if the process died after the C-STORE
 * response and before the commit, which a PACS treats as a retransmission of the same SOP Instance UID.
 *
 * @example
 * ```ts
 * const outbox = new ResultOutbox(repo, store, createResultSender("RADIOLENS", dest), (o) => console.log(o.ok));
 * await outbox.start(); // resends what an earlier run left unacknowledged
 * outbox.notify(); // after a job committed results
 * await outbox.stop();
 * ```
 */
export class ResultOutbox extends ClaimLoop<SendRecord> {
  constructor(
    repo: Repository,
    store: InstanceStore,
    send: ResultSender,
    onOutcome: (o: SendOutcome) => void | Promise<void>,
    opts: OutboxOptions = {},
    onError?: (error: unknown) => void,
  ) {
    super(
      {
        claim: () => repo.claimSend(),
        recover: () => repo.recoverSends(),
        // The outcome of a try could not be recorded: due again at once (at least once, see above).
        release: (s) => repo.retrySend(s.id, "RL_ERR_STORE_UNAVAILABLE: outcome not recorded", 0),
        run: async (s) => {
          let status: unknown;
          try {
            status = await send(store.pathOf(s.fileKey), s);
          } catch (e) {
            status = e;
          }
          if (status === 0) {
            await repo.completeSend(s.id);
            await onOutcome({ ok: true, send: s });
            return;
          }
          const delayMs = retryDelay(s.attempts, opts);
          const why =
            typeof status === "number"
              ? `C-STORE status 0x${status.toString(16).padStart(4, "0")}`
              : `${(status as { code?: string })?.code ?? "network"}: ${(status as Error)?.message ?? "failed"}`;
          await repo.retrySend(s.id, why, delayMs);
          await onOutcome({ ok: false, send: s, why: status, delayMs });
        },
        ...(onError ? { onError } : {}),
      },
      opts.concurrency ?? 2,
      opts.pollMs ?? 250,
      repo.recoverIntervalMs,
    );
  }
}
