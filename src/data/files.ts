/** File-backed DataSources: a folder per class (PNG/JPEG/DICOM) and a CSV manifest (path, label[s], patient, split). */
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { RadioLensError } from "../core/errors.js";
import type { MedicalImage } from "../core/image.js";
import { readImage } from "../io/index.js";
import { type CsvTable, parseCsv } from "./csv.js";
import { assertNoPatientLeak, type Splits } from "./split.js";
import type { DataSource, Label, TaskSpec, TaskType } from "./types.js";

/** Reads one image file; defaults to RadioLens's format-sniffing reader. */
export type ImageFileReader = (path: string) => Promise<MedicalImage>;

/** One item of a file-backed dataset. */
export interface FileItem {
  readonly path: string;
  readonly label: Label;
  readonly patient?: string;
  readonly split?: string;
  /** Covariates from extra manifest columns (fusion models). */
  readonly tabular?: Float32Array;
}

/**
 * The default reader: reads the file asynchronously (so a loader's prefetch window overlaps disk reads with decoding),
 * then decodes it with RadioLens's format-sniffing reader.
 *
 * @example
 * ```ts
 * const img = await readImageFile("data/normal/0001.png");
 * ```
 */
export async function readImageFile(path: string): Promise<MedicalImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path });
    throw new RadioLensError("RL_ERR_IO", { path, detail: (e as Error).message });
  }
  return readImage(bytes, {}, path);
}

/**
 * A DataSource over a list of files. Labels and patients live in memory (a few dozen bytes an item); pixels are
 * read only in `load`, so 100,000 items cost megabytes, not gigabytes.
 *
 * @example
 * ```ts
 * const src = fileSource(items, { type: "binary", classNames: ["normal", "pneumonia"] });
 * ```
 */
export function fileSource(
  items: readonly FileItem[],
  task: TaskSpec,
  reader: ImageFileReader = readImage,
): DataSource {
  return {
    task,
    size: items.length,
    label: (i) => (items[i] as FileItem).label,
    group: (i) => items[i]?.patient,
    async load(i) {
      const it = items[i];
      if (!it) throw new RangeError(`index ${i} outside 0..${items.length - 1}`);
      const image = await reader(it.path);
      return { image, label: it.label, index: i, ...(it.tabular ? { tabular: it.tabular } : {}) };
    },
  };
}

/** Extensions read by {@link folderSource} by default (DICOM files often have none, so "" is included). */
export const IMAGE_EXTENSIONS: readonly string[] = [".png", ".jpg", ".jpeg", ".dcm", ".dicom", ""];

function walk(dir: string, exts: ReadonlySet<string>, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )) {
    if (entry.name.startsWith(".")) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, exts, out);
    else if (entry.isFile() && exts.has(extname(entry.name).toLowerCase())) out.push(p);
  }
}

/** Options for {@link folderSource}. */
export interface FolderSourceOptions {
  readonly extensions?: readonly string[];
  /** Pulls a patient id out of a path relative to the class folder (first capture group), for grouped splits. */
  readonly patientPattern?: RegExp;
  readonly reader?: ImageFileReader;
}

/**
 * A dataset laid out as `root/<class name>/**​/<image>`: classes are the sub-folders in sorted order (two → binary).
 * Files are listed once, in sorted order, so indices are stable across runs.
 *
 * @example
 * ```ts
 * const src = folderSource("data/xray", { patientPattern: /^(P\d+)_/ });
 * ```
 */
