/** `googlenet evaluate --checkpoint RUN --data DIR [--json]`: accuracy, per-class accuracy, confusion matrix. */
import { Command } from 'commander';
import { checkCompatible, loadCheckpoint } from '../../checkpoint/checkpoint';
import { scanImageFolder } from '../../data/image_folder';
import { DataLoader } from '../../data/loader';
import { evalTransform } from '../../data/transforms';
import { fromDataLoader } from '../../train/batches';
import { evaluate } from '../../train/evaluate';
import { addBackendOption, BackendOpts, startBackend } from '../backend_option';
import { confusionTable } from '../confusion_table';
import { UserError } from '../errors';
import { log, parseNumber, printJson } from '../io';

interface Opts extends BackendOpts {
  checkpoint: string;
  data: string;
  batchSize: number;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('evaluate a checkpoint on an ImageFolder (<class>/*.jpg): accuracy and confusion matrix')
    .requiredOption('--checkpoint <dir>', 'checkpoint folder')
    .requiredOption('--data <dir>', 'ImageFolder with the same class folders as the training data')
    .option('--batch-size <n>', 'images per batch', parseNumber('--batch-size', { integer: true, min: 1 }), 32)
    .option('--json', 'print JSON: {accuracy, count, classNames, confusion, perClass}');
  addBackendOption(cmd).action(async (opts: Opts) => {
    const folder = scanImageFolder(opts.data);
    await startBackend(opts, { quiet: opts.json });
    const ck = await loadCheckpoint(opts.checkpoint, { auxLogits: false });
    const meta = ck.metadata;
    try {
      checkCompatible(meta, { classNames: folder.classes }, opts.checkpoint);
    } catch (e) {
      ck.model.dispose();
      throw new UserError((e as Error).message);
    }
    const loader = new DataLoader({
      dataset: folder,
      transform: evalTransform(meta.imageSize),
      batchSize: opts.batchSize,
      normalization: meta.normalization,
      onWarning: opts.json ? undefined : (msg) => log(`warning: ${msg}`),
    });
    const r = await evaluate(ck.model, fromDataLoader(loader), {
      onBatch: opts.json || !process.stderr.isTTY ? undefined : (done, total) => process.stderr.write(`\revaluating ${done}/${total}${done === total ? '\n' : ''}`),
    });
    ck.model.dispose();
    const perClass = Object.fromEntries(meta.classNames.map((c, i) => [c, r.perClass[i]]));
    const out = { accuracy: r.accuracy, count: r.count, loss: r.loss, classNames: meta.classNames, confusion: r.confusion, perClass, skipped: loader.skipped };
    if (opts.json) return printJson(out);
    const chance = Math.log(meta.classNames.length); // the loss of a model that gives every class the same probability
    const lines = [
      `accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.count} images (${opts.data})${loader.skipped ? `, ${loader.skipped} unreadable skipped` : ''}`,
      `mean cross-entropy ${r.loss.toFixed(3)} (uniform guessing: ${chance.toFixed(3)})`,
      '',
    ];
    lines.push(...confusionTable(meta.classNames, r.confusion, r.perClass));
    process.stdout.write(lines.join('\n') + '\n');
  });
}
