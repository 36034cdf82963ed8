/**
 * `googlenet train --data DIR --out RUN`: the notes' train.py. Adam 3e-4, loss main + 0.3 aux1 + 0.3
 * aux2, validation accuracy every epoch, the best weights in RUN/ and the last state in RUN/last/.
 * Ctrl-C stops after the current step and saves RUN/last; a second Ctrl-C exits at once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, Option } from 'commander';
import { CheckpointError, checkCompatible } from '../../checkpoint/checkpoint';
import { createGoogLeNet, GoogLeNet } from '../../model/googlenet';
import { isVariant, VARIANT_NAMES, VARIANTS, Variant } from '../../model/specs';
import { INIT_SCHEMES, InitScheme } from '../../model/nn/init';
import { summarize } from '../../model/summary';
import { PthError, readStateDict } from '../../torch/pth';
import { loadTorchStateDict } from '../../torch/load_state_dict';
import { DEFAULT_TRAIN_CONFIG, TrainConfig } from '../../train/config';
import { openTrainingData } from '../../train/data';
import { loadResumeState, trainModel } from '../../train/trainer';
import type { NamedTensor } from '../../checkpoint/checkpoint';
import type { BatchSource } from '../../train/batches';
import { addBackendOption, BackendOpts, startBackend } from '../backend_option';
import { UserError } from '../errors';
import { log, parseNumber, printJson } from '../io';
import { progressCallbacks } from '../progress';

interface Opts extends BackendOpts {
  data: string;
  out: string;
  epochs: number;
  batchSize: number;
  imageSize: number;
  lr: number;
  auxWeight: number;
  variant: string;
  seed: number;
  resume?: boolean;
  aux: boolean;
  lrSchedule: 'constant' | 'cosine';
  earlyStop?: number;
  pretrained?: string;
  freezeFeatures?: boolean;
  init?: InitScheme;
  json?: boolean;
}

const d = DEFAULT_TRAIN_CONFIG;

/** Transfer learning as the notes' commented code: torchvision's ImageNet weights, a new head. */
function loadPretrained(model: GoogLeNet, file: string): string {
  if (!fs.existsSync(file)) throw new UserError(`--pretrained ${file} does not exist`);
  let sd;
  try {
    sd = readStateDict(fs.readFileSync(file));
  } catch (e) {
    if (e instanceof PthError) throw new UserError(`--pretrained ${file}: ${e.message}`);
    throw e;
  }
  // New classifier heads for our classes: fc and the aux heads' fc2 are replaced (fresh weights).
  const head = (n: string) => /^(module\.)?(fc|aux1\.fc2|aux2\.fc2)\./.test(n);
  let r;
  try {
    r = loadTorchStateDict(model, sd, { strict: false, skip: head });
  } catch (e) {
    if (e instanceof PthError) throw new UserError(`--pretrained ${file} does not fit the torchvision variant: ${e.message}`);
    throw e;
  }
  const missingFeatures = r.missing.filter((n) => !/^aux[12]\./.test(n));
  if (missingFeatures.length) throw new UserError(`--pretrained ${file} lacks ${missingFeatures.length} feature weights, e.g. ${missingFeatures[0]}`);
  return `loaded ${r.loaded.length} tensors from ${file}; new heads: fc${model.aux1 ? ', aux1.fc2, aux2.fc2' : ''}${r.missing.length ? ` (${r.missing.length} aux tensors absent from the file, trained from scratch)` : ''}`;
}

