/** Scores predicted report labels against gold labels: per-observation precision/recall/F1 with micro and macro averages. */
import { RadioLensError } from "../core/errors.js";
import type { CsvTable } from "./csv.js";
import { FINDINGS } from "./vocab.js";

/** Counts and scores of one observation. F1 is NaN when the observation has no gold and no predicted positive. */
export interface ObservationScore {
  readonly observation: string;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly support: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** The full evaluation. `micro`/`macro` cover the 14 findings only; `normal` is scored on its own. */
export interface LabelEvaluation {
  readonly rows: number;
  readonly perObservation: readonly ObservationScore[];
  readonly micro: { readonly precision: number; readonly recall: number; readonly f1: number };
  /** Mean F1 over findings whose F1 is defined (support or predictions > 0); `macroCount` says how many. */
  readonly macro: { readonly precision: number; readonly recall: number; readonly f1: number };
  readonly macroCount: number;
  readonly normal: ObservationScore | undefined;
}

const ratio = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b);

/**
 * Precision, recall and F1 from counts (van Rijsbergen 1979). Undefined ratios are NaN, never a made-up 0 or 1.
 *
 * @example
 * ```ts
 * computeObservationScore("Edema", 8, 2, 2).f1; // 0.8
 * ```
 */
export function computeObservationScore(
  observation: string,
  tp: number,
  fp: number,
  fn: number,
): ObservationScore {
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const f1 = ratio(2 * tp, 2 * tp + fp + fn);
  return { observation, tp, fp, fn, support: tp + fn, precision, recall, f1 };
}

function mean(xs: number[]): number {
  const d = xs.filter((x) => !Number.isNaN(x));
  return d.length === 0 ? Number.NaN : d.reduce((a, b) => a + b, 0) / d.length;
}

/**
 * Accumulates binary predictions per observation (a prediction is positive when the label is 1: mentioned and
 * neither negated nor uncertain).
 *
 * @example
 * ```ts
 * const acc = new LabelMetrics(["Edema"]);
 * acc.update({ Edema: true }, { Edema: true });
 * acc.aggregate().micro.f1; // 1
 * ```
 */
export class LabelMetrics {
  private readonly counts = new Map<string, { tp: number; fp: number; fn: number }>();
  private n = 0;

  constructor(
    private readonly observations: readonly string[] = FINDINGS,
    private readonly extra: readonly string[] = ["normal"],
  ) {
    this.reset();
  }

  /** Adds one report. Keys missing from `pred` or `gold` count as negative. */
  update(pred: Readonly<Record<string, boolean>>, gold: Readonly<Record<string, boolean>>): void {
    this.n++;
    for (const o of [...this.observations, ...this.extra]) {
      const c = this.counts.get(o)!;
      const p = pred[o] === true;
      const g = gold[o] === true;
      if (p && g) c.tp++;
      else if (p) c.fp++;
      else if (g) c.fn++;
    }
  }

  /** Scores everything added so far. */
  aggregate(): LabelEvaluation {
    const per = this.observations.map((o) => {
      const c = this.counts.get(o)!;
      return computeObservationScore(o, c.tp, c.fp, c.fn);
    });
    const tp = per.reduce((a, s) => a + s.tp, 0);
    const fp = per.reduce((a, s) => a + s.fp, 0);
    const fn = per.reduce((a, s) => a + s.fn, 0);
    const micro = computeObservationScore("micro", tp, fp, fn);
    const defined = per.filter((s) => !Number.isNaN(s.f1));
    const normalCounts = this.extra.includes("normal") ? this.counts.get("normal") : undefined;
    return {
      rows: this.n,
      perObservation: per,
      micro: { precision: micro.precision, recall: micro.recall, f1: micro.f1 },
      macro: {
        precision: mean(defined.map((s) => s.precision)),
        recall: mean(defined.map((s) => s.recall)),
        f1: mean(defined.map((s) => s.f1)),
      },
      macroCount: defined.length,
      normal: normalCounts
        ? computeObservationScore("normal", normalCounts.tp, normalCounts.fp, normalCounts.fn)
        : undefined,
    };
  }

  /** Clears all counts. */
  reset(): void {
    this.n = 0;
    for (const o of [...this.observations, ...this.extra]) this.counts.set(o, { tp: 0, fp: 0, fn: 0 });
  }
}

/** How rows of the prediction and gold tables are joined. */
export interface JoinOptions {
  /** Prediction id column (default: its first column). */
  readonly predId?: string;
  /** Gold id column (default: `filename` when present, else its first column). */
  readonly goldId?: string;
  /** Prefix stripped from ids before joining (default `CXR`, the Open-i gold standard's `filename` = `CXR<uid>`). */
  readonly idPrefix?: string;
}

/**
 * The join key of an id: trimmed, with `prefix` (case-insensitive) removed from the front. So the Open-i gold's
 * `filename` "CXR123" and a prediction's `uid` "123" (or "CXR123") meet at "123".
 *
 * @example
 * ```ts
 * reportKey("CXR123", "CXR"); // "123"
 * ```
 */
