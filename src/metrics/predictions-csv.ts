/** Reads a predictions CSV (binary, multi-class or multi-label, optional patient_id) into an evaluation input, compares two models' AUCs, and formats results as terminal tables. */
import { readFileSync } from "node:fs";
import { RadioLensError } from "../core/errors.js";
import { computeDelongTest } from "./delong.js";
import {
  aggregateByPatient,
  type EvaluationInput,
  type EvaluationResult,
  evaluatePredictions,
  HEADLINE_KEYS,
} from "./evaluate-predictions.js";
import { normalQuantile } from "./stats.js";

/** Splits one CSV record (RFC 4180 quoting: "a,b" and "" escapes). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** Options of {@link parsePredictionsCsv}. */
export type PredictionsCsvOptions = Omit<
  EvaluationInput,
  "task" | "labels" | "scores" | "patientIds" | "classNames"
>;

/**
 * Parses predictions CSV text. The header decides the task:
 * - binary: `label,score` (score = P(class 1)); `label,score_0,score_1` is read as binary with score_1;
 * - multi-class: `label,score_0,...,score_{K-1}` with K ≥ 3 (rows are class probabilities);
 * - multi-label: `label_<name>...,score_<name>...` (one pair per label, 0/1 labels);
 * - optional `patient_id`: rows are averaged per patient before the metrics.
 * Errors name the file and line, never a patient identifier.
 *
 * @example
 * ```ts
 * const input = parsePredictionsCsv("label,score\n0,0.1\n1,0.8\n", "inline.csv");
 * evaluatePredictions(input).auc; // 1
 * ```
 */
export function parsePredictionsCsv(
  text: string,
  path: string,
  options: PredictionsCsvOptions = {},
): EvaluationInput {
  const fail = (detail: string) => new RadioLensError("RL_ERR_PREDICTIONS_CSV", { path, detail });
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== "");
  if (headerIndex < 0) throw fail("the file is empty");
  const header = splitCsvLine(lines[headerIndex]!);
  const col = new Map<string, number>();
  header.forEach((h, i) => {
    if (col.has(h)) throw fail(`column '${h}' appears twice in the header`);
    col.set(h, i);
  });
  const patientCol = col.get("patient_id");
  const rows: { line: number; cells: string[] }[] = [];
  for (let i = headerIndex + 1; i < lines.length; i++) {
    if (lines[i]!.trim() === "") continue;
    const cells = splitCsvLine(lines[i]!);
    if (cells.length !== header.length)
      throw fail(`line ${i + 1} has ${cells.length} fields, the header has ${header.length}`);
    rows.push({ line: i + 1, cells });
  }
  if (rows.length === 0) throw fail("no data rows after the header");

  const num = (r: { line: number; cells: string[] }, c: number, what: string): number => {
    const raw = r.cells[c]!;
    const v = raw === "" ? Number.NaN : Number(raw);
    if (!Number.isFinite(v)) throw fail(`line ${r.line}: ${what} '${header[c]}' is not a number`);
    return v;
  };
  const int = (r: { line: number; cells: string[] }, c: number): number => {
    const v = num(r, c, "label");
    if (!Number.isInteger(v) || v < 0)
      throw fail(`line ${r.line}: label '${header[c]}' must be a non-negative integer`);
    return v;
  };
  const patientIds =
    patientCol === undefined
      ? undefined
      : rows.map((r) => {
          const id = r.cells[patientCol]!;
          if (id === "") throw fail(`line ${r.line}: patient_id is empty`);
          return id;
        });
  const common = { ...options, ...(patientIds === undefined ? {} : { patientIds }) };

  const labelNames = header.filter((h) => h.startsWith("label_")).map((h) => h.slice("label_".length));
  if (labelNames.length > 0) {
    if (col.has("label")) throw fail("use either 'label' or 'label_<name>' columns, not both");
    const pairs = labelNames.map((name) => {
      const s = col.get(`score_${name}`);
      if (s === undefined) throw fail(`label column 'label_${name}' has no matching 'score_${name}' column`);
      return { name, l: col.get(`label_${name}`)!, s };
    });
    const labels = rows.map((r) =>
      pairs.map((p) => {
        const v = int(r, p.l);
        if (v > 1) throw fail(`line ${r.line}: multi-label column 'label_${p.name}' must be 0 or 1`);
        return v;
      }),
    );
    const scores = rows.map((r) => pairs.map((p) => num(r, p.s, "score")));
    return { ...common, task: "multilabel", labels, scores, classNames: labelNames };
  }

  const labelCol = col.get("label");
  if (labelCol === undefined) throw fail("the header has no 'label' column (or 'label_<name>' columns)");
  const labels = rows.map((r) => int(r, labelCol));
  const scoreCol = col.get("score");
  if (scoreCol !== undefined) {
    return { ...common, task: "binary", labels, scores: rows.map((r) => num(r, scoreCol, "score")) };
  }
  const classCols: number[] = [];
  for (let k = 0; col.has(`score_${k}`); k++) classCols.push(col.get(`score_${k}`)!);
  const stray = header.filter((h) => h.startsWith("score_") && !/^score_\d+$/.test(h));
  if (classCols.length < 2 || stray.length > 0) {
    throw fail("give 'score' (binary) or 'score_0','score_1',... numbered from 0 without gaps (multi-class)");
  }
  if (header.filter((h) => /^score_\d+$/.test(h)).length !== classCols.length) {
    throw fail(`score columns must be numbered 0..${classCols.length - 1} without gaps`);
  }
  if (classCols.length === 2) {
    return { ...common, task: "binary", labels, scores: rows.map((r) => num(r, classCols[1]!, "score")) };
  }
  return {
    ...common,
    task: "multiclass",
    labels,
    scores: rows.map((r) => classCols.map((c) => num(r, c, "score"))),
  };
}

