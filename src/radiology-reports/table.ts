/** Labels a table of reports (CheXpert-labeler style output) and turns label tables into training manifests. */
import { RadioLensError } from "../core/errors.js";
import type { CsvTable } from "./csv.js";
import { type LabelValue, labelSections } from "./labeler.js";
import { FINDINGS, LABEL_COLUMNS, type Vocabulary } from "./vocab.js";

/** Options of {@link labelTable}. */
export interface LabelTableOptions {
  /** Id column copied to the output first (default: the table's first column). */
  readonly idColumn?: string;
  /** Text columns labeled together as one report (default `findings`, `impression`). */
  readonly textColumns?: readonly string[];
  readonly vocabulary?: Vocabulary;
}

/** A label table: id column, then the 14 findings and `normal`; cells "1", "0", "-1" or "" (not mentioned). */
export interface LabelTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const cell = (v: LabelValue): string => (v === null ? "" : String(v));

/**
 * Labels every row of a report table, one output row per input row in the same order.
 *
 * @example
 * ```ts
 * const out = labelTable(readCsv("openi_reports_dev.csv"));
 * out.columns; // ["uid", "Atelectasis", ..., "Hernia", "normal"]
 * ```
 */
export function labelTable(table: CsvTable, opts: LabelTableOptions = {}): LabelTable {
  const idColumn = opts.idColumn ?? table.columns[0];
  const textColumns = opts.textColumns ?? ["findings", "impression"];
  const missing = [idColumn ?? "", ...textColumns].filter((c) => !table.columns.includes(c));
  if (!idColumn || missing.length > 0) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `report table lacks column(s) ${missing.join(", ")} (it has: ${table.columns.join(", ")}); choose them with --id-column / --text-columns`,
    });
  }
  const rows = table.rows.map((r) => {
    const res = labelSections(
      textColumns.map((c) => r[c] ?? ""),
      opts.vocabulary,
    );
    return [r[idColumn] ?? "", ...LABEL_COLUMNS.map((c) => cell(res.labels[c]))];
  });
  return { columns: [idColumn, ...LABEL_COLUMNS], rows };
}

/** How uncertain (-1) labels enter a manifest (Irvin et al. 2019 §4: U-Zeros, U-Ones). */
export type UncertainPolicy = "zero" | "one";

/** Options of {@link labelsToManifest}. */
export interface ManifestOptions {
  /** Image path per row; `{id}` is replaced by the row id (default `{id}.png`). */
  readonly pathTemplate?: string;
  /** Prefix removed from ids before they fill `{id}` (e.g. `CXR`). */
  readonly stripPrefix?: string;
  readonly uncertain?: UncertainPolicy;
  /** Optional per-id patient ids and splits (e.g. from a metadata table). */
  readonly patientIds?: ReadonlyMap<string, string>;
  readonly splits?: ReadonlyMap<string, string>;
}

/**
 * Turns a label table into a training manifest: `path,label[,patient_id][,split]` then one 0/1 column per finding.
 * `label` lists the positive findings joined by `|`, or `normal` when there are none. Blank (not mentioned)
 * and negative labels are 0; uncertain labels follow `uncertain` (default zero).
 *
 * @example
 * ```ts
 * const m = labelsToManifest(labelTable(reports), { pathTemplate: "images/CXR{id}.png" });
 * ```
 */
export function labelsToManifest(labels: LabelTable, opts: ManifestOptions = {}): LabelTable {
  const template = opts.pathTemplate ?? "{id}.png";
  const uOne = opts.uncertain === "one";
  const findingIdx = FINDINGS.map((f) => {
    const i = labels.columns.indexOf(f);
    if (i < 0) throw new RadioLensError("RL_ERR_TABLE_INVALID", { detail: `label table lacks column ${f}` });
    return i;
  });
  const hasPatient = opts.patientIds !== undefined;
  const hasSplit = opts.splits !== undefined;
  const columns = [
    "path",
    "label",
    ...(hasPatient ? ["patient_id"] : []),
    ...(hasSplit ? ["split"] : []),
    ...FINDINGS,
  ];
  const rows = labels.rows.map((r) => {
    const rawId = r[0] ?? "";
    const id =
      opts.stripPrefix && rawId.toUpperCase().startsWith(opts.stripPrefix.toUpperCase())
        ? rawId.slice(opts.stripPrefix.length)
        : rawId;
    const bits = findingIdx.map((i) => {
      const v = (r[i] ?? "").trim();
      const n = v === "" ? 0 : Number(v);
      return n === 1 || (uOne && n === -1) ? 1 : 0;
    });
    const positives = FINDINGS.filter((_, k) => bits[k] === 1);
    const extra: string[] = [];
    if (hasPatient) extra.push(opts.patientIds?.get(rawId) ?? "");
    if (hasSplit) extra.push(opts.splits?.get(rawId) ?? "");
    return [
      template.replaceAll("{id}", id),
      positives.length > 0 ? positives.join("|") : "normal",
      ...extra,
      ...bits.map(String),
    ];
  });
  return { columns, rows };
}
