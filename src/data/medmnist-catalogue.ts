/** The MedMNIST v2 release files (28×28 / 28³) as data: download URL, MD5, task, channels, split sizes and class names. */

/** One MedMNIST v2 dataset. */
export interface MedmnistInfo {
  /** RadioLens task type (ordinal regression is trained as multi-class, as the MedMNIST benchmark does). */
  readonly task: "binary" | "multiclass" | "multilabel";
  /** The task as the release names it. */
  readonly officialTask: string;
  readonly channels: number;
  /** 2 for images, 3 for volumes. */
  readonly dims: 2 | 3;
  readonly samples: { readonly train: number; readonly val: number; readonly test: number };
  /** MD5 of the release .npz. */
  readonly md5: string;
  readonly classNames: readonly string[];
}

/** Zenodo record of MedMNIST v2 (Yang et al., "MedMNIST v2", Scientific Data 10, 41 (2023)). */
export const MEDMNIST_RECORD_URL = "https://zenodo.org/record/6496656/files";

/**
 * Release facts transcribed from `medmnist/info.py` of the MedMNIST package 2.1.0 (github.com/MedMNIST/MedMNIST,
 * commit 075a8ad); licence CC BY 4.0 for every dataset.
 *
 * @example
 * ```ts
 * MEDMNIST.pneumoniamnist.md5; // "28209eda62fecd6e6a2d98b1501bb15f"
 * ```
 */
