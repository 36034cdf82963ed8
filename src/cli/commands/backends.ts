/** `googlenet backends [--json]`: each of the five backends, usable or not and why. */
import { Command } from 'commander';
import { probeBackends } from '../../backend/select';
import { printJson } from '../io';

export function register(program: Command): void {
  program
    .command('backends')
    .description('list the compute backends and whether each works here')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const reports = await probeBackends();
      if (opts.json) return printJson(reports);
      for (const r of reports) {
        const mark = r.available ? 'yes' : 'no ';
        process.stdout.write(`${r.name.padEnd(15)} ${mark}  ${r.device ? r.device + ': ' : ''}${r.reason}\n`);
      }
    });
}
