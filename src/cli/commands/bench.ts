/**
 * `googlenet bench`: training and inference throughput of GoogLeNet on the current backend, with
 * tensor counts (leaks), peak memory; `--loader-only` times the data pipeline instead, `--profile` the
 * kernels of one training step.
 */
import { Command, Option } from 'commander';
import { benchLoader } from '../../data/bench_loader';
import { isVariant, VARIANT_NAMES } from '../../model/specs';
import { benchModelWithLeakCheck, formatProfile, profileTrainingStep } from '../../train/bench';
import { addBackendOption, BackendOpts, startBackend } from '../backend_option';
import { UserError } from '../errors';
import { log, parseNumber, printJson } from '../io';

interface Opts extends BackendOpts {
  batchSize: number;
  imageSize: number;
  steps: number;
  data?: string;
  loaderOnly?: boolean;
  variant: string;
  limit?: number;
  json?: boolean;
  profile?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('measure training/inference images per second (or the data loader with --loader-only)')
    .option('--batch-size <n>', 'images per batch', parseNumber('--batch-size', { integer: true, min: 1 }), 16)
    .option('--image-size <px>', 'input size', parseNumber('--image-size', { integer: true, min: 32 }), 224)
    .option('--steps <n>', 'timed steps (after one warm-up)', parseNumber('--steps', { integer: true, min: 1 }), 5)
    .option('--data <dir>', 'ImageFolder (or split root) for --loader-only')
    .option('--loader-only', 'time the training transform (RandomResizedCrop + flip + normalise) over --data')
    .option('--limit <n>', 'with --loader-only: at most this many images', parseNumber('--limit', { integer: true, min: 1 }))
    .addOption(new Option('--variant <name>', `model variant: ${VARIANT_NAMES.join('|')}`).default('course'))
    .option('--profile', 'time each kernel of one training step (GPU timestamps on webgpu) instead of the throughput')
    .option('--json', 'print JSON');
  addBackendOption(cmd).action(async (opts: Opts) => {
    if (!isVariant(opts.variant)) throw new UserError(`unknown variant '${opts.variant}': use ${VARIANT_NAMES.join(' or ')}`);
    if (opts.loaderOnly && !opts.data) throw new UserError('--loader-only needs --data DIR (an ImageFolder of photos)');
    const choice = await startBackend(opts, { quiet: opts.json });
    const rss0 = process.memoryUsage().rss;
    let peakRss = rss0;
    const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    try {
      if (opts.loaderOnly) {
        const r = await benchLoader({ data: opts.data!, imageSize: opts.imageSize, batchSize: opts.batchSize, limit: opts.limit });
        const out = { backend: choice.name, kernels: choice.kernels, imageSize: opts.imageSize, batchSize: opts.batchSize, images: r.images, seconds: r.seconds, loaderImagesPerSec: r.imagesPerSec, loaderCpuMsPerImage: r.cpuMsPerImage, skipped: r.skipped };
        if (opts.json) return printJson(out);
        return log(`loader: ${r.imagesPerSec.toFixed(1)} img/s, ${r.cpuMsPerImage.toFixed(2)} CPU ms per image (${r.images} images at ${opts.imageSize} px in ${r.seconds.toFixed(2)} s)`);
      }
      if (opts.profile) {
        const p = await profileTrainingStep({ variant: opts.variant, imageSize: opts.imageSize, batchSize: opts.batchSize, limit: 20 });
        const out = { backend: choice.name, device: choice.report.device, kernels: choice.kernels, variant: opts.variant, imageSize: opts.imageSize, batchSize: opts.batchSize, profile: p };
        if (opts.json) return printJson(out);
        return log(formatProfile(p, `${choice.name} (${choice.kernels} kernels), ${opts.variant}, ${opts.imageSize} px, batch ${opts.batchSize}`));
      }
      const r = await benchModelWithLeakCheck({ variant: opts.variant, imageSize: opts.imageSize, batchSize: opts.batchSize, steps: opts.steps });
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const out = {
        backend: choice.name,
        device: choice.report.device,
        kernels: choice.kernels,
        variant: opts.variant,
        imageSize: opts.imageSize,
        batchSize: opts.batchSize,
        steps: opts.steps,
        trainImagesPerSec: r.trainImagesPerSec,
        evalImagesPerSec: r.evalImagesPerSec,
        tensorsBefore: r.tensorsBefore,
        tensorsAfter: r.tensorsAfter,
        tensorsPerStep: r.tensorsPerStep,
        peakRssMB: Math.round(peakRss / 2 ** 20),
      };
      if (opts.json) return printJson(out);
      log(
        `${choice.name}: train ${r.trainImagesPerSec.toFixed(2)} img/s, eval ${r.evalImagesPerSec.toFixed(2)} img/s ` +
          `(${opts.variant}, ${opts.imageSize} px, batch ${opts.batchSize}, ${opts.steps} steps); tensors ${r.tensorsBefore} -> ${r.tensorsAfter}; peak RSS ${out.peakRssMB} MB`,
      );
    } finally {
      clearInterval(timer);
    }
  });
}
