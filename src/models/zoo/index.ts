/** The model zoo: every architecture RadioLens can train, by name, with a factory and a description. */
import type * as tfl from "@tensorflow/tfjs-layers";
import { RadioLensError } from "../../core/errors.js";
import { createDcgan, type Dcgan } from "./dcgan.js";
import { createDenseNet } from "./densenet.js";
import { createFusionNet } from "./fusion.js";
import type { HeadActivation } from "./init.js";
import { createMobileNetV2 } from "./mobilenet.js";
import { createResNet, type ResNetDepth, type ResNetVariant } from "./resnet.js";
import { type Conv3dKind, createResNet3d } from "./resnet3d.js";
import { createUNet } from "./unet.js";

export { createDcgan, type Dcgan, type DcganOptions, dcganTrainStep, sampleLatent } from "./dcgan.js";
export { createDenseNet, type DenseNetOptions } from "./densenet.js";
export { createFusionNet, type FusionOptions } from "./fusion.js";
export {
  type ClassifierOptions,
  countTrainableParams,
  type HeadActivation,
  SeededInit,
} from "./init.js";
export { type DiceCeOptions, diceCeLoss, softDiceLoss } from "./losses.js";
export { createMobileNetV2, type MobileNetV2Options } from "./mobilenet.js";
export { createResNet, type ResNetDepth, type ResNetOptions, type ResNetVariant } from "./resnet.js";
export { type Conv3dKind, createResNet3d, type ResNet3dOptions } from "./resnet3d.js";
export { createUNet, type UNetOptions } from "./unet.js";

/** What every zoo factory is built from (the CLI's flags map onto it). */
export interface ZooBuildOptions {
  /** `[rows, cols, ch]`, or `[slices, rows, cols, ch]` for 3D models. */
  readonly inputShape: readonly number[];
  /** Classes (classification), labels (multi-label), output channels (segmentation) or conditioning classes (GAN). */
  readonly numClasses: number;
  readonly seed: number;
  /** Head activation for classifiers (softmax by default; sigmoid for multi-label). */
  readonly activation?: HeadActivation;
  /** Channels of the first stage of ResNets (default 64, the paper's); narrower nets fit a CPU budget. */
  readonly width?: number;
  /** Number of tabular inputs, for fusion models (default 3: age/100 and one-hot sex). */
  readonly tabularFeatures?: number;
}

/** What a model is for; decides the loss and the data it is fed. */
export type ZooTask = "classification" | "segmentation" | "fusion";

/** A zoo entry that builds one Keras-style model. */
export interface ZooModelEntry {
  readonly kind: "model";
  readonly task: ZooTask;
  readonly description: string;
  /** Input shape used when the caller gives none (the architecture's reference size). */
  readonly defaultInputShape: readonly number[];
  readonly build: (opts: ZooBuildOptions) => tfl.LayersModel;
}

/** A zoo entry that builds a generator + discriminator pair. */
export interface ZooGanEntry {
  readonly kind: "gan";
  readonly description: string;
  readonly defaultInputShape: readonly number[];
  readonly build: (opts: ZooBuildOptions) => Dcgan;
}

/** One entry of {@link ZOO}. */
export type ZooEntry = ZooModelEntry | ZooGanEntry;

function shape2d(s: readonly number[]): readonly [number, number, number] {
  if (s.length !== 3) {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `this model takes 2D images [rows, cols, channels], got input shape [${s.join(", ")}]`,
    });
  }
  return [s[0]!, s[1]!, s[2]!];
}

function resnet(depth: ResNetDepth, variant: ResNetVariant): ZooModelEntry {
  const small = variant === "medmnist";
  return {
    kind: "model",
    task: "classification",
    description: small
      ? `ResNet-${depth} for 28×28 inputs (3×3/1 stem, no max-pool), the MedMNIST v2 "ResNet-${depth} (28)" baseline`
      : `ResNet-${depth} (He et al. 2016), ImageNet layout (7×7/2 stem + max-pool), e.g. 224×224 inputs`,
    defaultInputShape: small ? [28, 28, 1] : [224, 224, 3],
    build: (o) =>
      createResNet({
        depth,
        variant,
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        ...(o.width ? { width: o.width } : {}),
        ...(o.activation ? { activation: o.activation } : {}),
      }),
  };
}

function resnet3d(depth: 18 | 50, conv: Conv3dKind): ZooModelEntry {
  const what = {
    "3d": "3×3×3 convolutions",
    acs: "ACS convolutions (Yang et al. 2021)",
    "2.5d": "1×3×3 convolutions",
  };
  return {
    kind: "model",
    task: "classification",
    description: `ResNet-${depth} for 28³ volumes with ${what[conv]}, the MedMNIST v2 "ResNet-${depth} + ${conv === "3d" ? "3D" : conv === "acs" ? "ACS" : "2.5D"}" baseline`,
    defaultInputShape: [28, 28, 28, 1],
    build: (o) => {
      if (o.inputShape.length !== 4) {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `this model takes volumes [slices, rows, cols, channels], got [${o.inputShape.join(", ")}]; 3D MedMNIST files (…mnist3d.npz) load as volumes`,
        });
      }
      return createResNet3d({
        depth,
        conv,
        inputShape: o.inputShape as readonly [number, number, number, number],
        numClasses: o.numClasses,
        seed: o.seed,
        ...(o.width ? { width: o.width } : {}),
        ...act(o),
      });
    },
  };
}

