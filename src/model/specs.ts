/**
 * GoogLeNet as data: Table 1 of Szegedy et al. (2014) and the two variants this project builds.
 */
import type { InitScheme } from './nn/init';

/**
 * Inception(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), the course notes'
 * `Inception(input_channels, conv1x1, conv3x3reduce, conv3x3, conv5x5reduce, conv5x5, pool_conv1x1)`.
 * Output channels = ch1x1 + ch3x3 + ch5x5 + pool_proj, e.g. 3a: 64 + 128 + 32 + 32 = 256.
 */
export type InceptionSpec = readonly [
  inChannels: number,
  ch1x1: number,
  ch3x3red: number,
  ch3x3: number,
  ch5x5red: number,
  ch5x5: number,
  poolProj: number,
];

export type InceptionName = '3a' | '3b' | '4a' | '4b' | '4c' | '4d' | '4e' | '5a' | '5b';

export const INCEPTION_SPECS: Record<InceptionName, InceptionSpec> = {
  '3a': [192, 64, 96, 128, 16, 32, 32],
  '3b': [256, 128, 128, 192, 32, 96, 64],
  '4a': [480, 192, 96, 208, 16, 48, 64],
  '4b': [512, 160, 112, 224, 24, 64, 64],
  '4c': [512, 128, 128, 256, 24, 64, 64],
  '4d': [512, 112, 144, 288, 32, 64, 64],
  '4e': [528, 256, 160, 320, 32, 128, 128],
  '5a': [832, 256, 160, 320, 32, 128, 128],
  '5b': [832, 384, 192, 384, 48, 128, 128],
};

export function inceptionOutChannels(spec: InceptionSpec): number {
  return spec[1] + spec[3] + spec[5] + spec[6];
}

export const VARIANT_NAMES = ['course', 'torchvision'] as const;
export type Variant = (typeof VARIANT_NAMES)[number];

export function isVariant(s: string): s is Variant {
  return (VARIANT_NAMES as readonly string[]).includes(s);
}

/** What differs between the course notes' model and torchvision's googlenet. */
export interface VariantSpec {
  /** BasicConv2d = conv(bias) + ReLU (course) or conv(no bias) + BatchNorm(eps 1e-3) + ReLU (torchvision). */
  batchNorm: boolean;
  /** branch3's second conv: 5x5 in the paper and the notes; 3x3 in torchvision (its issue 906). */
  branch3Kernel: 3 | 5;
  /** maxpool4: 3x3/2 in the notes, 2x2/2 in torchvision; both ceil_mode. */
  maxpool4Kernel: 2 | 3;
  /** Aux head pooling: the notes' AvgPool2d(5, stride 3); torchvision's adaptive 4x4. */
  auxPool: 'avg5s3' | 'adaptive4';
  /** Dropout in the aux head before fc1 (notes: 0.5; torchvision: none) and after fc1 (0.5; 0.7). */
  auxDropoutBeforeFc1: number;
  auxDropoutAfterFc1: number;
  /** Dropout before the main fc: 0.4 in the notes and the paper, 0.2 in torchvision. */
  mainDropout: number;
  /** How a fresh model is initialised: the notes call no init (PyTorch defaults). */
  init: InitScheme;
  /** Input normalisation the variant's training used (course: Normalize(0.5, 0.5); torchvision: ImageNet). */
  normalization: { mean: [number, number, number]; std: [number, number, number] };
}

export const VARIANTS: Record<Variant, VariantSpec> = {
  course: {
    batchNorm: false,
    branch3Kernel: 5,
    maxpool4Kernel: 3,
    auxPool: 'avg5s3',
    auxDropoutBeforeFc1: 0.5,
    auxDropoutAfterFc1: 0.5,
    mainDropout: 0.4,
    init: 'pytorch-default',
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  },
  torchvision: {
    batchNorm: true,
    branch3Kernel: 3,
    maxpool4Kernel: 2,
    auxPool: 'adaptive4',
    auxDropoutBeforeFc1: 0,
    auxDropoutAfterFc1: 0.7,
    mainDropout: 0.2,
    init: 'torchvision',
    normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  },
};

/** The notes' fixed aux pooling, AvgPool2d(5, stride 3), gives the 4x4 that fc1 (128*4*4 = 2048) expects. */
export const AUX_POOL_OUT = 4;
export const AUX_FEATURES = 128 * AUX_POOL_OUT * AUX_POOL_OUT;
