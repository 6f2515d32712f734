/** The batch worker: claims micro-batches of inputs, reads and decodes them, scores them on the run's model and commits one result per input. */
import { readFileSync } from "node:fs";
import type { MedicalImage } from "../core/image.js";
import type { RuntimeKind } from "../engine/runtime/index.js";
import { readImage } from "../io/index.js";
import { checkIntendedUse, gateDecision, intendedUseOf, oodDecision } from "../models/intended-use.js";
import { type BundleModel, openBundle } from "../models/onnx/bundle-runtime.js";
import { predictionsOf, preprocessBatch } from "../models/predict.js";
import { contentTypeParams, parseMultipart } from "../serve/multipart.js";
import { fetchRetrying } from "./inputs.js";
import { workerId } from "./postgres.js";
import type { BatchResult, BatchStore, ClaimedInput, RunInfo } from "./store.js";

/** Options of {@link workBatch}. */
export interface WorkOptions {
  /** ONNX Runtime intra-op threads (default 1: scale with processes, not threads). */
  readonly threads?: number;
  /** Inputs per model call (default 128). */
  readonly batchSize?: number;
  /**
   * Inputs per claim and per commit (default 4 × `batchSize`; ADR 143): each round trip to the store costs about
   * the same for 128 inputs as for 512, so a claim is scored in several model calls and committed in one transaction.
   */
  readonly claimSize?: number;
  /** Force a runtime; by default ONNX Runtime when the bundle has model.onnx, else tfjs. */
  readonly runtime?: RuntimeKind;
  /** HTTP headers for WADO-RS retrievals (e.g. `x-api-key`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Return once no input of any run is outstanding (default false: keep polling for new runs). */
  readonly exitWhenIdle?: boolean;
  /** How long to wait after an empty claim (default 500 ms). */
  readonly pollMs?: number;
  /** Called after each committed micro-batch with the counts of this worker. */
  readonly onProgress?: (p: { readonly scored: number; readonly failed: number }) => void;
  /** Stops the loop after the micro-batch in progress; what was claimed and not scored is given back. */
  readonly signal?: AbortSignal;
}

/** What a worker did: counts, and the window from its first claimed input to its last commit (epoch ms). */
export interface WorkSummary {
  readonly scored: number;
  readonly failed: number;
  /** When the first non-empty claim arrived; undefined when there was nothing to do. */
  readonly firstClaimAt: number | undefined;
  /** When the last micro-batch committed. */
  readonly lastCommitAt: number | undefined;
  /** Where the worker's time went, in milliseconds (see {@link WorkStages}). */
  readonly stages: WorkStages;
  /** CPU milliseconds (user + system, all threads) this process spent from its first claim to its last commit. */
  readonly windowCpuMs: number;
}

/**
 * Where a worker's time went, in milliseconds of its event loop: waiting for a claim the pipeline had not yet
 * received, reading and decoding inputs (with the intended-use gate), preprocessing and the model call (with the
 * OOD verdict), and waiting for the previous micro-batch's commit before sending the next.
 */
export interface WorkStages {
  readonly claimWaitMs: number;
  readonly readDecodeMs: number;
  readonly modelMs: number;
  readonly commitWaitMs: number;
}

/** What {@link scoreClaims} decided per input. */
export interface Scored {
  readonly results: BatchResult[];
  /** Inputs whose bytes could not be fetched this time (a network failure): to be tried again. */
  readonly retry: ClaimedInput[];
  readonly retryError: string;
  /** Milliseconds spent reading and decoding (with the gate), and in preprocessing and the model (with OOD). */
  readonly readDecodeMs: number;
  readonly modelMs: number;
}

/** A run's model, opened once per worker. */
interface OpenModel {
  readonly run: RunInfo;
  readonly model: BundleModel;
  readonly dicom: "display" | "modality";
}

