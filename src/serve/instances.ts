/** Received DICOM instances: validated, written durably under hash-derived names, then indexed and queued for analysis. */
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { RadioLensError } from "../core/errors.js";
import { DicomError, type ParsedDicom, parseDicom } from "../io/dicom/index.js";
import type { AddInstanceResult, InstanceRecord, Repository } from "./repository/sqlite.js";

/**
 * Parse limits for untrusted network input (PS3.5 lengths can claim gigabytes; the limits refuse them early).
 *
 * @example
 * ```ts
 * parseDicom(bytes, NETWORK_PARSE_LIMITS);
 * ```
 */
export const NETWORK_PARSE_LIMITS = { maxPixelBytes: 512 * 1024 * 1024, timeLimitMs: 5000 } as const;

const UID_RE = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Reads the attributes the index needs and checks the UIDs (PS3.5 9.1: digits and dots, at most 64 characters);
 * a file without them is refused before anything is written.
 *
 * @example
 * ```ts
 * const { parsed, fields } = inspectInstance(bytes);
 * ```
 */
export function inspectInstance(bytes: Uint8Array): {
  parsed: ParsedDicom;
  fields: Omit<InstanceRecord, "sha256" | "fileKey" | "size" | "origin" | "receivedAt">;
} {
  const parsed = parseDicom(bytes, NETWORK_PARSE_LIMITS);
  const ds = parsed.dataset;
  const uid = (keyword: string, metaKeyword?: string): string => {
    const v = ds.string(keyword) ?? (metaKeyword ? parsed.meta.string(metaKeyword) : undefined);
    if (!v)
      throw new DicomError(
        "DICOM_MISSING_ATTRIBUTE",
        `${keyword} is required to store an instance (PS3.3 C.12.1)`,
      );
    if (!UID_RE.test(v) || v.length > 64)
      throw new DicomError("DICOM_BAD_VALUE", `${keyword} is not a valid UID (PS3.5 9.1)`);
    return v;
  };
  // Indexed for QIDO-RS only: an unreadable number is left out rather than refusing the instance.
  const numberText = (keyword: string): string => {
    try {
      const n = ds.number(keyword);
      return n === undefined || !Number.isFinite(n) ? "" : String(n);
    } catch {
      return "";
    }
  };
  const fields = {
    // SOP Class/Instance UID (0008,0016)/(0008,0018), falling back to the File Meta copies (0002,0002)/(0002,0003).
    sopClassUid: uid("SOPClassUID", "MediaStorageSOPClassUID"),
    sopInstanceUid: uid("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
    studyInstanceUid: uid("StudyInstanceUID"),
    seriesInstanceUid: uid("SeriesInstanceUID"),
    modality: ds.string("Modality") ?? "",
    studyDate: ds.string("StudyDate") ?? "",
    patientId: ds.string("PatientID") ?? "",
    patientName: ds.string("PatientName") ?? "",
    accessionNumber: ds.string("AccessionNumber") ?? "",
    // QIDO-RS return and matching keys (PS3.18 10.6.3.3, Tables 10.6.3-3 to -5).
    studyTime: ds.string("StudyTime") ?? "",
    studyId: ds.string("StudyID") ?? "",
    studyDescription: ds.string("StudyDescription") ?? "",
    referringPhysicianName: ds.string("ReferringPhysicianName") ?? "",
    patientBirthDate: ds.string("PatientBirthDate") ?? "",
    patientSex: ds.string("PatientSex") ?? "",
    seriesDescription: ds.string("SeriesDescription") ?? "",
    seriesNumber: ds.string("SeriesNumber") ?? "",
    instanceNumber: ds.string("InstanceNumber") ?? "",
    rows: numberText("Rows"),
    columns: numberText("Columns"),
    bitsAllocated: numberText("BitsAllocated"),
    numberOfFrames: numberText("NumberOfFrames"),
  };
  return { parsed, fields };
}

/**
 * Writes `data` to `path` durably: temporary sibling, fsync, rename, then fsync of the folder so that the rename
 * itself survives a crash; only then may the sender be told the instance is stored.
 *
 * @example
 * ```ts
 * writeDurable("/data/instances/ab/ab12....dcm", bytes);
 * ```
 */
export function writeDurable(path: string, data: Uint8Array): void {
  const dir = join(path, "..");
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${randomBytes(8).toString("hex")}.tmp`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw new RadioLensError(
      "RL_ERR_IO",
      { path: "instance store", detail: (e as Error).message },
      { cause: e },
    );
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dfd = openSync(dir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Result of {@link InstanceStore.put}. */
export interface PutResult {
  readonly outcome: AddInstanceResult;
  readonly record: InstanceRecord;
  /** Deviations read with a warning (ADR 028), as `CODE: message` (tags and offsets, never values). */
  readonly warnings: readonly string[];
}

/**
 * The instance folder plus the repository. Files are content-addressed (`ab/abcdef….dcm` from SHA-256), so a
 * UID never reaches the file system and a retransmission lands on the same name.
 *
 * @example
 * ```ts
 * const store = new InstanceStore("/var/lib/radiolens/instances", repo);
 * const { outcome } = await store.put(bytes, ["default"]);
 * ```
 */
export class InstanceStore {
  constructor(
    readonly root: string,
    private readonly repo: Repository,
  ) {
    mkdirSync(root, { recursive: true });
  }

  /**
   * Removes temporary files a crash left mid-write (`.<hex>.tmp`, never acknowledged); returns how many. Run
   * before accepting traffic.
   */
  removeTemporaryFiles(): number {
    let n = 0;
    for (const name of readdirSync(this.root, { recursive: true }).map(String)) {
      if (/(^|\/)\.[0-9a-f]{16}\.tmp$/.test(name)) {
        rmSync(join(this.root, name), { force: true });
        n++;
      }
    }
    return n;
  }

  /** Where a file key lives. */
  pathOf(fileKey: string): string {
    if (!/^[0-9a-f]{2}\/[0-9a-f]{64}\.dcm$/.test(fileKey))
      throw new RadioLensError("RL_ERR_INTERNAL", { detail: "instance file key is not a hash path" });
    return join(this.root, fileKey);
  }

  /** The bytes of a stored instance. */
  read(rec: InstanceRecord): Uint8Array {
    return readFileSync(this.pathOf(rec.fileKey));
  }

  /**
   * Validates, writes durably, then indexes and enqueues one job per model in one repository transaction. Throws a
   * DicomError for malformed input before anything is written.
   */
  async put(
    bytes: Uint8Array,
    modelIds: readonly string[],
    origin: InstanceRecord["origin"] = "received",
  ): Promise<PutResult> {
    const { parsed, fields } = inspectInstance(bytes);
    const record = this.prepare(bytes, fields, origin);
    writeDurable(this.pathOf(record.fileKey), bytes);
    const outcome = await this.repo.addInstance(record, origin === "received" ? modelIds : []);
    return { outcome, record, warnings: parsed.warnings.map((w) => `${w.code}: ${w.message}`) };
  }

  /** Writes a file the service created (an SR) and returns its record, indexed later with the job's result. */
  writeResult(bytes: Uint8Array): InstanceRecord {
    const { fields } = inspectInstance(bytes);
    const record = this.prepare(bytes, fields, "result");
    writeDurable(this.pathOf(record.fileKey), bytes);
    return record;
  }

  private prepare(
    bytes: Uint8Array,
    fields: ReturnType<typeof inspectInstance>["fields"],
    origin: InstanceRecord["origin"],
  ): InstanceRecord {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return {
      ...fields,
      sha256,
      fileKey: `${sha256.slice(0, 2)}/${sha256}.dcm`,
      size: bytes.length,
      origin,
      receivedAt: new Date().toISOString(),
    };
  }
}