export const MEDMNIST: Readonly<Record<string, MedmnistInfo>> = {
  pathmnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 3,
    dims: 2,
    samples: { train: 89996, val: 10004, test: 7180 },
    md5: "a8b06965200029087d5bd730944a56c1",
    classNames: [
      "adipose",
      "background",
      "debris",
      "lymphocytes",
      "mucus",
      "smooth muscle",
      "normal colon mucosa",
      "cancer-associated stroma",
      "colorectal adenocarcinoma epithelium",
    ],
  },
  chestmnist: {
    task: "multilabel",
    officialTask: "multi-label, binary-class",
    channels: 1,
    dims: 2,
    samples: { train: 78468, val: 11219, test: 22433 },
    md5: "02c8a6516a18b556561a56cbdd36c4a8",
    classNames: [
      "atelectasis",
      "cardiomegaly",
      "effusion",
      "infiltration",
      "mass",
      "nodule",
      "pneumonia",
      "pneumothorax",
      "consolidation",
      "edema",
      "emphysema",
      "fibrosis",
      "pleural",
      "hernia",
    ],
  },
  dermamnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 3,
    dims: 2,
    samples: { train: 7007, val: 1003, test: 2005 },
    md5: "0744692d530f8e62ec473284d019b0c7",
    classNames: [
      "actinic keratoses and intraepithelial carcinoma",
      "basal cell carcinoma",
      "benign keratosis-like lesions",
      "dermatofibroma",
      "melanoma",
      "melanocytic nevi",
      "vascular lesions",
    ],
  },
  octmnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 2,
    samples: { train: 97477, val: 10832, test: 1000 },
    md5: "c68d92d5b585d8d81f7112f81e2d0842",
    classNames: ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
  },
  pneumoniamnist: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 2,
    samples: { train: 4708, val: 524, test: 624 },
    md5: "28209eda62fecd6e6a2d98b1501bb15f",
    classNames: ["normal", "pneumonia"],
  },
  retinamnist: {
    task: "multiclass",
    officialTask: "ordinal-regression",
    channels: 3,
    dims: 2,
    samples: { train: 1080, val: 120, test: 400 },
    md5: "bd4c0672f1bba3e3a89f0e4e876791e4",
    classNames: ["0", "1", "2", "3", "4"],
  },
  breastmnist: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 2,
    samples: { train: 546, val: 78, test: 156 },
    md5: "750601b1f35ba3300ea97c75c52ff8f6",
    classNames: ["malignant", "normal, benign"],
  },
  bloodmnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 3,
    dims: 2,
    samples: { train: 11959, val: 1712, test: 3421 },
    md5: "7053d0359d879ad8a5505303e11de1dc",
    classNames: [
      "basophil",
      "eosinophil",
      "erythroblast",
      "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
      "lymphocyte",
      "monocyte",
      "neutrophil",
      "platelet",
    ],
  },
  tissuemnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 2,
    samples: { train: 165466, val: 23640, test: 47280 },
    md5: "ebe78ee8b05294063de985d821c1c34b",
    classNames: [
      "Collecting Duct, Connecting Tubule",
      "Distal Convoluted Tubule",
      "Glomerular endothelial cells",
      "Interstitial endothelial cells",
      "Leukocytes",
      "Podocytes",
      "Proximal Tubule Segments",
      "Thick Ascending Limb",
    ],
  },
  organamnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 2,
    samples: { train: 34581, val: 6491, test: 17778 },
    md5: "866b832ed4eeba67bfb9edee1d5544e6",
    classNames: [
      "bladder",
      "femur-left",
      "femur-right",
      "heart",
      "kidney-left",
      "kidney-right",
      "liver",
      "lung-left",
      "lung-right",
      "pancreas",
      "spleen",
    ],
  },
  organcmnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 2,
    samples: { train: 13000, val: 2392, test: 8268 },
    md5: "0afa5834fb105f7705a7d93372119a21",
    classNames: [
      "bladder",
      "femur-left",
      "femur-right",
      "heart",
      "kidney-left",
      "kidney-right",
      "liver",
      "lung-left",
      "lung-right",
      "pancreas",
      "spleen",
    ],
  },
  organsmnist: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 2,
    samples: { train: 13940, val: 2452, test: 8829 },
    md5: "e5c39f1af030238290b9557d9503af9d",
    classNames: [
      "bladder",
      "femur-left",
      "femur-right",
      "heart",
      "kidney-left",
      "kidney-right",
      "liver",
      "lung-left",
      "lung-right",
      "pancreas",
      "spleen",
    ],
  },
  organmnist3d: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 3,
    samples: { train: 972, val: 161, test: 610 },
    md5: "21f0a239e7f502e6eca33c3fc453c0b6",
    classNames: [
      "liver",
      "kidney-right",
      "kidney-left",
      "femur-right",
      "femur-left",
      "bladder",
      "heart",
      "lung-right",
      "lung-left",
      "spleen",
      "pancreas",
    ],
  },
  nodulemnist3d: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 3,
    samples: { train: 1158, val: 165, test: 310 },
    md5: "8755a7e9e05a4d9ce80a24c3e7a256f3",
    classNames: ["benign", "malignant"],
  },
  adrenalmnist3d: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 3,
    samples: { train: 1188, val: 98, test: 298 },
    md5: "bbd3c5a5576322bc4cdfea780653b1ce",
    classNames: ["normal", "hyperplasia"],
  },
  fracturemnist3d: {
    task: "multiclass",
    officialTask: "multi-class",
    channels: 1,
    dims: 3,
    samples: { train: 1027, val: 103, test: 240 },
    md5: "6aa7b0143a6b42da40027a9dda61302f",
    classNames: ["buckle rib fracture", "nondisplaced rib fracture", "displaced rib fracture"],
  },
  vesselmnist3d: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 3,
    samples: { train: 1335, val: 192, test: 382 },
    md5: "2ba5b80617d705141f3f85627108fce8",
    classNames: ["vessel", "aneurysm"],
  },
  synapsemnist3d: {
    task: "binary",
    officialTask: "binary-class",
    channels: 1,
    dims: 3,
    samples: { train: 1230, val: 177, test: 352 },
    md5: "1235b78a3cd6280881dd7850a78eadb6",
    classNames: ["inhibitory synapse", "excitatory synapse"],
  },
};

/**
 * The official download URL of a MedMNIST v2 file.
 *
 * @example
 * ```ts
 * medmnistUrl("pneumoniamnist"); // "https://zenodo.org/record/6496656/files/pneumoniamnist.npz?download=1"
 * ```
 */
export function medmnistUrl(name: string, base = MEDMNIST_RECORD_URL): string {
  return `${base}/${name}.npz?download=1`;
}
