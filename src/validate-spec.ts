import { InvalidSpecError } from './errors.js';
import { setOwn } from './args.js';
import { validateBackoff } from './scheduler/backoff.js';
import { checkResources } from './validate-resources.js';
import { checkStdin, checkTty } from './validate-stdin.js';
import {
  frozenCopy,
  type BackoffSpec,
  type RetryableStatus,
  type StoredSpec,
  type TaskRecord,
  type TaskSpec,
} from './task.js';

/** A validated spec split into its persisted part and its in-memory-only part. */
export interface NormalizedSpec {
  stored: StoredSpec;
  backoffFn?: (attempt: number) => number;
  retryOnFn?: (record: TaskRecord) => boolean;
  signal?: AbortSignal;
  secretEnv?: Record<string, string>;
}

const SPEC_KEYS = new Set([
  'command', 'args', 'cwd', 'env', 'secretEnv', 'transport', 'priority', 'group', 'timeoutMs', 'graceMs', 'retry',
  'delayMs', 'detached', 'session', 'tags', 'metadata', 'idempotencyKey', 'maxOutputBytes', 'signal', 'orphans', 'lingerMs',
  'resources', 'timeoutFrom', 'stdin', 'tty',
]);
// `functions` is accepted (and recomputed) so that a stored spec can be submitted again as is.
const RETRY_KEYS = new Set(['attempts', 'backoff', 'retryOn', 'functions']);
const RETRYABLE = new Set<string>(['failed', 'timed_out', 'lost']);
// Linux refuses a single argv string longer than MAX_ARG_STRLEN (32 pages); fail early and clearly.
export const MAX_ARG_BYTES = 131_071;
// setTimeout fires at once for delays above 2^31-1 ms; longer task timeouts are refused.
export const MAX_TIMER_MS = 2_147_483_647;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(['BGEXEC_TASK_ID', 'BGEXEC_ATTEMPT']);
const MAX_LABEL = 256;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function checkString(field: string, v: unknown, opts: { maxBytes?: number; allowEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') throw new InvalidSpecError(field, `must be a string, got ${describe(v)}`);
  if (!opts.allowEmpty && v.length === 0) throw new InvalidSpecError(field, 'must not be empty');
  if (v.includes('\0')) throw new InvalidSpecError(field, 'must not contain NUL bytes');
  const max = opts.maxBytes ?? MAX_ARG_BYTES;
  if (v.length > max || Buffer.byteLength(v) > max) {
    throw new InvalidSpecError(field, `is longer than ${max} bytes`);
  }
  return v;
}

function checkNumber(field: string, v: unknown, opts: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean }): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InvalidSpecError(field, `must be a finite number, got ${describe(v)}`);
  }
  if (opts.integer && !Number.isInteger(v)) throw new InvalidSpecError(field, `must be an integer, got ${v}`);
  if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) {
    throw new InvalidSpecError(field, `must be ${opts.exclusiveMin ? '>' : '>='} ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && v > opts.max) throw new InvalidSpecError(field, `must be <= ${opts.max}, got ${v}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return String(v);
  return typeof v;
}

function checkStringList(field: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw new InvalidSpecError(field, `must be an array of strings, got ${describe(v)}`);
  return v.map((item, i) => checkString(`${field}[${i}]`, item, { allowEmpty: true }));
}

function checkEnv(v: unknown, field: 'env' | 'secretEnv' = 'env'): Record<string, string> {
  if (!isPlainObject(v)) throw new InvalidSpecError(field, `must be an object of strings, got ${describe(v)}`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(v)) {
    if (!ENV_NAME.test(key)) throw new InvalidSpecError(`${field}.${key}`, 'is not a valid variable name');
    if (RESERVED_ENV.has(key)) throw new InvalidSpecError(`${field}.${key}`, 'is reserved by bgexec');
    if (typeof value !== 'string') {
      // Never echo a secret value in an error message.
      throw new InvalidSpecError(`${field}.${key}`, `must be a string, got ${field === 'secretEnv' ? typeof value : describe(value)}`);
    }
    if (value.includes('\0')) throw new InvalidSpecError(`${field}.${key}`, 'must not contain NUL bytes');
    if (Buffer.byteLength(value) > MAX_ARG_BYTES) throw new InvalidSpecError(`${field}.${key}`, `is longer than ${MAX_ARG_BYTES} bytes`);
    setOwn(out, key, value);
  }
  return out;
}

function checkRetry(v: unknown, out: NormalizedSpec): StoredSpec['retry'] {
  if (!isPlainObject(v)) throw new InvalidSpecError('retry', `must be an object, got ${describe(v)}`);
  for (const key of Object.keys(v)) {
    if (!RETRY_KEYS.has(key)) throw new InvalidSpecError(`retry.${key}`, 'is not a known option');
  }
  const attempts = checkNumber('retry.attempts', v.attempts, { min: 1, max: 1000, integer: true });
  const retry: NonNullable<StoredSpec['retry']> = { attempts };
  if (v.backoff !== undefined) {
    if (typeof v.backoff === 'function') out.backoffFn = v.backoff as (attempt: number) => number;
    else {
      validateBackoff(v.backoff, 'retry.backoff');
      retry.backoff = { ...(v.backoff as Exclude<BackoffSpec, (a: number) => number>) };
    }
  }
  if (v.retryOn !== undefined) {
    if (typeof v.retryOn === 'function') out.retryOnFn = v.retryOn as (r: TaskRecord) => boolean;
    else {
      const list = checkStringList('retry.retryOn', v.retryOn);
      for (const s of list) {
        if (!RETRYABLE.has(s)) {
          throw new InvalidSpecError('retry.retryOn', `${JSON.stringify(s)} is not retryable (use failed, timed_out, lost)`);
        }
      }
      retry.retryOn = list as RetryableStatus[];
    }
  }
  const functions = [...(out.backoffFn ? ['backoff' as const] : []), ...(out.retryOnFn ? ['retryOn' as const] : [])];
  if (functions.length > 0) retry.functions = functions;
  return retry;
}

function checkMetadata(v: unknown): Record<string, unknown> {
  if (!isPlainObject(v)) throw new InvalidSpecError('metadata', `must be a plain object, got ${describe(v)}`);
  let json: string;
  try {
    json = JSON.stringify(v);
  } catch (err) {
    throw new InvalidSpecError('metadata', 'must be JSON-serializable', { cause: err });
  }
  if (json.length > 1_048_576) throw new InvalidSpecError('metadata', 'is larger than 1 MiB as JSON');
  return JSON.parse(json) as Record<string, unknown>;
}

/**
 * Validates a submitted spec (over the executor's defaults) and returns a frozen, JSON-safe copy.
 * Every problem is an `INVALID_SPEC` error naming the field.
 */
export function normalizeSpec(input: unknown, transports: ReadonlySet<string>, defaultTransport: string): NormalizedSpec {
  if (!isPlainObject(input)) throw new InvalidSpecError('spec', `must be an object, got ${describe(input)}`);
  for (const key of Object.keys(input)) {
    if (!SPEC_KEYS.has(key)) throw new InvalidSpecError(key, 'is not a known option');
  }
  const out: NormalizedSpec = { stored: { command: checkString('command', input.command) } };
  const s = out.stored as { -readonly [K in keyof StoredSpec]: StoredSpec[K] };
  if (input.command !== undefined && (input.command as string).trim() === '') {
    throw new InvalidSpecError('command', 'must not be blank');
  }
  if (input.args !== undefined) s.args = checkStringList('args', input.args);
  if (input.cwd !== undefined) s.cwd = checkString('cwd', input.cwd, { maxBytes: 4096 });
  if (input.env !== undefined) s.env = checkEnv(input.env);
  if (input.secretEnv !== undefined) {
    out.secretEnv = checkEnv(input.secretEnv, 'secretEnv');
    const keys = Object.keys(out.secretEnv);
    const clash = keys.find((k) => s.env?.[k] !== undefined);
    if (clash !== undefined) throw new InvalidSpecError(`secretEnv.${clash}`, 'is also set in env');
    if (keys.length > 0) s.secretEnvKeys = keys;
  }
  const transport = input.transport === undefined ? defaultTransport : checkString('transport', input.transport, { maxBytes: MAX_LABEL });
  if (!transports.has(transport)) {
    throw new InvalidSpecError('transport', `unknown transport ${JSON.stringify(transport)} (known: ${[...transports].join(', ')})`);
  }
  s.transport = transport;
  if (input.priority !== undefined) s.priority = checkNumber('priority', input.priority, {});
  if (input.group !== undefined) s.group = checkString('group', input.group, { maxBytes: MAX_LABEL });
  if (input.timeoutMs !== undefined) {
    s.timeoutMs = checkNumber('timeoutMs', input.timeoutMs, { min: 0, exclusiveMin: true, max: MAX_TIMER_MS });
  }
  if (input.timeoutFrom !== undefined) {
    if (input.timeoutFrom !== 'start' && input.timeoutFrom !== 'submit') {
      throw new InvalidSpecError('timeoutFrom', `must be 'start' or 'submit', got ${describe(input.timeoutFrom)}`);
    }
    s.timeoutFrom = input.timeoutFrom;
  }
  if (input.resources !== undefined) s.resources = checkResources(input.resources);
  if (input.graceMs !== undefined) s.graceMs = checkNumber('graceMs', input.graceMs, { min: 0, max: MAX_TIMER_MS });
  if (input.delayMs !== undefined) s.delayMs = checkNumber('delayMs', input.delayMs, { min: 0, max: MAX_TIMER_MS });
  if (input.retry !== undefined) s.retry = checkRetry(input.retry, out);
  if (input.detached !== undefined) {
    if (typeof input.detached !== 'boolean') throw new InvalidSpecError('detached', `must be a boolean, got ${describe(input.detached)}`);
    s.detached = input.detached;
  }
  if (input.orphans !== undefined) {
    if (input.orphans !== 'kill' && input.orphans !== 'keep') throw new InvalidSpecError('orphans', `must be 'kill' or 'keep', got ${describe(input.orphans)}`);
    s.orphans = input.orphans;
  }
  if (input.lingerMs !== undefined) s.lingerMs = checkNumber('lingerMs', input.lingerMs, { min: 0, max: MAX_TIMER_MS });
  if (input.session !== undefined) s.session = checkString('session', input.session, { maxBytes: MAX_LABEL });
  if (input.tags !== undefined) {
    s.tags = checkStringList('tags', input.tags);
    s.tags.forEach((t, i) => checkString(`tags[${i}]`, t, { maxBytes: MAX_LABEL }));
  }
  if (input.metadata !== undefined) s.metadata = checkMetadata(input.metadata);
  if (input.idempotencyKey !== undefined) {
    s.idempotencyKey = checkString('idempotencyKey', input.idempotencyKey, { maxBytes: MAX_LABEL });
  }
  if (input.maxOutputBytes !== undefined) {
    s.maxOutputBytes = checkNumber('maxOutputBytes', input.maxOutputBytes, { min: 1, integer: true, max: Number.MAX_SAFE_INTEGER });
  }
  if (input.stdin !== undefined) {
    const stdin = checkStdin(input.stdin);
    if (stdin !== undefined) s.stdin = stdin;
  }
  if (input.tty !== undefined) {
    const tty = checkTty(input.tty);
    if (tty !== undefined) s.tty = tty;
  }
  if (input.signal !== undefined) {
    if (!(input.signal instanceof AbortSignal)) throw new InvalidSpecError('signal', 'must be an AbortSignal');
    out.signal = input.signal;
  }
  // Copied by assignment onto a fresh literal, which holds four fields in the object itself: the
  // common spec (command, transport, priority) then needs no separate property array, for each
  // of the many specs a backlog keeps (frozenCopy explains why not a spread).
  out.stored = frozenCopy(out.stored);
  return out;
}

/** Merges executor defaults under a spec (spec fields win; `env` and `secretEnv` merge key by key). */
export function applyDefaults(spec: unknown, defaults: Partial<TaskSpec> | undefined): unknown {
  if (!defaults || !isPlainObject(spec)) return spec;
  const merged: Record<string, unknown> = { ...defaults, ...spec };
  if (defaults.env && isPlainObject(spec.env)) merged.env = { ...defaults.env, ...spec.env };
  if (defaults.secretEnv && isPlainObject(spec.secretEnv)) merged.secretEnv = { ...defaults.secretEnv, ...spec.secretEnv };
  return merged;
}