/**
 * Reads and parses a predictions CSV file.
 *
 * @example
 * ```ts
 * const result = evaluatePredictions(readPredictionsCsv("preds.csv", { threshold: 0.3 }));
 * ```
 */
export function readPredictionsCsv(path: string, options: PredictionsCsvOptions = {}): EvaluationInput {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    throw new RadioLensError("RL_ERR_IO", { path, detail: String((e as Error).message) }, { cause: e });
  }
  return parsePredictionsCsv(text, path, options);
}

/**
 * Reads a predictions CSV and evaluates it; returns the parsed input too (for plots).
 *
 * @example
 * ```ts
 * const { result } = evaluatePredictionsCsv("preds.csv", { bootstrap: { nResamples: 2000, seed: 1 } });
 * ```
 */
export function evaluatePredictionsCsv(
  path: string,
  options: PredictionsCsvOptions = {},
): { input: EvaluationInput; result: EvaluationResult } {
  const input = readPredictionsCsv(path, options);
  return { input, result: evaluatePredictions(input) };
}

/** The DeLong comparison of two models' AUC for one class or label (snake_case, as the JSON). */
export interface AucComparison {
  readonly name: string;
  readonly auc_a: number;
  readonly auc_b: number;
  /** auc_a − auc_b with its DeLong Wald interval at `level`. */
  readonly difference: number;
  readonly lo: number;
  readonly hi: number;
  readonly z: number;
  readonly p_value: number;
  readonly level: number;
}

/**
 * Compares two models' predictions on the same cases with DeLong's paired test (DeLong et al. 1988): binary gives
 * one comparison, multi-class one per class (one-vs-rest), multi-label one per label. The two inputs must have the
 * same task, the same rows in the same order (after patient aggregation) and identical labels.
 *
 * @example
 * ```ts
 * const [c] = compareAucs(readPredictionsCsv("model-a.csv"), readPredictionsCsv("model-b.csv"));
 * c!.p_value;
 * ```
 */
