/**
 * A minimal, allow-list unpickler for what `torch.save` writes (pickle protocol 2; the binary opcodes of
 * protocols 3-4 are read too). It executes nothing: GLOBAL/STACK_GLOBAL only resolve names the caller
 * allows, and REDUCE/NEWOBJ on such a name run the caller's own TypeScript handler (building a dict or
 * describing a tensor), never Python. Every read is bounds-checked, every opcode moves forward, and
 * every failure is a `PthError` saying what was being read where.
 */

/** The one error class of src/torch: a message a user can act on. */
export class PthError extends Error {
  override readonly name = 'PthError';
}

/** A Python tuple (lists are JS arrays). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python dict or OrderedDict; `state` holds what BUILD set on it (e.g. a state dict's `_metadata`). */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  state: PyValue | undefined;
  constructor(readonly ordered = false) {}
}

/** A reference to an allowed global (e.g. `torch.FloatStorage`); not callable unless it has a handler. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Values built by the caller's handlers (tensor descriptions); `kind` names them in messages. */
export abstract class PyOpaque {
  abstract readonly kind: string;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | PyOpaque;

/** Builds the result of calling an allowed global with `args` (REDUCE or NEWOBJ). */
export type GlobalHandler = (args: readonly PyValue[]) => PyValue;

export interface UnpickleOptions {
  /** `module.name` -> handler; `null` may be referenced but not called. Any other global is refused. */
  globals: ReadonlyMap<string, GlobalHandler | null>;
  /** BINPERSID: turns a persistent id into a value; without it, persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** What the bytes are, for messages: 'file', 'data.pkl'. */
  source: string;
}

/** A name from the file, safe for a one-line message: control characters escaped, at most 80 characters. */
export function printable(name: string): string {
  const clean = name.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}

/** A short description of a value's type for messages (never its contents). */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'a bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an int' : 'a float';
  if (typeof v === 'bigint') return 'an int';
  if (typeof v === 'string') return 'a str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v instanceof PyDict) return v.ordered ? 'an OrderedDict' : 'a dict';
  if (v instanceof PyGlobal) return `'${printable(v.qualname)}'`;
  return v.kind;
}

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x2e: 'STOP', 0x28: 'MARK', 0x7d: 'EMPTY_DICT', 0x5d: 'EMPTY_LIST', 0x29: 'EMPTY_TUPLE',
  0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x6c: 'LIST', 0x64: 'DICT', 0x61: 'APPEND',
  0x65: 'APPENDS', 0x73: 'SETITEM', 0x75: 'SETITEMS', 0x58: 'BINUNICODE', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8e: 'BINBYTES8', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x47: 'BINFLOAT', 0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x94: 'MEMOIZE', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE',
  0x62: 'BUILD', 0x81: 'NEWOBJ', 0x51: 'BINPERSID', 0x95: 'FRAME', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP',
};

/**
 * Most values and MARKs the stack may hold at once. torch.save's pickles stay under a few thousand
 * (SETITEMS batches of 1000 pairs); a damaged or hostile pickle nesting a million values deep would
 * otherwise cost seconds of garbage collection for nothing.
 */
export const MAX_STACK = 100_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Unpickle one pickle starting at `start`; returns the value and the offset just past its STOP (the
 * legacy torch format is several pickles in a row, then raw storage bytes).
 */
export function unpickle(bytes: Uint8Array, start: number, opts: UnpickleOptions): { value: PyValue; end: number } {
  return new Unpickler(bytes, start, opts).run();
}

