import { InvalidSpecError } from './errors.js';
import type { StdinData, StoredSpec, TtySize } from './task.js';

/** Most bytes of input a spec may give up front (it is kept in the record and the store). */
export const MAX_STDIN_DATA_BYTES = 1_048_576;
/** Largest terminal side a `tty` spec may ask for. */
export const MAX_TTY_SIDE = 4096;

const DEFAULT_TTY: TtySize = { cols: 80, rows: 24 };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function sized(stored: Required<StdinData>, bytes: number): Required<StdinData> {
  if (bytes > MAX_STDIN_DATA_BYTES) {
    throw new InvalidSpecError('stdin', `input given up front is ${bytes} bytes, more than ${MAX_STDIN_DATA_BYTES}: use stdin 'pipe' and write() for more`);
  }
  return stored;
}

/**
 * `TaskSpec.stdin` → its stored form: undefined for `ignore`, `pipe`, or the input given up front
 * as text (`utf8`) or base64 bytes.
 */
export function checkStdin(v: unknown): StoredSpec['stdin'] {
  if (v === 'ignore') return undefined;
  if (v === 'pipe') return 'pipe';
  if (typeof v === 'string') return sized({ data: v, encoding: 'utf8' }, Buffer.byteLength(v));
  if (v instanceof Uint8Array) {
    const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return sized({ data: bytes.toString('base64'), encoding: 'base64' }, bytes.length);
  }
  if (isPlainObject(v)) {
    for (const key of Object.keys(v)) {
      if (key !== 'data' && key !== 'encoding') throw new InvalidSpecError(`stdin.${key}`, 'is not a known option');
    }
    if (typeof v.data !== 'string') throw new InvalidSpecError('stdin.data', 'must be a string');
    const encoding = v.encoding ?? 'utf8';
    if (encoding === 'utf8') return sized({ data: v.data, encoding }, Buffer.byteLength(v.data));
    if (encoding !== 'base64') throw new InvalidSpecError('stdin.encoding', "must be 'utf8' or 'base64'");
    // Buffer.from(…, 'base64') skips what is not base64; refuse it instead of feeding other bytes.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.data) || v.data.length % 4 !== 0) throw new InvalidSpecError('stdin.data', 'is not valid base64');
    return sized({ data: v.data, encoding }, Buffer.from(v.data, 'base64').length);
  }
  throw new InvalidSpecError('stdin', "must be 'ignore', 'pipe', a string, a Uint8Array or { data, encoding }");
}

function side(field: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TTY_SIDE) {
    throw new InvalidSpecError(field, `must be an integer from 1 to ${MAX_TTY_SIDE}`);
  }
  return v;
}

/** `TaskSpec.tty` → the terminal size, or undefined for no terminal. */
export function checkTty(v: unknown): TtySize | undefined {
  if (v === false) return undefined;
  if (v === true) return { ...DEFAULT_TTY };
  if (!isPlainObject(v)) throw new InvalidSpecError('tty', 'must be a boolean or { cols, rows }');
  for (const key of Object.keys(v)) {
    if (key !== 'cols' && key !== 'rows') throw new InvalidSpecError(`tty.${key}`, 'is not a known option');
  }
  return { cols: side('tty.cols', v.cols, DEFAULT_TTY.cols), rows: side('tty.rows', v.rows, DEFAULT_TTY.rows) };
}

/** The bytes of input given up front, from its stored form. */
export function stdinBytes(stored: Required<StdinData>): Buffer {
  return Buffer.from(stored.data, stored.encoding);
}
