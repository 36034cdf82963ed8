/**
 * The model's table: output shape, parameters and FLOPs of every stage, computed from the sizes alone
 * (no tensors, no backend). A test checks these shapes against a real forward pass.
 */
import { auxPooling, AuxPooling } from './inception_aux';
import { GoogLeNet, STAGES, StageName } from './googlenet';
import { Module } from './module';
import { poolOutputSize } from './nn/pool';
import { BasicConv2d } from './basic_conv2d';
import { Inception } from './inception';
import { AUX_FEATURES } from './specs';

export interface LayerSummary {
  name: StageName;
  /** [H, W, C] without the batch; [C] for flat outputs. */
  outputShape: number[];
  params: number;
  /** Floating-point operations for one image (2 per multiply-add; convs, pools and FC layers). */
  flops: number;
}

export interface ModelSummary {
  variant: string;
  numClasses: number;
  imageSize: number;
  totalParams: number;
  /** Parameters of aux1 + aux2, used in training only. */
  auxParams: number;
  /** How the aux heads pool at this size: the notes' AvgPool(5, 3) or adaptive 4x4 (a deviation). */
  auxPooling: AuxPooling | null;
  /** Sentences on where this model departs from the notes at this size. */
  notes: string[];
  totalFlops: number;
  layers: LayerSummary[];
}

function convOut(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/** FLOPs of a BasicConv2d on an h x w input, and its output size. */
function basicConv(m: BasicConv2d, h: number, w: number): { h: number; w: number; flops: number } {
  const { kernelSize: k, stride = 1, padding = 0, inChannels, outChannels } = m.args;
  const oh = convOut(h, k, stride, padding);
  const ow = convOut(w, k, stride, padding);
  return { h: oh, w: ow, flops: 2 * oh * ow * k * k * inChannels * outChannels };
}

function inceptionFlops(m: Inception, h: number, w: number): number {
  const convs = [m.branch1, ...m.branch2, ...m.branch3, m.branch4];
  return convs.reduce((s, c) => s + basicConv(c, h, w).flops, 0) + h * w * 9 * m.spec[0]; // + the 3x3 pool's compares
}

function params(m: Module | null): number {
  return m ? m.numParameters() : 0;
}

/** The smallest square input the network can take (every pooling window must fit). */
export function minImageSize(model: GoogLeNet): number {
  for (let size = 1; ; size++) {
    let h = convOut(size, 7, 2, 3); // conv1
    let ok = true;
    for (const k of [3, 3, 3, model.variant.maxpool4Kernel]) {
      h = poolOutputSize(h, k, 2, 0, true);
      if (h < 1) ok = false;
    }
    if (ok) return size;
  }
}

export function summarize(model: GoogLeNet, imageSize: number): ModelSummary {
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new Error(`image size must be a positive integer, got ${imageSize}`);
  const layers: LayerSummary[] = [];
  let h = imageSize;
  let w = imageSize;
  let c = 3;
  let aux: AuxPooling | null = null;
  const push = (name: StageName, shape: number[], p: number, flops: number) => layers.push({ name, outputShape: shape, params: p, flops });
  const pool = (name: StageName, k: number) => {
    const oh = poolOutputSize(h, k, 2, 0, true);
    const ow = poolOutputSize(w, k, 2, 0, true);
    if (oh < 1 || ow < 1) {
      throw new Error(`image size ${imageSize} is too small: ${name} (${k}x${k}/2) gets a ${h}x${w} map and has no output (the smallest input this variant takes is ${minImageSize(model)} px)`);
    }
    h = oh;
    w = ow;
    push(name, [h, w, c], 0, h * w * k * k * c);
  };
  const conv = (name: 'conv1' | 'conv2' | 'conv3', m: BasicConv2d) => {
    const r = basicConv(m, h, w);
    h = r.h;
    w = r.w;
    c = m.args.outChannels;
    push(name, [h, w, c], params(m), r.flops);
  };
  const inception = (name: StageName, m: Inception) => {
    const flops = inceptionFlops(m, h, w);
    c = m.outChannels;
    push(name, [h, w, c], params(m), flops);
  };
  const auxHead = (name: 'aux1' | 'aux2') => {
    const m = name === 'aux1' ? model.aux1 : model.aux2;
    if (!m) return;
    aux = auxPooling(model.variant, h, w);
    const convFlops = 2 * 16 * m.inChannels * 128;
    const fcFlops = 2 * (AUX_FEATURES * 1024 + 1024 * model.config.numClasses);
    auxLayers.push({ name, outputShape: [model.config.numClasses], params: params(m), flops: convFlops + fcFlops + h * w * m.inChannels });
  };
  const auxLayers: LayerSummary[] = [];
  const inc = model.inception;
  for (const stage of STAGES) {
    switch (stage) {
      case 'conv1': conv(stage, model.conv1); break;
      case 'conv2': conv(stage, model.conv2); break;
      case 'conv3': conv(stage, model.conv3); break;
      case 'maxpool1': case 'maxpool2': case 'maxpool3': pool(stage, 3); break;
      case 'maxpool4': pool(stage, model.variant.maxpool4Kernel); break;
      case 'avgpool': push(stage, [1, 1, c], 0, h * w * c); h = 1; w = 1; break;
      case 'dropout': push(stage, [c], 0, 0); break;
      case 'fc': push(stage, [model.config.numClasses], params(model.fc), 2 * c * model.config.numClasses); break;
      default: {
        const key = stage.slice('inception'.length) as keyof typeof inc;
        inception(stage, inc[key]);
        if (stage === 'inception4a') auxHead('aux1');
        if (stage === 'inception4d') auxHead('aux2');
      }
    }
  }
  layers.push(...auxLayers);
  const notes: string[] = [];
  if (model.config.variant === 'course' && aux === 'adaptive4') {
    notes.push(
      `aux heads pool adaptively to 4x4 (torchvision's way): at ${imageSize} px the notes' AvgPool2d(5, stride 3) does not give the 4x4x128 = 2048 features fc1 expects (it does at 224 px)`,
    );
  }
  const totalParams = model.numParameters();
  return {
    variant: model.config.variant,
    numClasses: model.config.numClasses,
    imageSize,
    totalParams,
    auxParams: model.auxParameterCount(),
    auxPooling: aux,
    notes,
    totalFlops: layers.filter((l) => l.name !== 'aux1' && l.name !== 'aux2').reduce((s, l) => s + l.flops, 0),
    layers,
  };
}
