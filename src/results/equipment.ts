/** The algorithm that made a result, as Contributing Equipment (PS3.3 C.12.1) and as the SR's device observer. */
import { CODES } from "./codes.js";
import type { NaturalDataset } from "./part10.js";

/**
 * The model that produced a result object.
 *
 * @example
 * ```ts
 * const algo: AlgorithmIdentity = { name: "seed-cnn", version: "1.0.0" };
 * ```
 */
export interface AlgorithmIdentity {
  /** Model name (Manufacturer's Model Name, LO: at most 64 characters). */
  readonly name: string;
  /** Model version (Software Versions). */
  readonly version: string;
  /** Default "RadioLens". */
  readonly manufacturer?: string;
}

/** LO values are at most 64 characters (PS3.5 6.2). */
export const lo = (s: string): string => s.slice(0, 64);

/**
 * The Contributing Equipment Sequence (0018,A001) item for the algorithm (PS3.3 C.12.1, SOP Common; the
 * equipment attributes are those of C.7.5.1), with Purpose of Reference (0040,A170) "Processing Equipment"
 * (DCM 109102, CID 7005): IHE AI Results requires it on every result so a PACS can tell which algorithm made it.
 *
 * @example
 * ```ts
 * ds.ContributingEquipmentSequence = contributingEquipment({ name: "unet", version: "1.0.0" }, new Date());
 * ```
 */
export function contributingEquipment(algo: AlgorithmIdentity, when: Date): NaturalDataset[] {
  return [
    {
      PurposeOfReferenceCodeSequence: [CODES.processingEquipment],
      Manufacturer: lo(algo.manufacturer ?? "RadioLens"),
      ManufacturerModelName: lo(algo.name),
      SoftwareVersions: lo(algo.version),
      ContributionDateTime: dicomDateTime(when),
      ContributionDescription: lo(`AI result by ${algo.name} ${algo.version}`),
    },
  ];
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** DA (PS3.5 6.2) of a time, in UTC. */
export const dicomDate = (d: Date): string =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
/** TM (PS3.5 6.2) of a time, in UTC. */
export const dicomTime = (d: Date): string =>
  `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
/** DT (PS3.5 6.2) of a time with its UTC offset. */
export const dicomDateTime = (d: Date): string => `${dicomDate(d)}${dicomTime(d)}+0000`;
