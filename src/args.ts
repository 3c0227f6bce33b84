/**
 * Argument checks shared by every public method of the executor (and the scheduler and output
 * readers): one place decides what a malformed argument is and how it is described, so a
 * hostile value (null, BigInt, a symbol, a circular object, an object without a prototype)
 * always ends as an `INVALID_ARGUMENT` error and never as a `TypeError` thrown while the
 * message was being built.
 *
 * @module
 */
import { BgexecError, InvalidArgumentError } from './errors.js';

const MAX_DESCRIBED_STRING = 60;

/**
 * A short, human-readable description of any value for an error message. Never throws: it
 * reads no property of the value that could be a getter or a Proxy trap beyond `Array.isArray`
 * and the type tag, and never calls the value's own `toString`.
 */
export function describeValue(value: unknown): string {
  try {
    switch (typeof value) {
      case 'undefined':
        return 'undefined';
      case 'string':
        return value.length > MAX_DESCRIBED_STRING ? `a string of ${value.length} characters` : JSON.stringify(value);
      case 'number':
      case 'boolean':
        return String(value);
      case 'bigint':
        return `a bigint (${value.toString().slice(0, 30)}n)`;
      case 'symbol':
        return 'a symbol';
      case 'function':
        return 'a function';
      default:
        if (value === null) return 'null';
        if (Array.isArray(value)) return 'an array';
        return 'an object';
    }
  } catch {
    // A revoked Proxy throws even from Array.isArray.
    return 'an unreadable value';
  }
}

/**
 * The message of a thrown value, for an error report. Never throws: user code (a listener, a
 * transport, a store, a callback) can throw anything, including `Object.create(null)` or a
 * Proxy whose traps throw, which `String()` and even `instanceof` fail on.
 */
export function errorMessage(err: unknown): string {
  try {
    if (err instanceof Error) {
      const message: unknown = err.message;
      return typeof message === 'string' ? message : describeValue(message);
    }
    if (typeof err === 'string') return err;
    if (typeof err === 'symbol' || typeof err === 'number' || typeof err === 'boolean' || err === null || err === undefined) return String(err);
  } catch {
    return 'an unreadable value';
  }
  return describeValue(err);
}

/** `value instanceof ctor`, false where the check itself throws (a Proxy's getPrototypeOf trap). */
export function isInstance<T>(value: unknown, ctor: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof ctor;
  } catch {
    return false;
  }
}

/**
 * An options argument: `undefined` means "no options" (an empty object); anything else must
 * be a non-array object (`null`, primitives and arrays are refused). Returns it as a record so
 * the caller can check its fields with the helpers below.
 */
export function optionsArg(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || isArray(value)) {
    throw new InvalidArgumentError(field, `must be an object or undefined, got ${describeValue(value)}`);
  }
  // Read once, into a plain copy: a getter or a Proxy trap that throws fails here, as an
  // INVALID_ARGUMENT naming the argument, and nothing later reads the caller's object again.
  const copy: Record<string, unknown> = {};
  try {
    for (const key in value) setOwn(copy, key, (value as Record<string, unknown>)[key]);
  } catch (err) {
    throw new InvalidArgumentError(field, `could not be read: ${errorMessage(err)}`);
  }
  return copy;
}

/** A string argument (an id, a group name); `optional` lets `undefined` through. */
export function stringArg(field: string, value: unknown, optional: true): string | undefined;
export function stringArg(field: string, value: unknown, optional?: false): string;
export function stringArg(field: string, value: unknown, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(field, `must be a string, got ${describeValue(value)}`);
  return value;
}

/** An array of strings (or, with `single`, also one string, returned as a one-item array). */
export function stringListArg(field: string, value: unknown, single = false): string[] {
  if (single && typeof value === 'string') return [value];
  if (!isArray(value)) {
    throw new InvalidArgumentError(field, `must be ${single ? 'a string or ' : ''}an array of strings, got ${describeValue(value)}`);
  }
  const out: string[] = [];
  const list = value as unknown[];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (typeof item !== 'string') throw new InvalidArgumentError(`${field}[${i}]`, `must be a string, got ${describeValue(item)}`);
    out.push(item);
  }
  return out;
}

/** A number of milliseconds in `[0, max]`, or `undefined`. */
export function msArg(field: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(field, `must be a number of ms in [0, ${max}], got ${describeValue(value)}`);
  }
  return value;
}

/** A safe integer ≥ `min` (or `Infinity` when `allowInfinity`), or `undefined`. */
export function intArg(field: string, value: unknown, min: number, allowInfinity = false): number | undefined {
  if (value === undefined) return undefined;
  if (allowInfinity && value === Infinity) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(field, `must be an integer >= ${min}, got ${describeValue(value)}`);
  }
  return value;
}

/** One of a fixed set of strings, or `undefined`. */
export function oneOfArg<T extends string>(field: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(field, `must be one of ${allowed.join(', ')}, got ${describeValue(value)}`);
  }
  return value as T;
}

/** An `AbortSignal`, or `undefined`. */
export function signalArg(field: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw new InvalidArgumentError(field, `must be an AbortSignal, got ${describeValue(value)}`);
  return value;
}

function isArray(value: unknown): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}

/**
 * Sets `key` as an ordinary own property. Keys that come from parsed JSON (an env map, a
 * model's tool call) may be `"__proto__"`: a plain assignment would replace the prototype, or
 * drop a string value silently.
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Runs `read` (which checks arguments) and turns anything it throws that is not a bgexec error
 * into `INVALID_ARGUMENT` for `field` (or what `refuse` makes): a caller's getter or Proxy trap
 * that throws is bad input.
 */
export function readArgs<T>(field: string, read: () => T, refuse: (field: string, message: string) => Error = (f, m) => new InvalidArgumentError(f, m)): T {
  try {
    return read();
  } catch (err) {
    if (isInstance(err, BgexecError)) throw err;
    throw refuse(field, `could not be read: ${errorMessage(err)}`);
  }
}
