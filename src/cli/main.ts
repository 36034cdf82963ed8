/**
 * bin/googlenet: the command line. Each command lives in ./commands/<name>.ts and registers itself.
 * Errors a user can fix are one line on stderr and a non-zero exit; --debug shows the stack.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from './errors';
import { CheckpointError } from '../checkpoint/checkpoint';
import { DataError } from '../data/errors';
import { NonFiniteLossError } from '../train/trainer';
import { BackendError } from '../backend/select';
import * as backends from './commands/backends';
import * as summary from './commands/summary';
import * as importTorch from './commands/import_torch';
import * as predict from './commands/predict';
import * as split from './commands/split';
import * as fetchData from './commands/fetch_data';
import * as train from './commands/train';
import * as evaluateCmd from './commands/evaluate';
import * as bench from './commands/bench';

const COMMANDS: { register(program: Command): void }[] = [backends, summary, importTorch, train, evaluateCmd, predict, bench, split, fetchData];

/** Error messages stay on one line: multi-line details are joined. */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l)
    .join(' ');
}

/** Errors whose message already tells the user what to do: printed as they are, without the --debug hint. */
function isUserFacing(err: Error): boolean {
  return err instanceof UserError || err instanceof DataError || err instanceof CheckpointError || err instanceof NonFiniteLossError || err instanceof BackendError;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = new Command('googlenet')
    .description('GoogLeNet (Inception v1) on TensorFlow.js: the course notes as a library and a CLI')
    .option('--debug', 'show stack traces')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s.trim().startsWith('error:') ? `googlenet: ${s.trim().slice(7)}\n` : s) });
  for (const c of COMMANDS) c.register(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ outputError: (s, write) => write(`googlenet: ${s.trim().replace(/^error: /, '')}\n`) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : e.exitCode || 2;
    }
    const err = e as Error;
    if (debug) process.stderr.write(`${err.stack ?? err}\n`);
    else process.stderr.write(`googlenet: ${oneLine(isUserFacing(err) ? err.message : `${err.message} (run with --debug for details)`)}\n`);
    return err instanceof UserError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
