/** Output helpers for commands: one JSON document on stdout with --json, logs on stderr. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function log(message: string): void {
  process.stderr.write(message + '\n');
}

/** Parse a CLI number option, refusing anything that is not a finite number in range. */
export function parseNumber(name: string, opts: { integer?: boolean; min?: number; max?: number; exclusiveMin?: boolean } = {}) {
  return (raw: string): number => {
    const v = Number(raw);
    const kind = opts.integer ? 'an integer' : 'a number';
    if (raw.trim() === '' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
      throw new InvalidOption(`${name} must be ${kind}, got '${raw}'`);
    }
    if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) {
      throw new InvalidOption(`${name} must be ${opts.exclusiveMin ? 'greater than' : 'at least'} ${opts.min}, got ${raw}`);
    }
    if (opts.max !== undefined && v > opts.max) throw new InvalidOption(`${name} must be at most ${opts.max}, got ${raw}`);
    return v;
  };
}

import { InvalidArgumentError } from 'commander';
export class InvalidOption extends InvalidArgumentError {}
