import { InvalidArgumentError } from '../errors.js';
import { validateBackoff } from '../scheduler/backoff.js';
import { MAX_TIMER_MS } from '../validate-spec.js';
import { checkResources } from '../validate-resources.js';
import { checkStdin, checkTty } from '../validate-stdin.js';
import { RECORD_VERSION, TASK_STATUSES, TERMINAL_STATUSES, type TaskRecord } from '../task.js';

/** Task ids a durable store accepts: they become file names, so no dots and no separators. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** True when `id` may become a file name. */
export function isValidTaskId(id: unknown): id is string {
  return typeof id === 'string' && TASK_ID_PATTERN.test(id);
}

/** Throws `InvalidArgumentError` (field `id`) unless `id` matches {@link TASK_ID_PATTERN}. */
export function assertValidTaskId(id: unknown): asserts id is string {
  if (!isValidTaskId(id)) {
    const shown = typeof id === 'string' ? JSON.stringify(id.length > 140 ? `${id.slice(0, 140)}…` : id) : String(id);
    throw new InvalidArgumentError('id', `task id must match ${String(TASK_ID_PATTERN)}, got ${shown}`);
  }
}

const STATUSES = new Set<string>(TASK_STATUSES);
const TERMINAL = new Set<string>(TERMINAL_STATUSES);

type Obj = Record<string, unknown>;

// A stored stdin or tty reaches the transport: it must pass the same checks as at submit.
function validStdin(v: unknown): boolean {
  try {
    return v === 'pipe' || (isObject(v) && checkStdin(v) !== undefined && (v.encoding === 'utf8' || v.encoding === 'base64'));
  } catch {
    return false;
  }
}

function validTty(v: unknown): boolean {
  try {
    return isObject(v) && typeof v.cols === 'number' && typeof v.rows === 'number' && checkTty(v) !== undefined;
  } catch {
    return false;
  }
}

