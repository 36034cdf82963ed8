/** Shared test helpers: running the CLI and Debian's PyTorch, temp folders. */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const CLI = path.join(ROOT, 'bin', 'googlenet');
/** Debian's python3 with python3-torch (the python3 first on PATH may be another interpreter). */
export const PYTHON = process.env.GOOGLENET_TEST_PYTHON ?? '/usr/bin/python3';

export function tmpDir(prefix = 'googlenet-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 300_000,
  });
}

/** Run the CLI with --json and parse stdout; fails with stderr in the message. */
export function cliJson<T = unknown>(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): T {
  const r = runCli([...args, '--json'], opts);
  if (r.status !== 0) throw new Error(`googlenet ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Run a Python script with Debian's PyTorch (the oracle); a missing torch is a clear failure, never a skip. */
export function runPython(script: string, args: string[], timeoutMs = 300_000): string {
  const r = spawnSync(PYTHON, [script, ...args], {
    cwd: path.dirname(script),
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, OMP_NUM_THREADS: '2' },
  });
  if (r.error) throw new Error(`cannot run ${PYTHON} (${r.error.message}): these tests use PyTorch as the oracle; install python3-torch (see .ci/run)`);
  if (r.status !== 0) {
    const missing = /No module named '(\w+)'/.exec(r.stderr)?.[1];
    if (missing) throw new Error(`${PYTHON} cannot import ${missing}: these tests use PyTorch as the oracle; install python3-torch and python3-torchvision`);
    throw new Error(`${path.basename(script)} failed (exit ${r.status}):\n${r.stderr}`);
  }
  return r.stdout;
}