const errorText = (e: unknown): string =>
  e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}`.slice(0, 2000) : String(e);

/** Reads one input's bytes: a file, or one instance by WADO-RS (multipart/related or application/dicom). */
async function readSource(source: string, headers: Readonly<Record<string, string>>): Promise<Uint8Array> {
  // A local file is read synchronously, as `readImage(path)` does: for the small files of an archive one read
  // costs less than the four thread-pool round trips of fs/promises, and the event loop only waits for the
  // database's replies, which stay in the socket until the read is done.
  if (!/^https?:\/\//i.test(source)) return readFileSync(source);
  const r = await fetchRetrying(source, {
    headers: { accept: 'multipart/related; type="application/dicom"', ...headers },
  });
  const body = new Uint8Array(await r.arrayBuffer());
  if (!r.ok) throw Object.assign(new Error(`WADO-RS answered HTTP ${r.status}`), { code: "RL_ERR_DOWNLOAD" });
  const type = r.headers.get("content-type") ?? "";
  if (!/^multipart\//i.test(type)) return body;
  const [part] = parseMultipart(body, contentTypeParams(type)["boundary"] ?? "");
  if (!part)
    throw Object.assign(new Error("WADO-RS answered an empty multipart body"), { code: "RL_ERR_DOWNLOAD" });
  return part.body;
}

/**
 * Scores claimed inputs of one run: each is read and decoded, checked against the card's intended use, and the
 * ones that pass go through the model in one call; the OOD verdict refuses or flags as in `radiolens predict`.
 * A file that cannot be read or decoded, or an image outside the intended use, becomes a result with its error
 * (never stopping the run); a WADO-RS retrieval still failing after its retries is handed back for another try,
 * unless this was the input's last try.
 *
 * @example
 * ```ts
 * const { results } = await scoreClaims(open, claims, {});
 * ```
 */
export async function scoreClaims(
  open: OpenModel,
  claims: readonly ClaimedInput[],
  headers: Readonly<Record<string, string>>,
  worker = workerId(),
): Promise<Scored> {
  const { run, model, dicom } = open;
  const card = model.card;
  const results: BatchResult[] = [];
  const retry: ClaimedInput[] = [];
  let retryError = "";
  const base = { run: run.name, modelId: run.modelId, modelVersion: run.modelVersion, worker };
  const failed = (c: ClaimedInput, error: string): BatchResult => ({
    ...base,
    inputId: c.id,
    label: null,
    probabilities: null,
    oodScore: null,
    error,
  });
  const inputs = intendedUseOf(card).inputs;
  const ok: { claim: ClaimedInput; image: MedicalImage }[] = [];
  const t0 = performance.now();
  let k = 0;
  for (const c of claims) {
    // Reading and decoding run on the event loop; a turn now and then lets the previous micro-batch's commit
    // (BEGIN, INSERT, complete, COMMIT: one round trip each) and the next claim proceed during the scoring,
    // instead of one step per model call.
    if (++k % 8 === 0) await new Promise<void>((r) => setImmediate(r));
    let bytes: Uint8Array;
    try {
      bytes = await readSource(c.source, headers);
    } catch (e) {
      const network = /^https?:\/\//i.test(c.source);
      if (network && !c.last) {
        retry.push(c);
        retryError = errorText(e);
      } else results.push(failed(c, errorText(e)));
      continue;
    }
    try {
      const image = await readImage(bytes, { dicom }, c.id);
      const gate = gateDecision(checkIntendedUse(inputs, image), false);
      if (!gate.analysed) results.push(failed(c, `${gate.code}: ${gate.reason}`));
      else ok.push({ claim: c, image });
    } catch (e) {
      results.push(failed(c, errorText(e)));
    }
  }
  const t1 = performance.now();
  if (ok.length > 0) {
    const { rows, ood } = await model.predictWithOod(
      preprocessBatch(
        card,
        ok.map((o) => o.image),
      ),
      ok.length,
    );
    const preds = predictionsOf(card, rows, ood);
    ok.forEach(({ claim }, i) => {
      const p = preds[i];
      if (!p) return;
      const decision = oodDecision(card.ood, p.ood, false);
      results.push({
        ...base,
        inputId: claim.id,
        label: decision.analysed ? p.label : null,
        probabilities: p.probabilities,
        oodScore: p.ood?.score ?? null,
        error: decision.analysed ? null : `${decision.code}: ${decision.reason}`,
      });
    });
  }
  return { results, retry, retryError, readDecodeMs: t1 - t0, modelMs: performance.now() - t1 };
}

/**
 * Runs a batch worker on `store` until stopped (or, with `exitWhenIdle`, until nothing is outstanding): claims
 * `claimSize` inputs, claims the next ones while scoring them in model calls of `batchSize`, and commits results
 * and settles claims in one transaction per claim while the next claim is scored. Each run's model is opened once (`threads` ONNX Runtime threads). A worker killed at any point
 * loses nothing: uncommitted inputs return to the queue (at once on restart of the embedded store; after the
 * claim expires on PostgreSQL) and the result key (run, input id) keeps one row per input.
 *
 * @example
 * ```ts
 * const { scored } = await workBatch(store, { threads: 1, exitWhenIdle: true });
 * ```
 */
export async function workBatch(store: BatchStore, opts: WorkOptions = {}): Promise<WorkSummary> {
  const batchSize = opts.batchSize ?? 128;
  const claimSize = opts.claimSize ?? 4 * batchSize;
  const headers = opts.headers ?? {};
  const models = new Map<string, Promise<OpenModel>>();
  const modelFor = (name: string): Promise<OpenModel> => {
    let m = models.get(name);
    if (!m) {
      m = (async () => {
        const run = await store.getRun(name);
        if (!run) throw new Error(`run '${name}' is not in the store`);
        const model = await openBundle(run.modelDir, {
          threads: opts.threads ?? 1,
          ...(opts.runtime ? { runtime: opts.runtime } : {}),
        });
        // DICOM is rendered to the model's training intensity domain, as `radiolens predict` does.
        return { run, model, dicom: model.card.input.intensity === "modality" ? "modality" : "display" };
      })();
      models.set(name, m);
    }
    return m;
  };
  let scored = 0;
  let failed = 0;
  let firstClaimAt: number | undefined;
  let lastCommitAt: number | undefined;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let cpuAtLast: NodeJS.CpuUsage | undefined;
  let committing: Promise<void> = Promise.resolve();
  const stages = { claimWaitMs: 0, readDecodeMs: 0, modelMs: 0, commitWaitMs: 0 };
  let next = store.claim(claimSize);
  try {
    for (;;) {
      let t = performance.now();
      const claims = await next;
      stages.claimWaitMs += performance.now() - t;
      if (opts.signal?.aborted) {
        await store.release(claims, "interrupted: the worker stopped");
        break;
      }
      if (claims.length === 0) {
        await committing;
        if (opts.exitWhenIdle && (await store.outstanding()) === 0) break;
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
        next = store.claim(claimSize);
        continue;
      }
      if (firstClaimAt === undefined) {
        firstClaimAt = Date.now();
        cpuAtFirst = process.cpuUsage();
      }
      // Claim the next micro-batch while this one is scored: the round trip overlaps the model.
      next = store.claim(claimSize);
      const byRun = new Map<string, ClaimedInput[]>();
      for (const c of claims) {
        const list = byRun.get(c.run);
        if (list) list.push(c);
        else byRun.set(c.run, [c]);
      }
      const results: BatchResult[] = [];
      const settled: ClaimedInput[] = [];
      const retry: ClaimedInput[] = [];
      let retryError = "";
      for (const [run, all] of byRun) {
        const open = await modelFor(run);
        for (let i = 0; i < all.length; i += batchSize) {
          const list = all.slice(i, i + batchSize);
          const s = await scoreClaims(open, list, headers);
          stages.readDecodeMs += s.readDecodeMs;
          stages.modelMs += s.modelMs;
          results.push(...s.results);
          const back = new Set(s.retry);
          settled.push(...list.filter((c) => !back.has(c)));
          retry.push(...s.retry);
          if (s.retry.length > 0) retryError = s.retryError;
        }
      }
      t = performance.now();
      await committing;
      stages.commitWaitMs += performance.now() - t;
      // Results, inputs to retry and the settled claims in one transaction per micro-batch.
      committing = store.commit(settled, results, { claims: retry, error: retryError }).then(() => {
        for (const r of results) {
          if (r.error === null) scored++;
          else failed++;
        }
        lastCommitAt = Date.now();
        cpuAtLast = process.cpuUsage();
        opts.onProgress?.({ scored, failed });
      });
    }
    await committing;
  } finally {
    await committing.catch(() => {});
    for (const m of models.values()) await (await m.catch(() => undefined))?.model.close();
  }
  const ms = (x: number): number => Math.round(x);
  const cpuMs = (u: NodeJS.CpuUsage | undefined): number => (u ? (u.user + u.system) / 1000 : 0);
  return {
    scored,
    failed,
    firstClaimAt,
    lastCommitAt,
    stages: {
      claimWaitMs: ms(stages.claimWaitMs),
      readDecodeMs: ms(stages.readDecodeMs),
      modelMs: ms(stages.modelMs),
      commitWaitMs: ms(stages.commitWaitMs),
    },
    windowCpuMs: ms(cpuMs(cpuAtLast) - cpuMs(cpuAtFirst)),
  };
}
