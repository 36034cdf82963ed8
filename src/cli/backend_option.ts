/**
 * `--backend` / GOOGLENET_BACKEND and `--threads` / GOOGLENET_THREADS for commands that compute;
 * GOOGLENET_STOCK_KERNELS=1 runs tfjs's shipped kernels instead of the project's own (wasm, webgpu).
 */
import { Command, Option } from 'commander';
import { BACKEND_NAMES, BackendName, isBackendName } from '../backend/names';
import { BackendChoice, defaultWasmThreads, initBackend } from '../backend/select';
import { MAX_WASM_THREADS } from '../backend/wasm/threads';
import { UserError } from './errors';
import { log } from './io';

export function addBackendOption(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--backend <name>', `compute backend: auto or ${BACKEND_NAMES.join('|')} (env GOOGLENET_BACKEND)`).default(
        process.env.GOOGLENET_BACKEND || 'auto',
      ),
    )
    .addOption(
      new Option('--threads <n>', `threads for the wasm backend (env GOOGLENET_THREADS; default: one per CPU, ${defaultWasmThreads()} here)`).default(
        process.env.GOOGLENET_THREADS,
      ),
    );
}

export interface BackendOpts {
  backend: string;
  threads?: string;
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new UserError(`--threads must be a whole number from 1 to ${MAX_WASM_THREADS}, got '${value}'`);
  }
  return n;
}

/** GOOGLENET_STOCK_KERNELS: 1/true/yes turns the project's own kernels off; 0/false/no or unset keeps them. */
export function stockKernelsFromEnv(value = process.env.GOOGLENET_STOCK_KERNELS): boolean {
  if (value === undefined || value === '') return false;
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new UserError(`GOOGLENET_STOCK_KERNELS must be 1 or 0, got '${value}'`);
}

/** Start the backend named by --backend; in auto mode say on stderr which one and why others were passed over. */
export async function startBackend(opts: BackendOpts, out: { quiet?: boolean } = {}): Promise<BackendChoice> {
  const requested = opts.backend;
  if (requested !== 'auto' && !isBackendName(requested)) {
    throw new UserError(`unknown backend '${requested}': use auto or one of ${BACKEND_NAMES.join(', ')}`);
  }
  const wasmThreads = parseThreads(opts.threads);
  let choice: BackendChoice;
  try {
    choice = await initBackend(requested as BackendName | 'auto', { wasmThreads, stockKernels: stockKernelsFromEnv() });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (!out.quiet) {
    for (const s of choice.skipped.filter((r) => r.name === 'tensorflow-gpu' || r.name === 'webgpu')) {
      // Say why a GPU backend that could be here was passed over; stay quiet where there is no GPU at all.
      if (!/not installed|no GPU device|no NVIDIA driver/.test(s.reason) && !s.software) log(`backend ${s.name} not used: ${s.reason}`);
    }
    log(`backend: ${choice.name}${choice.report.device ? ` (${choice.report.device})` : ''}${choice.kernels === 'stock' && (choice.name === 'wasm' || choice.name === 'webgpu') ? ", tfjs's stock kernels" : ''}`);
  }
  return choice;
}