export function compareAucs(a: EvaluationInput, b: EvaluationInput, level = 0.95): AucComparison[] {
  const fail = (detail: string) =>
    new RadioLensError("RL_ERR_METRIC_INPUT", { metric: "delong comparison", detail });
  if (a.task !== b.task) throw fail(`the tasks differ (${a.task} vs ${b.task})`);
  const A = aggregateByPatient(a);
  const B = aggregateByPatient(b);
  const rows = (x: EvaluationInput["labels"] | EvaluationInput["scores"]) =>
    Array.from(x as ArrayLike<number | ArrayLike<number>>, (v) =>
      typeof v === "number" ? [v] : Array.from(v),
    );
  const la = rows(A.labels);
  const lb = rows(B.labels);
  if (la.length !== lb.length) throw fail(`${la.length} vs ${lb.length} rows (or patients)`);
  la.forEach((r, i) => {
    if (r.some((v, j) => v !== lb[i]![j]))
      throw fail(`row ${i + 1}: the labels differ; give both files the same cases in the same order`);
  });
  if (a.patientIds !== undefined && b.patientIds !== undefined) {
    const order = (ids: readonly string[]) => [...new Set(ids)];
    const oa = order(a.patientIds);
    const ob = order(b.patientIds);
    if (oa.some((id, i) => id !== ob[i])) throw fail("the patients differ or come in a different order");
  }
  const sa = rows(A.scores);
  const sb = rows(B.scores);
  const width = sa[0]?.length ?? 0;
  if ((sb[0]?.length ?? 0) !== width) throw fail("the score columns differ");
  const z = normalQuantile(0.5 + level / 2);
  const names = a.classNames ?? b.classNames;
  const columns =
    A.task === "binary"
      ? [{ name: names?.[1] ?? "positive", c: 0 }]
      : Array.from({ length: width }, (_, c) => ({ name: names?.[c] ?? String(c), c }));
  return columns.map(({ name, c }) => {
    const y = A.task === "multiclass" ? la.map((r) => (r[0] === c ? 1 : 0)) : la.map((r) => r[c]!);
    const t = computeDelongTest(
      y,
      sa.map((r) => r[c]!),
      sb.map((r) => r[c]!),
    );
    const half = z * Math.sqrt(t.variance);
    return {
      name,
      auc_a: t.auc1,
      auc_b: t.auc2,
      difference: t.difference,
      lo: t.difference - half,
      hi: t.difference + half,
      z: t.z,
      p_value: t.pValue,
      level,
    };
  });
}

/**
 * Formats AUC comparisons as a plain-text table.
 *
 * @example
 * ```ts
 * process.stdout.write(formatAucComparisons(compareAucs(a, b)));
 * ```
 */
export function formatAucComparisons(rows: readonly AucComparison[]): string {
  const w = Math.max(12, ...rows.map((r) => r.name.length + 2));
  const widths = [12, 12, 12, 22, 13];
  const level = `${Math.round((rows[0]?.level ?? 0.95) * 100)}% CI`;
  const cells = (vals: string[]) => vals.map((v, i) => pad(v, widths[i]!, true)).join("");
  const head = pad("class", w) + cells(["auc A", "auc B", "A − B", level, "p (DeLong)"]);
  const lines = rows.map(
    (r) =>
      pad(r.name, w) +
      cells([fmt(r.auc_a), fmt(r.auc_b), fmt(r.difference), `${fmt(r.lo)} – ${fmt(r.hi)}`, fmt(r.p_value)]),
  );
  return `DeLong test of AUC, model A vs model B on the same cases\n${head}\n${lines.join("\n")}\n`;
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "undefined";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return v.toFixed(4);
}

function pad(s: string, n: number, right = false): string {
  if (s.length >= n) return s;
  return right ? " ".repeat(n - s.length) + s : s + " ".repeat(n - s.length);
}

