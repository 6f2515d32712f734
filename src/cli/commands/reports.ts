/** `radiolens reports label|evaluate|generate`: report labeling, label scoring, and report generation (text and DICOM SR). */
import { existsSync, readFileSync } from "node:fs";
import { RadioLensError } from "../../core/errors.js";
import { writeFileAtomic } from "../../core/fs.js";
import { readCsv, writeCsv } from "../../radiology-reports/csv.js";
import {
  generateReport,
  type ModelPrediction,
  type ReportLanguage,
} from "../../radiology-reports/generate.js";
import { evaluateLabelTables, formatEvaluation } from "../../radiology-reports/score-labels.js";
import { readSourceImageRef, writeComprehensiveSR } from "../../radiology-reports/sr.js";
import { labelsToManifest, labelTable, type UncertainPolicy } from "../../radiology-reports/table.js";
import { type Command, defineCommand } from "../command.js";
import { custom, flag, oneOf, string } from "../options.js";

function readMap(path: string, idColumn: string, valueColumn: string): Map<string, string> {
  const t = readCsv(path);
  for (const c of [idColumn, valueColumn]) {
    if (!t.columns.includes(c))
      throw new RadioLensError("RL_ERR_USAGE", { detail: `${path} has no column '${c}'` });
  }
  return new Map(t.rows.map((r) => [r[idColumn] ?? "", r[valueColumn] ?? ""]));
}

/**
 * `radiolens reports label`: labels a reports CSV, or writes a training manifest.
 *
 * @example
 * ```sh
 * radiolens reports label openi_reports_dev.csv --out labels.csv --text-columns findings,impression
 * ```
 */
export const reportsLabelCommand: Command = defineCommand({
  usage: "radiolens reports label <reports.csv> --out labels.csv [options]",
  description: `Labels each report (CheXpert labeler conventions: 1 positive, 0 negative, -1 uncertain, blank not mentioned).
Output: one row per input row, same order; the id column first, then Atelectasis ... Hernia, normal.`,
  options: {
    out: string("FILE", "output CSV", { required: true }),
    "text-columns": custom(
      "A,B",
      "columns read as one report (default findings,impression)",
      "comma-separated column names",
      (t) => {
        const names = t
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
        return names.length ? names : undefined;
      },
    ),
    "id-column": string("NAME", "id column (default: the first column)"),
    "no-header": flag(
      "the CSV has no header: one report per row (the CheXpert labeler's input);\nthe report text itself is the id column, named Reports",
    ),
    manifest: flag("write a training manifest instead: path,label[,patient_id][,split],<14 findings 0/1>"),
    "path-template": string("T", "manifest image path, {id} = row id (default {id}.png)"),
    "strip-prefix": string("P", "remove P from ids before filling {id}"),
    uncertain: oneOf(["zero", "one"], "manifest value of uncertain labels", { default: "zero" }),
    metadata: string("FILE", "CSV keyed by the id column with optional patient and split columns"),
    "patient-column": string("NAME", "patient id column in --metadata"),
    "split-column": string("NAME", "split column in --metadata"),
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const input = positionals[0];
    if (!input || positionals.length > 1) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "give exactly one reports CSV" });
    }
    const out = values.out;
    const textColumns = values["text-columns"];
    const noHeader = values["no-header"];
    const idColumn = noHeader ? "Reports" : values["id-column"];
    const table = readCsv(input, noHeader ? { columns: ["Reports"] } : {});
    const labels = labelTable(table, {
      ...(idColumn ? { idColumn } : {}),
      ...(noHeader ? { textColumns: ["Reports"] } : textColumns ? { textColumns } : {}),
    });
    if (!values.manifest) {
      writeCsv(out, labels.columns, labels.rows);
      io.stderr(`labeled ${labels.rows.length} reports → ${out}\n`);
      return 0;
    }
    const uncertain = values.uncertain;
    const metadata = values.metadata;
    const patientColumn = values["patient-column"];
    const splitColumn = values["split-column"];
    if ((patientColumn || splitColumn) && !metadata) {
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--patient-column/--split-column need --metadata" });
    }
    const metaId = labels.columns[0]!;
    const pathTemplate = values["path-template"];
    const stripPrefix = values["strip-prefix"];
    const manifest = labelsToManifest(labels, {
      uncertain: uncertain as UncertainPolicy,
      ...(pathTemplate ? { pathTemplate } : {}),
      ...(stripPrefix ? { stripPrefix } : {}),
      ...(metadata && patientColumn ? { patientIds: readMap(metadata, metaId, patientColumn) } : {}),
      ...(metadata && splitColumn ? { splits: readMap(metadata, metaId, splitColumn) } : {}),
    });
    writeCsv(out, manifest.columns, manifest.rows);
    io.stderr(`wrote a manifest of ${manifest.rows.length} images → ${out}\n`);
    return 0;
  },
});

