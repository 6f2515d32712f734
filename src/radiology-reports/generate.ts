/** Turns a model's chest X-ray prediction into a structured text report from language templates (English, Chinese). */
import { RadioLensError } from "../core/errors.js";
import templatesEn from "./data/templates.en.json" with { type: "json" };
import templatesZh from "./data/templates.zh.json" with { type: "json" };
import type { RegionBox } from "./region.js";
import { regionFromHeatmap } from "./region.js";
import { FINDINGS, type Finding } from "./vocab.js";

export type { RegionBox };

/** A model's output for one image, as the report generator consumes it. */
export interface ModelPrediction {
  readonly model: { readonly name: string; readonly version: string };
  /** Class names, each one of the 14 findings. */
  readonly labels: readonly string[];
  /** Probability per label, same order, each in [0, 1]. */
  readonly probabilities: readonly number[];
  /** Decision threshold (default 0.5). */
  readonly threshold?: number;
  /** Grad-CAM regions: the finding they explain and the box. */
  readonly regions?: readonly { readonly label: string; readonly box: RegionBox }[];
  /**
   * Raw Grad-CAM maps (row-major, `rows` × `cols`) stretched over the image; each becomes a box with
   * {@link regionFromHeatmap} unless `regions` already has one for that label. Needs `imageSize`.
   */
  readonly heatmaps?: readonly {
    readonly label: string;
    readonly rows: number;
    readonly cols: number;
    readonly values: readonly number[];
  }[];
  /** Source image size in pixels, for `heatmaps`. */
  readonly imageSize?: { readonly rows: number; readonly columns: number };
  /**
   * The OOD detector's verdict on the image; false caps the stated confidence at "low", whatever the
   * (calibrated) probabilities say: a probability means little on an image unlike the training data.
   */
  readonly inDistribution?: boolean;
}

/** Report languages with a template. */
export type ReportLanguage = "en" | "zh";

/** The shape of a template file under `src/radiology-reports/data/templates.<lang>.json`. */
export interface ReportTemplate {
  readonly language: { readonly code: string; readonly meaning: string };
  readonly title: string;
  readonly modelLine: string;
  readonly findingsHeader: string;
  readonly positiveFinding: string;
  readonly region: string;
  readonly negativeFindings: string;
  readonly noPositive: string;
  readonly impressionHeader: string;
  readonly impressionPositive: string;
  readonly impressionNormal: string;
  readonly confidenceHeader: string;
  readonly confidence: string;
  readonly levels: { readonly high: string; readonly moderate: string; readonly low: string };
  readonly listSeparator: string;
  readonly listLastSeparator: string;
  readonly disclaimer: string;
  readonly findings: Readonly<Record<Finding, string>>;
}

const TEMPLATES: Readonly<Record<ReportLanguage, ReportTemplate>> = { en: templatesEn, zh: templatesZh };

/** One finding above threshold, with its region if there is one. */
export interface ReportedFinding {
  readonly finding: Finding;
  readonly probability: number;
  readonly region?: RegionBox;
}

/** A generated report: structured parts plus the rendered text. */
export interface GeneratedReport {
  readonly language: ReportLanguage;
  readonly template: ReportTemplate;
  readonly model: { readonly name: string; readonly version: string };
  readonly threshold: number;
  readonly positive: readonly ReportedFinding[];
  readonly negative: readonly Finding[];
  readonly findingsText: readonly string[];
  readonly impression: string;
  readonly confidence: string;
  readonly confidenceLevel: "high" | "moderate" | "low";
  readonly disclaimer: string;
  readonly text: string;
}

function fill(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}