export function reportKey(id: string, prefix = "CXR"): string {
  const t = id.trim();
  return prefix.length > 0 && t.toUpperCase().startsWith(prefix.toUpperCase()) ? t.slice(prefix.length) : t;
}

const isPositive = (v: string | undefined): boolean => v !== undefined && Number(v.trim()) === 1;

/**
 * Evaluates a prediction table against a gold table joined by id (see {@link reportKey}). Every gold row needs a
 * prediction and vice versa: a missing row is an error, not a silently smaller denominator. Predicted `normal`
 * is "no positive finding" (the prediction's own `normal` column, CheXpert's stricter
 * "nothing positive or uncertain", is not read).
 *
 * @example
 * ```ts
 * const ev = evaluateLabelTables(readCsv("labels.csv"), readCsv("openi_labels_dev.csv"));
 * ev.micro.f1;
 * ```
 */
export function evaluateLabelTables(pred: CsvTable, gold: CsvTable, opts: JoinOptions = {}): LabelEvaluation {
  const predId = opts.predId ?? pred.columns[0];
  const goldId = opts.goldId ?? (gold.columns.includes("filename") ? "filename" : gold.columns[0]);
  const prefix = opts.idPrefix ?? "CXR";
  if (!predId || !pred.columns.includes(predId)) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail: `prediction table has no id column '${predId ?? ""}'`,
    });
  }
  if (!goldId || !gold.columns.includes(goldId)) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail: `gold table has no id column '${goldId ?? ""}'`,
    });
  }
  const observations = FINDINGS.filter((f) => gold.columns.includes(f));
  const missingPred = observations.filter((f) => !pred.columns.includes(f));
  if (observations.length === 0 || missingPred.length > 0) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail:
        observations.length === 0
          ? "gold table has none of the 14 finding columns"
          : `prediction table lacks column(s) ${missingPred.join(", ")}`,
    });
  }
  const predByKey = new Map<string, Readonly<Record<string, string>>>();
  for (const r of pred.rows) {
    const k = reportKey(r[predId] ?? "", prefix);
    if (predByKey.has(k))
      throw new RadioLensError("RL_ERR_TABLE_INVALID", { detail: `prediction id '${k}' repeats` });
    predByKey.set(k, r);
  }
  const hasNormal = gold.columns.includes("normal");
  const acc = new LabelMetrics(observations, hasNormal ? ["normal"] : []);
  const used = new Set<string>();
  const missing: string[] = [];
  for (const g of gold.rows) {
    const k = reportKey(g[goldId] ?? "", prefix);
    const p = predByKey.get(k);
    if (!p) {
      missing.push(k);
      continue;
    }
    used.add(k);
    const pv: Record<string, boolean> = {};
    const gv: Record<string, boolean> = {};
    for (const f of observations) {
      pv[f] = isPositive(p[f]);
      gv[f] = isPositive(g[f]);
    }
    if (hasNormal) {
      pv["normal"] = !observations.some((f) => pv[f]);
      gv["normal"] = isPositive(g["normal"]);
    }
    acc.update(pv, gv);
  }
  const extraPred = [...predByKey.keys()].filter((k) => !used.has(k));
  if (missing.length > 0 || extraPred.length > 0) {
    throw new RadioLensError("RL_ERR_TABLE_INVALID", {
      detail: `ids do not match after stripping '${prefix}': ${missing.length} gold row(s) without a prediction, ${extraPred.length} prediction row(s) without gold (first: ${[...missing, ...extraPred].slice(0, 3).join(", ")})`,
    });
  }
  return acc.aggregate();
}

const fmt = (x: number): string => (Number.isNaN(x) ? "n/a" : x.toFixed(3));

/**
 * Formats an evaluation as a Markdown table.
 *
 * @example
 * ```ts
 * console.log(formatEvaluation(ev));
 * ```
 */
export function formatEvaluation(ev: LabelEvaluation): string {
  const lines = [
    "| observation | support | TP | FP | FN | precision | recall | F1 |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const row = (s: ObservationScore): string =>
    `| ${s.observation} | ${s.support} | ${s.tp} | ${s.fp} | ${s.fn} | ${fmt(s.precision)} | ${fmt(s.recall)} | ${fmt(s.f1)} |`;
  for (const s of ev.perObservation) lines.push(row(s));
  lines.push(
    `| **micro (14 findings)** | | | | | ${fmt(ev.micro.precision)} | ${fmt(ev.micro.recall)} | ${fmt(ev.micro.f1)} |`,
  );
  lines.push(
    `| **macro (${ev.macroCount} findings with F1 defined)** | | | | | ${fmt(ev.macro.precision)} | ${fmt(ev.macro.recall)} | ${fmt(ev.macro.f1)} |`,
  );
  if (ev.normal) lines.push(row(ev.normal));
  return `${lines.join("\n")}\n\n${ev.rows} reports.\n`;
}
