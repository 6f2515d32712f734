/** Reads a DICOM Structured Report's content tree (PS3.3 C.17.3) into lines for the findings panel. */
import dcmjs from "dcmjs";

interface ContentItem {
  ValueType?: string;
  RelationshipType?: string;
  ConceptNameCodeSequence?: { CodeMeaning?: string }[] | { CodeMeaning?: string };
  TextValue?: string;
  ConceptCodeSequence?: { CodeMeaning?: string }[] | { CodeMeaning?: string };
  MeasuredValueSequence?: {
    NumericValue?: number | string;
    MeasurementUnitsCodeSequence?: { CodeValue?: string };
  }[];
  ContentSequence?: ContentItem[] | ContentItem;
}

/** One line of the report: its depth in the tree, the concept name and the value. */
export interface SrLine {
  readonly depth: number;
  readonly name: string;
  readonly value: string;
}

const first = <T>(v: T[] | T | undefined): T | undefined => (Array.isArray(v) ? v[0] : v);
const list = <T>(v: T[] | T | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The SR's document title and its content items in tree order: containers as headings, TEXT, CODE and NUM items
 * with their values (PS3.3 C.17.3.2.1).
 *
 * @example
 * ```ts
 * const { title, lines } = readSr(part10Bytes);
 * ```
 */
export function readSr(bytes: Uint8Array): { title: string; lines: SrLine[] } {
  const buf = bytes.slice().buffer;
  const dict = dcmjs.data.DicomMessage.readFile(buf);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as ContentItem & {
    SeriesDescription?: string;
  };
  const lines: SrLine[] = [];
  const walk = (items: ContentItem[], depth: number): void => {
    for (const it of items) {
      const name = first(it.ConceptNameCodeSequence)?.CodeMeaning ?? "";
      let value = "";
      if (it.ValueType === "TEXT") value = it.TextValue ?? "";
      else if (it.ValueType === "CODE") value = first(it.ConceptCodeSequence)?.CodeMeaning ?? "";
      else if (it.ValueType === "NUM") {
        const m = first(it.MeasuredValueSequence);
        value = `${m?.NumericValue ?? ""} ${first(m?.MeasurementUnitsCodeSequence)?.CodeValue ?? ""}`.trim();
      }
      if (it.ValueType === "CONTAINER" || value) lines.push({ depth, name, value });
      walk(list(it.ContentSequence), depth + 1);
    }
  };
  walk(list(ds.ContentSequence), 0);
  return { title: first(ds.ConceptNameCodeSequence)?.CodeMeaning ?? ds.SeriesDescription ?? "Report", lines };
}