/** The training batches, counting the images each epoch trained on (bad photos are skipped, not counted). */
function countImages(src: BatchSource): { source: BatchSource; lastEpoch: () => number } {
  let last = 0;
  const source: BatchSource = {
    get size() {
      return src.size;
    },
    batchesPerEpoch: () => src.batchesPerEpoch(),
    async *epoch(e: number) {
      let n = 0;
      for await (const b of src.epoch(e)) {
        n += b.x.shape[0];
        yield b;
      }
      last = n;
    },
  };
  return { source, lastEpoch: () => last };
}

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description("train GoogLeNet on an ImageFolder split (the course notes' recipe)")
    .requiredOption('--data <dir>', 'folder holding train/ and val/ (ImageFolder: <class>/*.jpg)')
    .requiredOption('--out <dir>', 'run folder: best checkpoint, last/ state, metrics.jsonl')
    .option('--epochs <n>', 'epochs (the notes: 30)', parseNumber('--epochs', { integer: true, min: 1 }), d.epochs)
    .option('--batch-size <n>', 'images per batch (the notes: 32)', parseNumber('--batch-size', { integer: true, min: 1 }), d.batchSize)
    .option('--image-size <px>', 'input size (the notes: 224; CPU: 64-128)', parseNumber('--image-size', { integer: true, min: 32 }), d.imageSize)
    .option('--lr <rate>', 'Adam learning rate (the notes: 3e-4)', parseNumber('--lr', { min: 0, exclusiveMin: true }), d.lr)
    .option('--aux-weight <w>', 'weight of each aux loss (the notes: 0.3)', parseNumber('--aux-weight', { min: 0 }), d.auxWeight)
    .option('--variant <name>', `model variant: ${VARIANT_NAMES.join('|')}`, d.variant)
    .option('--seed <n>', 'random seed (weights, shuffling, augmentation, dropout)', parseNumber('--seed', { integer: true, min: 0 }), d.seed)
    .addOption(
      new Option('--init <scheme>', "initial weights: the variant's own (course: PyTorch's defaults, as the notes), or kaiming (He, for ReLU nets: learns from the first epoch)").choices([
        ...INIT_SCHEMES,
      ]),
    )
    .option('--resume', 'continue RUN from its last saved epoch')
    .option('--no-aux', 'train without the auxiliary classifiers')
    .addOption(new Option('--lr-schedule <s>', 'learning-rate schedule').choices(['constant', 'cosine']).default(d.lrSchedule))
    .option('--early-stop <epochs>', 'stop when val accuracy has not improved for this many epochs', parseNumber('--early-stop', { integer: true, min: 1 }))
    .option('--pretrained <file.pth>', "start from torchvision's ImageNet weights (torchvision variant), with new class heads")
    .option('--freeze-features', 'with --pretrained: train only the classifier heads')
    .option('--json', 'print a JSON summary at the end; no progress output');
  addBackendOption(cmd).action(async (opts: Opts) => {
    if (!isVariant(opts.variant)) throw new UserError(`unknown variant '${opts.variant}': use ${VARIANT_NAMES.join(' or ')}`);
    if (opts.pretrained && opts.variant !== 'torchvision') {
      throw new UserError("--pretrained loads torchvision's weights: add --variant torchvision");
    }
    if (opts.freezeFeatures && !opts.pretrained && !opts.resume) throw new UserError('--freeze-features needs --pretrained (frozen random features learn nothing)');
    const variant: Variant = opts.variant;
    const ckFile = path.join(opts.out, 'model.json');
    if (!opts.resume && (fs.existsSync(ckFile) || fs.existsSync(path.join(opts.out, 'last', 'model.json')))) {
      throw new UserError(`${opts.out} already holds a training run: add --resume to continue it, or choose another --out`);
    }
    const quiet = !!opts.json;
    const choice = await startBackend(opts, { quiet });
    const pretrainedTransform = !!opts.pretrained;
    const normalization = variant === 'course' ? VARIANTS.course.normalization : VARIANTS.torchvision.normalization;
    const data = openTrainingData({
      dir: opts.data,
      imageSize: opts.imageSize,
      batchSize: opts.batchSize,
      seed: opts.seed,
      normalization,
      onWarning: quiet ? undefined : (msg) => log(`warning: ${msg}`),
    });
    const config: TrainConfig = {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      imageSize: opts.imageSize,
      lr: opts.lr,
      auxWeight: opts.auxWeight,
      variant,
      seed: opts.seed,
      lrSchedule: opts.lrSchedule,
      earlyStopPatience: opts.earlyStop ?? null,
      freezeFeatures: !!opts.freezeFeatures,
      init: opts.init ?? VARIANTS[variant].init,
    };
    let model: GoogLeNet;
    let startEpoch = 0;
    let best: number | null = null;
    let optimizerState: NamedTensor[] | undefined;
    if (opts.resume) {
      let state;
      try {
        state = await loadResumeState(opts.out);
        checkCompatible(state.metadata, { variant, classNames: data.classNames, imageSize: opts.imageSize }, state.fromBest ? opts.out : path.join(opts.out, 'last'));
      } catch (e) {
        if (e instanceof CheckpointError) throw new UserError(`cannot resume: ${e.message}`);
        throw e;
      }
      model = state.model;
      startEpoch = state.startEpoch;
      best = state.bestValAccuracy;
      optimizerState = state.optimizerState;
      config.freezeFeatures = Boolean((state.metadata.config as Partial<TrainConfig>).freezeFeatures) || config.freezeFeatures;
      if (startEpoch >= opts.epochs) {
        throw new UserError(`${opts.out} has already trained ${startEpoch} epochs: raise --epochs to continue`);
      }
      if (!quiet) {
        const from = state.fromBest ? ` from its best checkpoint with a fresh optimizer (${path.join(opts.out, 'last')} was never written)` : '';
        log(`resuming ${opts.out} at epoch ${startEpoch + 1}/${opts.epochs}${from} (best val accuracy so far ${best ?? '-'})`);
      }
    } else {
      model = createGoogLeNet({ variant, numClasses: data.classNames.length, auxLogits: opts.aux, seed: opts.seed, transformInput: pretrainedTransform, init: opts.init });
      try {
        summarize(model, opts.imageSize); // refuses sizes too small for the network, with the reason
      } catch (e) {
        model.dispose();
        throw new UserError((e as Error).message);
      }
      if (opts.pretrained) {
        const msg = loadPretrained(model, opts.pretrained);
        if (!quiet) log(msg);
      }
    }
    let stopRequested = false;
    const onSigint = () => {
      if (stopRequested) {
        process.stderr.write('\ngooglenet: second Ctrl-C, exiting without saving\n');
        process.exit(130);
      }
      stopRequested = true;
      process.stderr.write(`\nstopping after this step and saving ${path.join(opts.out, 'last')} (Ctrl-C again to quit at once)\n`);
    };
    process.on('SIGINT', onSigint);
    const mode = quiet ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain';
    if (!quiet) {
      log(`training ${variant} GoogLeNet on ${data.train.size} images (${data.classNames.join(', ')}), validating on ${data.val.size}, ${opts.imageSize} px, batch ${opts.batchSize}, ${choice.name}`);
    }
    let result;
    const trained = countImages(data.train);
    try {
      result = await trainModel({
        model,
        train: trained.source,
        val: data.val,
        config,
        classNames: data.classNames,
        normalization,
        outDir: opts.out,
        startEpoch,
        bestValAccuracy: best,
        optimizerState,
        callbacks: progressCallbacks(mode, () => stopRequested),
      });
    } finally {
      process.off('SIGINT', onSigint);
      model.dispose();
    }
    const summary = {
      out: opts.out,
      backend: choice.name,
      epochsCompleted: result.epochsCompleted,
      bestValAccuracy: result.bestValAccuracy,
      stoppedBy: result.stoppedBy,
      trainedImages: trained.lastEpoch(),
      skippedImages: data.skipped(),
      history: result.history,
    };
    if (opts.json) printJson(summary);
    else {
      if (result.stoppedBy === 'interrupt') log(`interrupted: state saved in ${path.join(opts.out, 'last')}; continue with --resume`);
      log(`trained on ${summary.trainedImages} of ${data.train.size} training images in the last epoch${summary.skippedImages ? `; ${summary.skippedImages} unreadable image(s) were skipped, each named above` : ''}`);
      log(`best val accuracy ${result.bestValAccuracy?.toFixed(3) ?? '-'}; checkpoint: ${opts.out} (predict with: bin/googlenet predict --checkpoint ${opts.out} IMAGE)`);
    }
    if (result.stoppedBy === 'interrupt') process.exitCode = 130;
  });
}