function validResources(v: unknown): boolean {
  try {
    checkResources(v);
    return true;
  } catch {
    return false;
  }
}

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
// Counts, sizes, times and orders: what the executor itself writes is always one of these.
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => isNum(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER;
// The ranges `submit` enforces: a record may not ask for more than the API could.
const inRange = (min: number, max: number) => (v: unknown): boolean => isNum(v) && v >= min && v <= max;

// Each check returns a reason for the first problem found, or undefined.
function optional(o: Obj, key: string, ok: (v: unknown) => boolean, what: string): string | undefined {
  return o[key] === undefined || ok(o[key]) ? undefined : `${key} must be ${what}`;
}

function checkSpec(spec: unknown): string | undefined {
  if (!isObject(spec)) return 'spec must be an object';
  if (typeof spec.command !== 'string') return 'spec.command must be a string';
  if (spec.args !== undefined && !(Array.isArray(spec.args) && spec.args.every((a) => typeof a === 'string'))) {
    return 'spec.args must be an array of strings';
  }
  const str = (v: unknown): boolean => typeof v === 'string';
  const reason =
    optional(spec, 'cwd', str, 'a string') ??
    optional(spec, 'transport', str, 'a string') ??
    optional(spec, 'group', str, 'a string') ??
    optional(spec, 'session', str, 'a string') ??
    optional(spec, 'idempotencyKey', str, 'a string') ??
    optional(spec, 'priority', isTime, 'a finite number') ??
    optional(spec, 'timeoutMs', (v) => inRange(0, MAX_TIMER_MS)(v) && v !== 0, `a number of ms above 0, at most ${MAX_TIMER_MS}`) ??
    optional(spec, 'graceMs', inRange(0, MAX_TIMER_MS), `a number of ms from 0 to ${MAX_TIMER_MS}`) ??
    optional(spec, 'delayMs', inRange(0, MAX_TIMER_MS), `a number of ms from 0 to ${MAX_TIMER_MS}`) ??
    optional(spec, 'maxOutputBytes', (v) => isCount(v) && v >= 1, 'a positive integer') ??
    optional(spec, 'detached', (v) => typeof v === 'boolean', 'a boolean') ??
    optional(spec, 'env', isObject, 'an object') ??
    optional(spec, 'metadata', isObject, 'an object') ??
    optional(spec, 'retry', (v) => isObject(v) && Number.isInteger(v.attempts) && inRange(1, 1000)(v.attempts), 'an object with attempts from 1 to 1000') ??
    optional(spec, 'tags', (v) => Array.isArray(v) && v.every(str), 'an array of strings') ??
    optional(spec, 'timeoutFrom', (v) => v === 'start' || v === 'submit', "'start' or 'submit'") ??
    // A stored resources list reaches sbatch: it must pass the same checks as at submit.
    optional(spec, 'resources', validResources, 'resources as submit accepts them') ??
    optional(spec, 'stdin', validStdin, "'pipe' or { data, encoding } of at most 1 MiB") ??
    optional(spec, 'tty', validTty, '{ cols, rows } from 1 to 4096');
  if (reason !== undefined) return `spec.${reason}`;
  const backoff = isObject(spec.retry) ? spec.retry.backoff : undefined;
  if (backoff !== undefined) {
    try {
      validateBackoff(backoff, 'spec.retry.backoff');
    } catch (err) {
      return err instanceof Error ? err.message : 'spec.retry.backoff is not valid';
    }
  }
  return undefined;
}

function checkAttempt(entry: unknown, i: number): string | undefined {
  const where = `history[${i}]`;
  if (!isObject(entry)) return `${where} must be an object`;
  if (!isCount(entry.attempt) || entry.attempt < 1 || !isTime(entry.startedAt) || !isTime(entry.endedAt)) {
    return `${where} needs an attempt ≥ 1 and numeric startedAt and endedAt`;
  }
  if (typeof entry.status !== 'string' || !TERMINAL.has(entry.status)) return `${where}.status must be a terminal status`;
  const reason =
    optional(entry, 'exitCode', (v) => v === null || isNum(v), 'a number or null') ??
    optional(entry, 'signal', (v) => v === null || typeof v === 'string', 'a string or null') ??
    optional(entry, 'reason', (v) => typeof v === 'string', 'a string');
  return reason === undefined ? undefined : `${where}.${reason}`;
}

/**
 * Checks that parsed JSON is a {@link TaskRecord} of the current {@link RECORD_VERSION}
 * (and, when given, that its id is `expectedId`). Returns why not, or `undefined` when valid.
 * Structure and types are checked; the state machine's history is not re-validated.
 */
export function recordProblem(value: unknown, expectedId?: string): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value.version !== RECORD_VERSION) return `version ${JSON.stringify(value.version)} is not ${RECORD_VERSION}`;
  if (!isValidTaskId(value.id)) return `id ${JSON.stringify(value.id)} is not a valid task id`;
  if (expectedId !== undefined && value.id !== expectedId) return `id ${JSON.stringify(value.id)} does not match the file name`;
  if (typeof value.status !== 'string' || !STATUSES.has(value.status)) return `status ${JSON.stringify(value.status)} is unknown`;
  for (const key of ['attempt', 'stdoutBytes', 'stderrBytes'] as const) {
    if (!isCount(value[key])) return `${key} must be an integer ≥ 0`;
  }
  for (const key of ['order', 'createdAt'] as const) {
    if (!isTime(value[key])) return `${key} must be a number within ±2^53`;
  }
  if (typeof value.acked !== 'boolean') return 'acked must be a boolean';
  const reason =
    checkSpec(value.spec) ??
    optional(value, 'runAt', isTime, 'a number within ±2^53') ??
    optional(value, 'startedAt', isTime, 'a number within ±2^53') ??
    optional(value, 'endedAt', isTime, 'a number within ±2^53') ??
    optional(value, 'exitCode', (v) => v === null || isNum(v), 'a number or null') ??
    optional(value, 'signal', (v) => v === null || typeof v === 'string', 'a string or null') ??
    optional(value, 'reason', (v) => typeof v === 'string', 'a string') ??
    optional(value, 'error', (v) => isObject(v) && typeof v.code === 'string' && typeof v.message === 'string', 'an error object') ??
    optional(value, 'handle', (v) => isObject(v) && typeof v.kind === 'string' && isNum(v.attempt), 'a transport handle');
  if (reason !== undefined) return reason;
  if (!Array.isArray(value.history)) return 'history must be an array';
  for (let i = 0; i < value.history.length; i++) {
    const bad = checkAttempt(value.history[i], i);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Narrows parsed JSON to a record, or throws `InvalidArgumentError` (field `record`) with the reason. */
export function assertValidRecord(value: unknown): asserts value is TaskRecord {
  const problem = recordProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError('record', problem);
}