export function folderSource(root: string, opts: FolderSourceOptions = {}): DataSource {
  let classes: string[];
  try {
    classes = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("."))
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: root });
    throw new RadioLensError("RL_ERR_IO", { path: root, detail: (e as Error).message });
  }
  if (classes.length < 2) {
    throw new RadioLensError("RL_ERR_DATA_EMPTY", {
      detail: `${root} must hold one sub-folder per class (at least two), found ${classes.length}`,
    });
  }
  const exts = new Set((opts.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase()));
  const items: FileItem[] = [];
  classes.forEach((c, label) => {
    const files: string[] = [];
    walk(join(root, c), exts, files);
    for (const path of files) {
      const m = opts.patientPattern?.exec(relative(join(root, c), path));
      items.push(m?.[1] !== undefined ? { path, label, patient: m[1] } : { path, label });
    }
  });
  if (items.length === 0)
    throw new RadioLensError("RL_ERR_DATA_EMPTY", { detail: `no image files under ${root}` });
  const type: TaskType = classes.length === 2 ? "binary" : "multiclass";
  return fileSource(items, { type, classNames: classes }, opts.reader);
}

/** Options for {@link readManifest}. */
export interface ManifestOptions {
  /** Column with the image path, relative to the manifest's folder (default "path"). */
  readonly pathColumn?: string;
  /** Column with the class name; a `|`-separated list makes the task multi-label (default "label"). */
  readonly labelColumn?: string;
  /** 0/1 columns of a multi-label task (e.g. the 14 ChestX-ray14 findings); replaces `labelColumn`. */
  readonly labelColumns?: readonly string[];
  /** Value for blank or -1 (uncertain) multi-label cells: 0 ("U-Zeros") or 1 ("U-Ones"), Irvin et al. 2019. */
  readonly uncertain?: 0 | 1;
  /** Patient column (default "patient_id"; ignored when absent). */
  readonly patientColumn?: string;
  /** Split column (default "split"; ignored when absent). */
  readonly splitColumn?: string;
  /** Numeric columns passed to fusion models as `sample.tabular`. */
  readonly tabularColumns?: readonly string[];
  /** Class names in index order; by default the sorted distinct labels. */
  readonly classNames?: readonly string[];
  readonly reader?: ImageFileReader;
}

/** A manifest read into a source, with the splits its split column declares. */
export interface Manifest {
  readonly source: DataSource;
  /** Item indices by the split column's values (empty when the manifest has no split column). */
  readonly splits: Splits;
  /** The patient column in use, or undefined when the manifest has none. */
  readonly patientColumn: string | undefined;
}

/**
 * Reads a CSV manifest `path,label[,patient_id][,split]` (or multi-label 0/1 columns). When it declares splits and
 * patients, a patient present in two splits is refused with RL_ERR_SPLIT_LEAK (count and column only).
 *
 * @example
 * ```ts
 * const { source, splits } = readManifest("data/manifest.csv");
 * const train = subset(source, splits["train"] ?? []);
 * ```
 */
