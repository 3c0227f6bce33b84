import { InvalidArgumentError } from '../../errors.js';

/** Pattern every task id (and any other id that enters a path or a script) must match. */
export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

/** True when `value` is a non-empty id made only of `A-Z a-z 0-9 _ -`. */
export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * Throws {@link InvalidArgumentError} unless `value` is a valid id (see {@link ID_PATTERN}).
 * @param field - name reported in the error.
 */
export function assertValidId(value: unknown, field = 'id'): asserts value is string {
  if (!isValidId(value)) {
    throw new InvalidArgumentError(field, `must match ${String(ID_PATTERN)}, got ${JSON.stringify(value)}`);
  }
}

/** True for a positive safe integer (attempt numbers are 1-based). */
export function isValidAttempt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/**
 * Throws {@link InvalidArgumentError} when `value` contains a NUL byte, which no argv entry,
 * environment value or shell literal can carry.
 */
export function assertNoNul(value: string, field = 'value'): void {
  if (value.includes('\0')) throw new InvalidArgumentError(field, 'must not contain a NUL byte');
}

/**
 * Quotes `value` as one POSIX shell word: wrapped in single quotes, each `'` written as
 * `'\''`. Inside single quotes no character is special, so `$`, backticks, backslashes,
 * newlines and leading dashes all stay literal. Rejects NUL bytes.
 */
export function shQuote(value: string, field = 'value'): string {
  assertNoNul(value, field);
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Quotes every value with {@link shQuote} and joins them with spaces. */
export function shQuoteAll(values: readonly string[], field = 'value'): string {
  return values.map((v) => shQuote(v, field)).join(' ');
}

/**
 * Checks the values of a launch for what a process cannot receive or a run directory cannot
 * be named after: a task id outside {@link ID_PATTERN}, an attempt that is not a positive
 * integer, NUL bytes anywhere, environment names that are empty or contain `=`.
 * Returns a message describing the first problem, or undefined when all is well.
 */
export function findLaunchProblem(req: {
  taskId: unknown;
  attempt: unknown;
  command: string;
  args?: readonly string[] | undefined;
  env?: Readonly<Record<string, string>> | undefined;
}): string | undefined {
  if (!isValidId(req.taskId)) return `invalid task id ${JSON.stringify(req.taskId)}`;
  if (!isValidAttempt(req.attempt)) return `invalid attempt ${String(req.attempt)}`;
  if (typeof req.command !== 'string' || req.command.length === 0) return 'command is empty';
  if (req.command.includes('\0')) return 'command contains a NUL byte';
  for (const [i, a] of (req.args ?? []).entries()) {
    if (typeof a !== 'string') return `args[${i}] is not a string`;
    if (a.includes('\0')) return `args[${i}] contains a NUL byte`;
  }
  for (const [k, v] of Object.entries(req.env ?? {})) {
    if (k.length === 0 || k.includes('=') || k.includes('\0')) return `env name ${JSON.stringify(k)} is invalid`;
    if (typeof v !== 'string') return `env ${k} is not a string`;
    if (v.includes('\0')) return `env ${k} contains a NUL byte`;
  }
  return undefined;
}