/**
 * Formats an evaluation as a plain-text table: headline metrics with bootstrap (and, for AUC, DeLong)
 * intervals, the confusion matrix, per-class values and the reasons of undefined metrics.
 *
 * @example
 * ```ts
 * process.stdout.write(formatEvaluationTable(evaluatePredictions(input)));
 * ```
 */
export function formatEvaluationTable(r: EvaluationResult): string {
  const out: string[] = [];
  const patients = r.n_patients === null ? "" : `, ${r.n_patients} patients after aggregation`;
  const th =
    r.threshold.value === null ? r.threshold.rule : `${r.threshold.rule}, threshold ${r.threshold.value}`;
  out.push(`task: ${r.task}, ${r.n_samples} rows${patients}; ${th}; averaging: ${r.averaging}`);
  const boot = r.ci.bootstrap;
  const ciTitle = boot
    ? `${Math.round(r.ci.level * 100)}% CI (bootstrap, ${boot.n_resamples} resamples, seed ${boot.seed})`
    : "(bootstrap off)";
  out.push("");
  out.push(`${pad("metric", 19)}${pad("value", 11)}${ciTitle}`);
  for (const key of HEADLINE_KEYS) {
    const iv = boot?.intervals[key];
    const ci = iv && iv.n_valid > 0 ? `${fmt(iv.lo)} – ${fmt(iv.hi)}` : boot ? "undefined" : "";
    let extra = "";
    if (key === "auc" && r.task === "binary" && r.ci.auc_delong[0]) {
      const d = r.ci.auc_delong[0];
      extra = `   DeLong ${fmt(d.lo)} – ${fmt(d.hi)}`;
    }
    out.push(`${pad(key, 19)}${pad(fmt(r[key]), 11)}${ci}${extra}`);
  }
  if (r.subset_accuracy !== undefined) out.push(`${pad("subset_accuracy", 19)}${fmt(r.subset_accuracy)}`);
  if (r.threshold.youden) {
    const y = r.threshold.youden;
    out.push("");
    out.push(
      `Youden-optimal threshold on these data: ${fmt(y.threshold)} (sensitivity ${fmt(y.sensitivity)}, specificity ${fmt(y.specificity)})`,
    );
  }
  if (r.confusion_matrix) {
    const { labels, matrix } = r.confusion_matrix;
    const w = Math.max(10, ...labels.map((l) => l.length + 2));
    out.push("");
    out.push("confusion matrix (rows: true class, columns: predicted class)");
    out.push(pad("", w) + labels.map((l) => pad(l, w, true)).join(""));
    matrix.forEach((row, i) => {
      out.push(pad(labels[i]!, w) + row.map((v) => pad(String(v), w, true)).join(""));
    });
  }
  out.push("");
  const hasAuc = r.per_class.some((p) => p.auc !== undefined);
  const w = Math.max(12, ...r.per_class.map((p) => p.name.length + 2));
  const cols = [
    "support",
    "precision",
    "recall",
    "specificity",
    "npv",
    "f1",
    ...(hasAuc ? ["auc", "ap"] : []),
  ];
  out.push(pad(r.task === "multilabel" ? "label" : "class", w) + cols.map((c) => pad(c, 12, true)).join(""));
  for (const p of r.per_class) {
    const vals = [
      String(p.support),
      fmt(p.precision),
      fmt(p.recall),
      fmt(p.specificity),
      fmt(p.npv),
      fmt(p.f1),
      ...(hasAuc ? [fmt(p.auc), fmt(p.average_precision)] : []),
    ];
    out.push(pad(p.name, w) + vals.map((v) => pad(v, 12, true)).join(""));
  }
  if (r.warnings.length > 0) {
    out.push("");
    for (const w2 of r.warnings) out.push(`note: ${w2}`);
  }
  return `${out.join("\n")}\n`;
}