export function readManifest(csvPath: string, opts: ManifestOptions = {}): Manifest {
  let text: string;
  try {
    text = readFileSync(csvPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new RadioLensError("RL_ERR_FILE_NOT_FOUND", { path: csvPath });
    throw new RadioLensError("RL_ERR_IO", { path: csvPath, detail: (e as Error).message });
  }
  const table = parseCsv(text, csvPath);
  const pathCol = opts.pathColumn ?? "path";
  const labelCol = opts.labelColumn ?? "label";
  const patientCol = opts.patientColumn ?? "patient_id";
  const splitCol = opts.splitColumn ?? "split";
  const need = [pathCol, ...(opts.labelColumns ?? [labelCol]), ...(opts.tabularColumns ?? [])];
  for (const c of need) {
    if (!table.columns.includes(c)) {
      throw new RadioLensError("RL_ERR_TABLE_INVALID", {
        detail: `${csvPath} has no column '${c}' (columns: ${table.columns.join(", ")})`,
      });
    }
  }
  const hasPatient = table.columns.includes(patientCol);
  const hasSplit = table.columns.includes(splitCol);
  const base = dirname(resolve(csvPath));
  const { task, labelOf } = labelSchema(table, opts, csvPath);
  const splits: Record<string, number[]> = {};
  const items = table.rows.map((row, k): FileItem => {
    const line = k + 2;
    const rel = (row[pathCol] ?? "").trim();
    if (rel === "")
      throw new RadioLensError("RL_ERR_TABLE_INVALID", {
        detail: `${csvPath} line ${line}: empty '${pathCol}'`,
      });
    const patient = hasPatient ? (row[patientCol] ?? "").trim() : "";
    const split = hasSplit ? (row[splitCol] ?? "").trim() : "";
    if (split !== "") (splits[split] ??= []).push(k);
    let tabular: Float32Array | undefined;
    if (opts.tabularColumns) {
      tabular = Float32Array.from(opts.tabularColumns, (c) => {
        const x = Number((row[c] ?? "").trim());
        if (!Number.isFinite(x)) {
          throw new RadioLensError("RL_ERR_TABLE_INVALID", {
            detail: `${csvPath} line ${line}: column '${c}' is not a number`,
          });
        }
        return x;
      });
    }
    return {
      path: isAbsolute(rel) ? rel : join(base, rel),
      label: labelOf(row, line),
      ...(patient !== "" ? { patient } : {}),
      ...(split !== "" ? { split } : {}),
      ...(tabular ? { tabular } : {}),
    };
  });
  if (hasPatient && hasSplit) assertNoPatientLeak(splits, (i) => items[i]?.patient, patientCol);
  return {
    source: fileSource(items, task, opts.reader),
    splits,
    patientColumn: hasPatient ? patientCol : undefined,
  };
}

/**
 * The label columns of a CSV table, as a task and a row → label function (shared by manifests and DICOM labels).
 *
 * @example
 * ```ts
 * const { task, labelOf } = labelSchema(parseCsv(text), { labelColumn: "finding" }, "labels.csv");
 * ```
 */
export function labelSchema(
  table: CsvTable,
  opts: Pick<ManifestOptions, "labelColumn" | "labelColumns" | "uncertain" | "classNames">,
  csvPath: string,
): { task: TaskSpec; labelOf: (row: Readonly<Record<string, string>>, line: number) => Label } {
  const labelCol = opts.labelColumn ?? "label";
  let task: TaskSpec;
  let labelOf: (row: Readonly<Record<string, string>>, line: number) => Label;
  if (opts.labelColumns) {
    const cols = opts.labelColumns;
    const unc = opts.uncertain ?? 0;
    task = { type: "multilabel", classNames: opts.classNames ?? cols };
    labelOf = (row, line) =>
      cols.map((c) => {
        const v = (row[c] ?? "").trim();
        if (v === "" || v === "-1" || v === "-1.0") return unc;
        const x = Number(v);
        if (x !== 0 && x !== 1) {
          throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
            detail: `${csvPath} line ${line}: column '${c}' must be 0, 1, -1 or blank`,
          });
        }
        return x;
      });
  } else {
    const multi = table.rows.some((r) => (r[labelCol] ?? "").includes("|"));
    const names =
      opts.classNames ??
      [
        ...new Set(
          table.rows.flatMap((r) =>
            (r[labelCol] ?? "")
              .split("|")
              .map((s) => s.trim())
              .filter((s) => s !== ""),
          ),
        ),
      ].sort();
    const index = new Map(names.map((n, k) => [n, k]));
    const find = (name: string, line: number): number => {
      const k = index.get(name);
      if (k === undefined) {
        throw new RadioLensError("RL_ERR_LABEL_OUT_OF_RANGE", {
          detail: `${csvPath} line ${line}: label '${name}' is not one of ${names.join(", ")}`,
        });
      }
      return k;
    };
    if (multi) {
      task = { type: "multilabel", classNames: names };
      labelOf = (row, line) => {
        const v = new Array<number>(names.length).fill(0);
        for (const s of (row[labelCol] ?? "").split("|").map((x) => x.trim()))
          if (s !== "") v[find(s, line)] = 1;
        return v;
      };
    } else {
      task = { type: names.length === 2 ? "binary" : "multiclass", classNames: names };
      labelOf = (row, line) => find((row[labelCol] ?? "").trim(), line);
    }
  }
  return { task, labelOf };
}
