/**
 * `googlenet import-torch --variant V --num-classes N --state-dict FILE.pth --out RUN`: a PyTorch
 * state dict (the course notes' googleNet.pth, or torchvision's googlenet-1378be20.pth) as a checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { saveCheckpoint } from '../../checkpoint/checkpoint';
import { CheckpointMetadata } from '../../checkpoint/metadata';
import { createGoogLeNet } from '../../model/googlenet';
import { isVariant, VARIANT_NAMES, VARIANTS } from '../../model/specs';
import { PthError, readStateDict } from '../../torch/pth';
import { loadTorchStateDict } from '../../torch/load_state_dict';
import { initBackend } from '../../backend/select';
import { UserError } from '../errors';
import { log, parseNumber, printJson } from '../io';

interface Opts {
  variant: string;
  numClasses: number;
  stateDict: string;
  out: string;
  classNames?: string;
  transformInput: boolean;
  imageSize: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('import-torch')
    .description('turn a PyTorch state_dict (.pth, zip or legacy format) into a checkpoint')
    .requiredOption('--variant <name>', `model variant: ${VARIANT_NAMES.join('|')}`)
    .requiredOption('--num-classes <n>', 'number of classes', parseNumber('--num-classes', { integer: true, min: 1 }))
    .requiredOption('--state-dict <file>', 'the .pth file (torch.save(model.state_dict(), f))')
    .requiredOption('--out <dir>', 'checkpoint folder to write')
    .option('--class-names <list>', 'comma-separated class names, in index order')
    .option('--no-transform-input', "torchvision variant: input already normalised as the weights expect (default: transform_input on, as torchvision's pretrained weights)")
    .option('--image-size <px>', 'input size for predict', parseNumber('--image-size', { integer: true, min: 32 }), 224)
    .option('--json', 'print JSON')
    .action(async (opts: Opts) => {
      if (!isVariant(opts.variant)) throw new UserError(`unknown variant '${opts.variant}': use ${VARIANT_NAMES.join(' or ')}`);
      const variant = opts.variant;
      if (!fs.existsSync(opts.stateDict)) throw new UserError(`${opts.stateDict} does not exist`);
      if (fs.statSync(opts.stateDict).isDirectory()) throw new UserError(`${opts.stateDict} is a directory; pass the .pth file`);
      const classNames = opts.classNames ? opts.classNames.split(',').map((s) => s.trim()) : Array.from({ length: opts.numClasses }, (_, i) => `class_${i}`);
      if (classNames.length !== opts.numClasses) {
        throw new UserError(`--class-names has ${classNames.length} names but --num-classes is ${opts.numClasses}`);
      }
      await initBackend('cpu'); // weights are only copied and saved; no compute
      let sd;
      try {
        sd = readStateDict(fs.readFileSync(opts.stateDict));
      } catch (e) {
        if (e instanceof PthError) throw new UserError(`${opts.stateDict}: ${e.message}`);
        throw e;
      }
      const hasAux = [...sd.keys()].some((k) => /^(module\.)?aux1\./.test(k));
      const transformInput = variant === 'torchvision' && opts.transformInput;
      const model = createGoogLeNet({ variant, numClasses: opts.numClasses, auxLogits: hasAux, transformInput });
      try {
        try {
          loadTorchStateDict(model, sd);
        } catch (e) {
          if (e instanceof PthError) throw new UserError(`${opts.stateDict} does not fit the ${variant} variant with ${opts.numClasses} classes: ${e.message}`);
          throw e;
        }
        const meta: CheckpointMetadata = {
          format: 'googlenet-ts',
          formatVersion: 1,
          variant,
          numClasses: opts.numClasses,
          imageSize: opts.imageSize,
          classNames,
          normalization: VARIANTS[variant].normalization,
          auxLogits: hasAux,
          transformInput,
          epoch: 0,
          bestValAccuracy: null,
          config: { importedFrom: path.resolve(opts.stateDict) },
          createdAt: new Date().toISOString(),
        };
        await saveCheckpoint(opts.out, model, meta, { tag: 'imported' });
        const summary = { out: opts.out, variant, numClasses: opts.numClasses, auxLogits: hasAux, transformInput, tensors: model.stateDict().size };
        if (opts.json) printJson(summary);
        else log(`wrote ${opts.out} (${variant}, ${opts.numClasses} classes${hasAux ? ', with aux heads' : ''}${transformInput ? ', transform_input on' : ''})`);
      } finally {
        model.dispose();
      }
    });
}