/**
 * The zoo, by the names the CLI accepts (`--model resnet18-28`). Suffix `-28`: the MedMNIST small-input form.
 *
 * @example
 * ```ts
 * const entry = ZOO["resnet18-28"];
 * if (entry?.kind === "model") entry.build({ inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export const ZOO: Readonly<Record<string, ZooEntry>> = {
  resnet18: resnet(18, "imagenet"),
  resnet34: resnet(34, "imagenet"),
  resnet50: resnet(50, "imagenet"),
  "resnet18-28": resnet(18, "medmnist"),
  "resnet34-28": resnet(34, "medmnist"),
  "resnet50-28": resnet(50, "medmnist"),
  "resnet18-3d": resnet3d(18, "3d"),
  "resnet18-acs": resnet3d(18, "acs"),
  "resnet18-2.5d": resnet3d(18, "2.5d"),
  "resnet50-3d": resnet3d(50, "3d"),
  "resnet50-acs": resnet3d(50, "acs"),
  "resnet50-2.5d": resnet3d(50, "2.5d"),
  densenet121: {
    kind: "model",
    task: "classification",
    description: "DenseNet-121 (Huang et al. 2017), growth rate 32, ImageNet layout",
    defaultInputShape: [224, 224, 3],
    build: (o) =>
      createDenseNet({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        ...act(o),
      }),
  },
  "densenet121-28": {
    kind: "model",
    task: "classification",
    description: "DenseNet-121 with a 3×3/1 stem and no max-pool, for 28×28 inputs",
    defaultInputShape: [28, 28, 1],
    build: (o) =>
      createDenseNet({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        variant: "medmnist",
        ...act(o),
      }),
  },
  mobilenetv2: {
    kind: "model",
    task: "classification",
    description: "MobileNetV2 (Sandler et al. 2018), width 1.0, ImageNet layout",
    defaultInputShape: [224, 224, 3],
    build: (o) =>
      createMobileNetV2({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        ...act(o),
      }),
  },
  "mobilenetv2-28": {
    kind: "model",
    task: "classification",
    description: "MobileNetV2 with a stride-1 stem and first stride-2 stage at stride 1, for 28×28 inputs",
    defaultInputShape: [28, 28, 1],
    build: (o) =>
      createMobileNetV2({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        variant: "medmnist",
        ...act(o),
      }),
  },
  unet2d: {
    kind: "model",
    task: "segmentation",
    description:
      "2D U-Net (Ronneberger et al. 2015), 4 levels from 32 filters, batch norm; train with diceCeLoss",
    defaultInputShape: [128, 128, 1],
    build: (o) =>
      createUNet({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        baseFilters: 32,
      }),
  },
  unet3d: {
    kind: "model",
    task: "segmentation",
    description: "3D U-Net (Çiçek et al. 2016), 3 levels from 16 filters, batch norm; train with diceCeLoss",
    defaultInputShape: [32, 64, 64, 1],
    build: (o) => {
      if (o.inputShape.length !== 4) {
        throw new RadioLensError("RL_ERR_USAGE", {
          detail: `unet3d takes volumes [slices, rows, cols, channels], got [${o.inputShape.join(", ")}]`,
        });
      }
      return createUNet({
        inputShape: o.inputShape,
        numClasses: o.numClasses,
        seed: o.seed,
        baseFilters: 16,
        depth: 3,
      });
    },
  },
  fusion: {
    kind: "model",
    task: "fusion",
    description:
      "Image CNN + tabular features (e.g. age, sex) joined before the classifier; inputs [image, tabular]",
    defaultInputShape: [28, 28, 1],
    build: (o) =>
      createFusionNet({
        inputShape: shape2d(o.inputShape),
        numClasses: o.numClasses,
        seed: o.seed,
        tabularFeatures: o.tabularFeatures ?? 3,
        ...act(o),
      }),
  },
  dcgan: {
    kind: "gan",
    description:
      "Class-conditional DCGAN (Radford et al. 2016): generator + discriminator; train with dcganTrainStep",
    defaultInputShape: [28, 28, 1],
    build: (o) => createDcgan({ imageShape: shape2d(o.inputShape), numClasses: o.numClasses, seed: o.seed }),
  },
};

function act(o: ZooBuildOptions): { activation?: HeadActivation } {
  return o.activation ? { activation: o.activation } : {};
}

/**
 * Looks up a zoo entry, or throws RL_ERR_UNKNOWN_MODEL listing the names.
 *
 * @example
 * ```ts
 * const entry = zooEntry("densenet121-28");
 * ```
 */
export function zooEntry(name: string): ZooEntry {
  const e = Object.hasOwn(ZOO, name) ? ZOO[name] : undefined;
  if (!e) throw new RadioLensError("RL_ERR_UNKNOWN_MODEL", { name, available: Object.keys(ZOO).join(", ") });
  return e;
}

/**
 * Builds a single-model zoo architecture by name (GAN entries are built with their own `build`).
 *
 * @example
 * ```ts
 * const model = createZooModel("resnet18-28", { inputShape: [28, 28, 1], numClasses: 2, seed: 1 });
 * ```
 */
export function createZooModel(name: string, opts: ZooBuildOptions): tfl.LayersModel {
  const e = zooEntry(name);
  if (e.kind !== "model") {
    throw new RadioLensError("RL_ERR_USAGE", {
      detail: `'${name}' is a GAN (generator + discriminator); use its own training command`,
    });
  }
  return e.build(opts);
}
