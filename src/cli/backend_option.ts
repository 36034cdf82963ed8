/** `--backend` / GOOGLENET_BACKEND for commands that compute. */
import { Command, Option } from 'commander';
import { BACKEND_NAMES, BackendName, isBackendName } from '../backend/names';
import { BackendChoice, initBackend } from '../backend/select';
import { UserError } from './errors';
import { log } from './io';

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--backend <name>', `compute backend: auto or ${BACKEND_NAMES.join('|')} (env GOOGLENET_BACKEND)`).default(
      process.env.GOOGLENET_BACKEND || 'auto',
    ),
  );
}

/** Start the backend named by --backend; in auto mode say on stderr which one and why others were passed over. */
export async function startBackend(requested: string, opts: { quiet?: boolean } = {}): Promise<BackendChoice> {
  if (requested !== 'auto' && !isBackendName(requested)) {
    throw new UserError(`unknown backend '${requested}': use auto or one of ${BACKEND_NAMES.join(', ')}`);
  }
  let choice: BackendChoice;
  try {
    choice = await initBackend(requested as BackendName | 'auto');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (!opts.quiet) {
    for (const s of choice.skipped.filter((r) => r.name === 'tensorflow-gpu' || r.name === 'webgpu')) {
      // Say why a GPU backend that could be here was passed over; stay quiet where there is no GPU at all.
      if (!/not installed|no GPU device|no NVIDIA driver/.test(s.reason) && !s.software) log(`backend ${s.name} not used: ${s.reason}`);
    }
    log(`backend: ${choice.name}${choice.report.device ? ` (${choice.report.device})` : ''}`);
  }
  return choice;
}