class Unpickler {
  private pos: number;
  private op = 'the first opcode';
  private opAt = 0;
  private stack: PyValue[] = [];
  private marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, start: number, private readonly opts: UnpickleOptions) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(msg: string): never {
    throw new PthError(`${msg} (pickle opcode ${this.op} at byte ${this.opAt} of the ${this.opts.source})`);
  }

  /** Reserve n bytes, or say where the stream ends. */
  private take(n: number, what: string): number {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.bytes.length) {
      throw new PthError(`truncated (${this.opts.source} ends at byte ${this.bytes.length} while reading ${what} at byte ${this.pos}, opcode ${this.op})`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }

  private u8(): number {
    return this.bytes[this.take(1, 'a 1-byte argument')];
  }
  private u16(): number {
    return this.view.getUint16(this.take(2, 'a 2-byte argument'), true);
  }
  private u32(): number {
    return this.view.getUint32(this.take(4, 'a 4-byte argument'), true);
  }
  private u64(): number {
    const v = this.view.getBigUint64(this.take(8, 'an 8-byte argument'), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is too large`);
    return Number(v);
  }
  private raw(n: number, what: string): Uint8Array {
    const p = this.take(n, what);
    return this.bytes.subarray(p, p + n);
  }
  private text(n: number): string {
    try {
      return utf8.decode(this.raw(n, `a ${n}-byte string`));
    } catch (e) {
      if (e instanceof PthError) throw e;
      return this.fail('invalid UTF-8 in a string');
    }
  }
  private line(what: string): string {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0) this.take(this.bytes.length - this.pos + 1, what);
    const s = latin1.decode(this.bytes.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }
  /** Little-endian two's complement integer of n bytes (LONG1/LONG4), as a number when safe. */
  private long(n: number): number | bigint {
    if (n > 1 << 16) this.fail(`a ${n}-byte integer is too large`);
    const b = this.raw(n, `a ${n}-byte integer`);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private pop(): PyValue {
    if (this.stack.length === 0 || (this.marks.length > 0 && this.stack.length <= this.marks[this.marks.length - 1])) {
      this.fail('stack underflow');
    }
    return this.stack.pop() as PyValue;
  }
  private top(): PyValue {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('no MARK before it');
    return this.stack.splice(m);
  }
  private put(i: number): void {
    this.memo.set(i, this.top());
  }
  private get(i: number): void {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored`);
    this.stack.push(this.memo.get(i) as PyValue);
  }

  private global(module: string, name: string): PyGlobal {
    const q = `${module}.${name}`;
    if (!this.opts.globals.has(q)) {
      const hint = /^(torch|torchvision|__main__)(\.|$)/.test(module) ? ' (was it saved with torch.save(model)? save model.state_dict() instead)' : '';
      throw new PthError(`refuses to load global '${printable(q)}': only tensor data is read${hint}`);
    }
    return new PyGlobal(module, name);
  }
  private call(fn: PyValue, args: PyValue, how: string): PyValue {
    if (!(fn instanceof PyGlobal)) return this.fail(`${how} on ${describe(fn)}, not an allowed global`);
    const handler = this.opts.globals.get(fn.qualname);
    if (!handler) return this.fail(`global '${printable(fn.qualname)}' cannot be called`);
    if (!(args instanceof PyTuple)) return this.fail(`${how} arguments of '${printable(fn.qualname)}' are ${describe(args)}, not a tuple`);
    return handler(args.items);
  }

  private setItems(d: PyValue, items: PyValue[]): void {
    if (!(d instanceof PyDict)) this.fail(`cannot set items on ${describe(d)}`);
    if (items.length % 2) this.fail('odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) d.map.set(items[i], items[i + 1]);
  }
  private append(l: PyValue, items: PyValue[]): void {
    if (!Array.isArray(l)) this.fail(`cannot append to ${describe(l)}`);
    for (const x of items) l.push(x);
  }

  run(): { value: PyValue; end: number } {
    for (;;) {
      this.opAt = this.pos;
      this.op = 'at the end';
      const code = this.bytes[this.take(1, 'the next opcode')];
      this.op = OPNAMES[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
      const s = this.stack;
      if (s.length + this.marks.length > MAX_STACK) this.fail(`more than ${MAX_STACK} values and MARKs on the stack: not a state dict`);
      switch (code) {
        case 0x80: { // PROTO
          const p = this.u8();
          if (p > 4) this.fail(`pickle protocol ${p} is not supported (torch.save writes 2)`);
          break;
        }
        case 0x95: this.u64(); break; // FRAME: only a size hint
        case 0x2e: { // STOP
          const value = this.pop();
          if (s.length > 0 || this.marks.length > 0) this.fail('values left on the stack');
          return { value, end: this.pos };
        }
        case 0x28: this.marks.push(s.length); break; // MARK
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: s.push(this.top()); break; // DUP
        case 0x4e: s.push(null); break; // NONE
        case 0x88: s.push(true); break; // NEWTRUE
        case 0x89: s.push(false); break; // NEWFALSE
        case 0x4a: s.push(this.view.getInt32(this.take(4, 'a 4-byte int'), true)); break; // BININT
        case 0x4b: s.push(this.u8()); break; // BININT1
        case 0x4d: s.push(this.u16()); break; // BININT2
        case 0x8a: s.push(this.long(this.u8())); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.view.getInt32(this.take(4, 'a 4-byte length'), true);
          if (n < 0) this.fail('negative length');
          s.push(this.long(n));
          break;
        }
        case 0x47: s.push(this.view.getFloat64(this.take(8, 'an 8-byte float'), false)); break; // BINFLOAT
        case 0x58: s.push(this.text(this.u32())); break; // BINUNICODE
        case 0x8c: s.push(this.text(this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: s.push(this.text(this.u64())); break; // BINUNICODE8
        case 0x54: { // BINSTRING (Python 2 str)
          const n = this.view.getInt32(this.take(4, 'a 4-byte length'), true);
          if (n < 0) this.fail('negative length');
          s.push(latin1.decode(this.raw(n, `a ${n}-byte string`)));
          break;
        }
        case 0x55: { // SHORT_BINSTRING
          const n = this.u8();
          s.push(latin1.decode(this.raw(n, `a ${n}-byte string`)));
          break;
        }
        case 0x42: { const n = this.u32(); s.push(this.raw(n, `${n} bytes`).slice()); break; } // BINBYTES
        case 0x43: { const n = this.u8(); s.push(this.raw(n, `${n} bytes`).slice()); break; } // SHORT_BINBYTES
        case 0x8e: { const n = this.u64(); s.push(this.raw(n, `${n} bytes`).slice()); break; } // BINBYTES8
        case 0x7d: s.push(new PyDict()); break; // EMPTY_DICT
        case 0x5d: s.push([]); break; // EMPTY_LIST
        case 0x29: s.push(new PyTuple([])); break; // EMPTY_TUPLE
        case 0x74: s.push(new PyTuple(this.popMark())); break; // TUPLE
        case 0x85: { const a = this.pop(); s.push(new PyTuple([a])); break; } // TUPLE1
        case 0x86: { const b = this.pop(); const a = this.pop(); s.push(new PyTuple([a, b])); break; } // TUPLE2
        case 0x87: { const c = this.pop(); const b = this.pop(); const a = this.pop(); s.push(new PyTuple([a, b, c])); break; } // TUPLE3
        case 0x6c: s.push(this.popMark()); break; // LIST
        case 0x64: { const d = new PyDict(); this.setItems(d, this.popMark()); s.push(d); break; } // DICT
        case 0x61: { const x = this.pop(); this.append(this.top(), [x]); break; } // APPEND
        case 0x65: { const xs = this.popMark(); this.append(this.top(), xs); break; } // APPENDS
        case 0x73: { const v = this.pop(); const k = this.pop(); this.setItems(this.top(), [k, v]); break; } // SETITEM
        case 0x75: { const xs = this.popMark(); this.setItems(this.top(), xs); break; } // SETITEMS
        case 0x71: this.put(this.u8()); break; // BINPUT
        case 0x72: this.put(this.u32()); break; // LONG_BINPUT
        case 0x94: this.put(this.memo.size); break; // MEMOIZE
        case 0x68: this.get(this.u8()); break; // BINGET
        case 0x6a: this.get(this.u32()); break; // LONG_BINGET
        case 0x63: { // GLOBAL
          const module = this.line('a module name');
          s.push(this.global(module, this.line('a global name')));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('global names must be strings');
          s.push(this.global(module, name));
          break;
        }
        case 0x52: { const args = this.pop(); const fn = this.pop(); s.push(this.call(fn, args, 'REDUCE')); break; } // REDUCE
        case 0x81: { const args = this.pop(); const cls = this.pop(); s.push(this.call(cls, args, 'NEWOBJ')); break; } // NEWOBJ
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.top();
          if (!(obj instanceof PyDict)) this.fail(`cannot set state on ${describe(obj)}`);
          obj.state = state;
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          if (!this.opts.persistentLoad) this.fail('persistent ids are not expected here');
          s.push(this.opts.persistentLoad(pid));
          break;
        }
        default:
          this.fail('unsupported opcode: not part of a PyTorch state dict');
      }
    }
  }
}
