/**
 * Checks for the lessons and exercises.
 *
 * Lessons: `check*` print one line "✓ what was checked" or throw, so a lesson that stops being true
 * fails its cell (and the notebook test).
 * Exercises: the student's cell holds `TODO`; a checker returns verdicts (pass / fail / todo) and
 * `report` shows them without throwing, so a saved exercise runs top to bottom with "not done yet".
 */
import * as tf from '../tf';
import { displayBundle, escapeHtml } from './display';

/**
 * The placeholder in an exercise cell: `const answer: number = TODO;`. Typed `never` so it fits any
 * declared type; the checkers recognise it and report "not done yet".
 */
export const TODO = Symbol.for('googlenet-ts.exercise.todo') as never;

export function isTodo(v: unknown): boolean {
  return v === (TODO as unknown);
}

export class CheckFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailed';
  }
}

function pass(label: string): void {
  // Notebook output: one line per check (tslab sends stdout to the cell).
  console.log(`✓ ${label}`);
}

/** A condition; `detail` says what was seen when it fails. */
export function check(label: string, ok: boolean, detail?: string | (() => string)): void {
  if (!ok) throw new CheckFailed(`✗ ${label}${detail ? `: ${typeof detail === 'function' ? detail() : detail}` : ''}`);
  pass(label);
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x));
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Equal numbers, strings, arrays or records. */
export function checkEqual<T>(label: string, actual: T, expected: T): void {
  check(label, deepEqual(actual, expected), () => `got ${show(actual)}, expected ${show(expected)}`);
}

/** A tensor's shape (or a shape array) equals `expected`. */
export function checkShape(label: string, actual: tf.Tensor | readonly number[], expected: readonly number[]): void {
  const shape = actual instanceof tf.Tensor ? actual.shape : [...actual];
  check(label, deepEqual(shape, [...expected]), () => `shape [${shape.join(', ')}], expected [${expected.join(', ')}]`);
}

/** Largest |a - b| over two tensors or arrays of the same shape. */
export function maxAbsDiff(a: tf.Tensor | number[] | number, b: tf.Tensor | number[] | number): number {
  return tf.tidy(() => {
    const ta = a instanceof tf.Tensor ? a : tf.tensor(a);
    const tb = b instanceof tf.Tensor ? b : tf.tensor(b);
    if (!deepEqual(ta.shape, tb.shape)) throw new CheckFailed(`shapes differ: [${ta.shape.join(', ')}] vs [${tb.shape.join(', ')}]`);
    return ta.size === 0 ? 0 : tf.max(tf.abs(tf.sub(ta, tb))).dataSync()[0];
  });
}

/** Same values within `tol` (absolute, relative to the larger magnitude when above 1). */
export function checkClose(label: string, actual: tf.Tensor | number[] | number, expected: tf.Tensor | number[] | number, tol = 1e-5): void {
  const diff = maxAbsDiff(actual, expected);
  const scale = tf.tidy(() => {
    const t = expected instanceof tf.Tensor ? expected : tf.tensor(expected);
    return t.size === 0 ? 1 : Math.max(1, tf.max(tf.abs(t)).dataSync()[0]);
  });
  check(`${label} (max |diff| ${diff.toExponential(1)})`, diff <= tol * scale, () => `max |diff| ${diff} > ${tol * scale}`);
}

// ---------------------------------------------------------------------------------------------------
// Exercises

export type Status = 'pass' | 'fail' | 'todo';

export interface Verdict {
  status: Status;
  /** What was checked, and on failure what was expected. */
  message: string;
}

export const passed = (message: string): Verdict => ({ status: 'pass', message });
export const failed = (message: string): Verdict => ({ status: 'fail', message });
export const notDone = (what: string): Verdict => ({ status: 'todo', message: `not done yet: ${what} (replace TODO in the cell above)` });

/** A numeric answer against the expected value (or the placeholder). */
export function verdictNumber(what: string, answer: unknown, expected: number, tol = 0): Verdict {
  if (isTodo(answer)) return notDone(what);
  if (typeof answer !== 'number' || !Number.isFinite(answer)) return failed(`${what}: expected a number, got ${show(answer)}`);
  const ok = Math.abs(answer - expected) <= tol;
  return ok ? passed(`${what} = ${answer.toLocaleString('en-US')}`) : failed(`${what}: you have ${answer.toLocaleString('en-US')}, expected ${expected.toLocaleString('en-US')}`);
}

/** Run a student's function; TODO results and exceptions become verdicts instead of errors. */
export function attempt<T>(what: string, f: () => T): { value: T } | Verdict {
  try {
    const value = f();
    if (isTodo(value)) return notDone(what);
    return { value };
  } catch (e) {
    if (isTodo(e)) return notDone(what);
    return failed(`${what} threw: ${(e as Error).message}`);
  }
}

export function isVerdict(x: unknown): x is Verdict {
  return typeof x === 'object' && x !== null && 'status' in x && 'message' in x;
}

const ICON: Record<Status, string> = { pass: '✓', fail: '✗', todo: '…' };
const COLOR: Record<Status, string> = { pass: '#1a7f37', fail: '#cf222e', todo: '#9a6700' };

/** Overall status: any failure fails; else any TODO is not done; else pass. */
export function overall(verdicts: Verdict[]): Status {
  if (verdicts.some((v) => v.status === 'fail')) return 'fail';
  if (verdicts.some((v) => v.status === 'todo')) return 'todo';
  return 'pass';
}

/** Show an exercise's verdicts (never throws) and return the overall status. */
export function report(title: string, verdicts: Verdict[]): Status {
  const status = overall(verdicts);
  const head = { pass: 'all correct', fail: 'not right yet', todo: 'not done yet' }[status];
  const plain = [`${ICON[status]} ${title}: ${head}`, ...verdicts.map((v) => `  ${ICON[v.status]} ${v.message}`)].join('\n');
  const items = verdicts.map((v) => `<li style="color:${COLOR[v.status]}">${ICON[v.status]} ${escapeHtml(v.message)}</li>`).join('');
  const markup =
    `<div class="googlenet-exercise" style="border-left:4px solid ${COLOR[status]};padding:4px 10px">` +
    `<b style="color:${COLOR[status]}">${ICON[status]} ${escapeHtml(title)}: ${head}</b><ul style="margin:4px 0">${items}</ul></div>`;
  displayBundle({ 'text/html': markup, 'text/plain': plain });
  return status;
}