function joinList(items: readonly string[], t: ReportTemplate): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(t.listSeparator)}${t.listLastSeparator}${items[items.length - 1]}`;
}

/**
 * Validates a prediction: labels are known findings without repeats, probabilities lie in [0, 1], regions name a
 * predicted label and have a positive size.
 *
 * @example
 * ```ts
 * validatePrediction({ model: { name: "m", version: "1" }, labels: ["Edema"], probabilities: [0.7] });
 * ```
 */
export function validatePrediction(p: ModelPrediction): void {
  const bad = (detail: string): RadioLensError =>
    new RadioLensError("RL_ERR_PREDICTION_INVALID", { detail: `model prediction: ${detail}` });
  if (!p.model?.name || !p.model.version) throw bad("model.name and model.version are required");
  if (p.labels.length !== p.probabilities.length || p.labels.length === 0) {
    throw bad(`${p.labels.length} labels but ${p.probabilities.length} probabilities`);
  }
  const seen = new Set<string>();
  p.labels.forEach((l, i) => {
    if (!(FINDINGS as readonly string[]).includes(l))
      throw bad(`label '${l}' is not one of ${FINDINGS.join(", ")}`);
    if (seen.has(l)) throw bad(`label '${l}' repeats`);
    seen.add(l);
    const q = p.probabilities[i]!;
    if (!Number.isFinite(q) || q < 0 || q > 1) throw bad(`probability of ${l} is ${q}, not in [0, 1]`);
  });
  for (const h of p.heatmaps ?? []) {
    if (!seen.has(h.label)) throw bad(`heatmap for '${h.label}', which is not a predicted label`);
    if (!p.imageSize) throw bad("heatmaps need imageSize {rows, columns} to map cells to pixels");
  }
  const t = p.threshold ?? 0.5;
  if (!(t > 0 && t < 1)) throw bad(`threshold ${t} is not in (0, 1)`);
  for (const r of p.regions ?? []) {
    if (!seen.has(r.label)) throw bad(`region for '${r.label}', which is not a predicted label`);
    const b = r.box;
    if (
      ![b.x, b.y, b.width, b.height].every(Number.isFinite) ||
      b.width <= 0 ||
      b.height <= 0 ||
      b.x < 0 ||
      b.y < 0
    ) {
      throw bad(`region for '${r.label}' needs x, y >= 0 and width, height > 0 (pixels)`);
    }
  }
}

/**
 * Confidence of the least certain reported call: its distance from the threshold, scaled to the room on that side
 * (≥ 0.6 high, ≥ 0.3 moderate, else low).
 */
function confidenceOf(
  prob: number,
  threshold: number,
): { level: "high" | "moderate" | "low"; margin: number } {
  const margin = prob >= threshold ? (prob - threshold) / (1 - threshold) : (threshold - prob) / threshold;
  return { level: margin >= 0.6 ? "high" : margin >= 0.3 ? "moderate" : "low", margin };
}

/**
 * Builds the structured text report (findings, impression, confidence, model and version, decision-support
 * statement) in `language`.
 *
 * @example
 * ```ts
 * const r = generateReport({ model: { name: "densenet", version: "1.0" }, labels: ["Effusion"], probabilities: [0.91] }, "en");
 * r.impression; // "Findings suggestive of Pleural effusion."
 * ```
 */
export function generateReport(
  prediction: ModelPrediction,
  language: ReportLanguage = "en",
): GeneratedReport {
  validatePrediction(prediction);
  const t = TEMPLATES[language];
  if (!t) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `no report template for language '${String(language)}' (en, zh)`,
    });
  }
  const threshold = prediction.threshold ?? 0.5;
  const fmt = (x: number): string => x.toFixed(2);
  const entries = prediction.labels.map((l, i) => ({
    finding: l as Finding,
    probability: prediction.probabilities[i]!,
  }));
  const positive: ReportedFinding[] = entries
    .filter((e) => e.probability >= threshold)
    .sort((a, b) => b.probability - a.probability)
    .map((e) => {
      const heat = prediction.heatmaps?.find((h) => h.label === e.finding);
      const size = prediction.imageSize;
      const region =
        prediction.regions?.find((r) => r.label === e.finding)?.box ??
        (heat && size
          ? regionFromHeatmap(heat.values, heat.rows, heat.cols, size.rows, size.columns)
          : undefined);
      return region ? { ...e, region } : e;
    });
  const negative = entries.filter((e) => e.probability < threshold).map((e) => e.finding);

  const findingsText: string[] = [];
  for (const p of positive) {
    const name = t.findings[p.finding];
    findingsText.push(fill(t.positiveFinding, { finding: name, probability: fmt(p.probability) }));
    if (p.region) {
      const b = p.region;
      findingsText.push(
        fill(t.region, {
          finding: name,
          x: Math.round(b.x),
          y: Math.round(b.y),
          width: Math.round(b.width),
          height: Math.round(b.height),
        }),
      );
    }
  }
  if (positive.length === 0) findingsText.push(fill(t.noPositive, { count: entries.length }));
  else if (negative.length > 0) {
    findingsText.push(
      fill(t.negativeFindings, {
        list: joinList(
          negative.map((f) => t.findings[f]),
          t,
        ),
      }),
    );
  }
  const impression =
    positive.length > 0
      ? fill(t.impressionPositive, {
          list: joinList(
            positive.map((p) => t.findings[p.finding]),
            t,
          ),
        })
      : t.impressionNormal;

  // The least certain call among all labels bounds how much the whole report can be trusted.
  let weakest = entries[0]!;
  let weakestMargin = Number.POSITIVE_INFINITY;
  for (const e of entries) {
    const c = confidenceOf(e.probability, threshold);
    if (c.margin < weakestMargin) {
      weakestMargin = c.margin;
      weakest = e;
    }
  }
  const level =
    prediction.inDistribution === false ? "low" : confidenceOf(weakest.probability, threshold).level;
  const confidence = fill(t.confidence, {
    level: t.levels[level],
    finding: t.findings[weakest.finding],
    probability: fmt(weakest.probability),
    threshold: fmt(threshold),
  });
  const modelLine = fill(t.modelLine, { model: prediction.model.name, version: prediction.model.version });
  const text = [
    t.title,
    modelLine,
    "",
    t.findingsHeader,
    ...findingsText.map((l) => `- ${l}`),
    "",
    t.impressionHeader,
    impression,
    "",
    t.confidenceHeader,
    confidence,
    "",
    t.disclaimer,
    "",
  ].join("\n");
  return {
    language,
    template: t,
    model: prediction.model,
    threshold,
    positive,
    negative,
    findingsText,
    impression,
    confidence,
    confidenceLevel: level,
    disclaimer: t.disclaimer,
    text,
  };
}
