/** `googlenet predict --checkpoint RUN IMAGE... [--top-k K] [--json]`: the notes' predict.py for many images. */
import { Command } from 'commander';
import { loadCheckpoint } from '../../checkpoint/checkpoint';
import { predictImages } from '../../train/predict';
import { addBackendOption, BackendOpts, startBackend } from '../backend_option';
import { UserError } from '../errors';
import { log, parseNumber, printJson } from '../io';

interface Opts extends BackendOpts {
  checkpoint: string;
  topK: number;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('classify images with a checkpoint (top-k classes and probabilities)')
    .argument('<images...>', 'image files')
    .requiredOption('--checkpoint <dir>', 'checkpoint folder (a training run, or import-torch output)')
    .option('--top-k <k>', 'how many classes to show per image', parseNumber('--top-k', { integer: true, min: 1 }), 5)
    .option('--json', 'print JSON: [{image, predictions: [{index, className, probability}]}]');
  addBackendOption(cmd).action(async (images: string[], opts: Opts) => {
    await startBackend(opts, { quiet: opts.json });
    const ck = await loadCheckpoint(opts.checkpoint, { auxLogits: false });
    const { results, failures } = await predictImages(ck.model, ck.metadata, images, opts.topK);
    ck.model.dispose();
    if (opts.json) printJson(results);
    else {
      for (const r of results) {
        process.stdout.write(`${r.image}\n`);
        for (const p of r.predictions) {
          process.stdout.write(`  ${p.className.padEnd(16)} ${(p.probability * 100).toFixed(2).padStart(6)}%  (class ${p.index})\n`);
        }
      }
    }
    if (failures.length && results.length === 0) {
      throw new UserError(failures.length === 1 ? failures[0].error : `none of the ${failures.length} images could be read: ${failures[0].error}, ...`);
    }
    for (const f of failures) log(`googlenet: skipped ${f.error}`);
    if (failures.length) process.exitCode = 1;
  });
}