/**
 * `radiolens reports evaluate`: per-observation precision/recall/F1 of predicted labels against gold labels.
 *
 * @example
 * ```sh
 * radiolens reports evaluate --pred labels.csv --gold openi_labels_dev.csv
 * ```
 */
export const reportsEvaluateCommand: Command = defineCommand({
  usage: "radiolens reports evaluate --pred labels.csv --gold gold.csv [--json]",
  description: `A prediction is positive when its cell is 1 (mentioned, neither negated nor uncertain). Rows are joined by id:
the prediction's id column (first column, or --pred-id) against the gold's 'filename' (or --gold-id), after
removing the prefix --id-prefix (default CXR) from both, so the Open-i gold's CXR123 meets uid 123.
Every gold row needs a prediction and vice versa. micro/macro cover the 14 findings; macro averages the
findings whose F1 is defined (some gold or predicted positive); 'normal' is scored on its own.`,
  options: {
    pred: string("FILE", "predicted labels (from 'radiolens reports label')", { required: true }),
    gold: string("FILE", "gold labels (0/1)", { required: true }),
    "pred-id": string("C", "prediction id column"),
    "gold-id": string("C", "gold id column"),
    "id-prefix": string("P", "prefix to strip from both ids (default CXR)"),
    json: flag("print the evaluation as JSON"),
  },
  async run({ values }, io) {
    const predId = values["pred-id"];
    const goldId = values["gold-id"];
    const idPrefix = values["id-prefix"];
    const ev = evaluateLabelTables(readCsv(values.pred), readCsv(values.gold), {
      ...(predId ? { predId } : {}),
      ...(goldId ? { goldId } : {}),
      ...(idPrefix !== undefined ? { idPrefix } : {}),
    });
    io.stdout(values.json ? `${JSON.stringify(ev, null, 2)}\n` : formatEvaluation(ev));
    return 0;
  },
});

/**
 * `radiolens reports generate`: text report (en/zh) and optional DICOM Comprehensive SR from a prediction.
 *
 * @example
 * ```sh
 * radiolens reports generate --prediction pred.json --out report.txt --sr report.dcm --source cxr.dcm
 * ```
 */
export const reportsGenerateCommand: Command = defineCommand({
  usage:
    "radiolens reports generate --prediction pred.json --out report.txt [--lang en|zh] [--sr report.dcm --source image.dcm]",
  description: `pred.json: {"model":{"name":"...","version":"..."},"labels":["Effusion",...],"probabilities":[0.91,...],
            "threshold":0.5,"regions":[{"label":"Effusion","box":{"x":10,"y":20,"width":30,"height":40}}]}
(region boxes in source-image pixels, x = column, y = row of the top-left corner). Instead of boxes, raw Grad-CAM
maps may be given as "heatmaps":[{"label":"Effusion","rows":7,"cols":7,"values":[...49 numbers]}] with
"imageSize":{"rows":2048,"columns":2048}; each becomes the box of its half-maximum region around the peak.
--sr writes a Comprehensive SR (1.2.840.10008.5.1.4.1.1.88.33) referencing the --source DICOM image.`,
  options: {
    prediction: string("FILE", "the prediction JSON", { required: true }),
    out: string("FILE", "text report written (default: standard output)"),
    lang: oneOf(["en", "zh"], "report language", { default: "en" }),
    sr: string("FILE", "also write a DICOM Comprehensive SR"),
    source: string("FILE", "the image DICOM the SR references (with --sr)"),
  },
  async run({ values }, io) {
    const predPath = values.prediction;
    if (!existsSync(predPath)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: predPath });
    let prediction: ModelPrediction;
    try {
      prediction = JSON.parse(readFileSync(predPath, "utf8")) as ModelPrediction;
    } catch (e) {
      throw new RadioLensError("RL_ERR_PREDICTION_INVALID", {
        detail: `${predPath} is not JSON: ${(e as Error).message}`,
      });
    }
    const report = generateReport(prediction, values.lang as ReportLanguage);
    const srPath = values.sr;
    const source = values.source;
    if (srPath && !source)
      throw new RadioLensError("RL_ERR_USAGE", { detail: "--sr needs --source (the image DICOM)" });
    const out = values.out;
    if (!out && !srPath) io.stdout(report.text);
    if (out) writeFileAtomic(out, report.text);
    if (srPath && source) {
      if (!existsSync(source)) throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: source });
      writeFileAtomic(srPath, writeComprehensiveSR(report, readSourceImageRef(readFileSync(source))));
      io.stderr(`wrote DICOM SR → ${srPath}\n`);
    }
    return 0;
  },
});
