/** `googlenet summary`: stage shapes, parameters and FLOPs, as the notes derive them. */
import { Command } from 'commander';
import { createGoogLeNet } from '../../model/googlenet';
import { isVariant, VARIANT_NAMES, Variant } from '../../model/specs';
import { summarize } from '../../model/summary';
import { UserError } from '../errors';
import { parseNumber, printJson } from '../io';
import { initBackend } from '../../backend/select';

export function register(program: Command): void {
  program
    .command('summary')
    .description('print the model: every stage with its output shape, parameters and FLOPs')
    .option('--variant <name>', `model variant: ${VARIANT_NAMES.join('|')}`, 'course')
    .option('--num-classes <n>', 'number of classes', parseNumber('--num-classes', { integer: true, min: 1 }), 5)
    .option('--image-size <px>', 'input image size', parseNumber('--image-size', { integer: true, min: 1 }), 224)
    .option('--no-aux', 'without the auxiliary classifiers')
    .option('--json', 'print JSON')
    .action(async (opts: { variant: string; numClasses: number; imageSize: number; aux: boolean; json?: boolean }) => {
      if (!isVariant(opts.variant)) throw new UserError(`unknown variant '${opts.variant}': use ${VARIANT_NAMES.join(' or ')}`);
      await initBackend('cpu'); // the weights are only counted; cpu starts fastest
      const model = createGoogLeNet({ variant: opts.variant as Variant, numClasses: opts.numClasses, auxLogits: opts.aux });
      let s;
      try {
        s = summarize(model, opts.imageSize);
      } catch (e) {
        throw new UserError((e as Error).message);
      } finally {
        model.dispose();
      }
      if (opts.json) return printJson(s);
      const fmt = (n: number) => n.toLocaleString('en-US');
      const out: string[] = [`GoogLeNet (${s.variant}), ${s.numClasses} classes, ${s.imageSize}x${s.imageSize} input`, ''];
      out.push(`${'stage'.padEnd(13)} ${'output (HxWxC)'.padEnd(16)} ${'params'.padStart(11)} ${'MFLOPs'.padStart(9)}`);
      for (const l of s.layers) {
        out.push(`${l.name.padEnd(13)} ${l.outputShape.join('x').padEnd(16)} ${fmt(l.params).padStart(11)} ${(l.flops / 1e6).toFixed(1).padStart(9)}`);
      }
      out.push('');
      out.push(`total parameters: ${fmt(s.totalParams)} (${fmt(s.totalParams - s.auxParams)} without the aux heads)`);
      out.push(`forward FLOPs per image: ${(s.totalFlops / 1e9).toFixed(2)} G (without aux heads)`);
      for (const n of s.notes) out.push(`note: ${n}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}
