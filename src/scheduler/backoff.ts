import { InvalidArgumentError, InvalidSpecError } from '../errors.js';
import type { BackoffSpec } from '../task.js';

/**
 * Longest delay {@link backoffDelay} returns (2^31 − 1 ms ≈ 24.8 days, the longest Node timer):
 * an uncapped exponential backoff saturates here instead of overflowing to `Infinity`.
 */
export const MAX_BACKOFF_MS = 2 ** 31 - 1;

const KEYS = {
  fixed: new Set(['type', 'delayMs', 'jitter']),
  exponential: new Set(['type', 'delayMs', 'maxDelayMs', 'jitter']),
} as const;

/**
 * Delay in ms before the attempt after `failedAttempt` (the 1-based attempt that just failed).
 *
 * - `undefined` → 0.
 * - `fixed` → `delayMs`.
 * - `exponential` → `delayMs * 2^(failedAttempt - 1)`, capped at `maxDelayMs` when given.
 * - `jitter` (a fraction in [0, 1]; `true` = 1, `false`/absent = 0): the delay `d` is drawn
 *   uniformly from `[d * (1 - jitter), d]` using `random` (a `Math.random`-like source).
 * - a function → its return value for `failedAttempt`; a non-finite or negative result becomes 0.
 *   Whatever the function throws propagates.
 *
 * The result is always in `[0, MAX_BACKOFF_MS]`. Throws `INVALID_ARGUMENT` when
 * `failedAttempt` is not an integer ≥ 1. The spec is assumed valid (see `validateBackoff`).
 */
export function backoffDelay(
  backoff: BackoffSpec | undefined,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) {
    throw new InvalidArgumentError('failedAttempt', `must be an integer ≥ 1, got ${String(failedAttempt)}`);
  }
  if (backoff === undefined) return 0;
  if (typeof backoff === 'function') {
    const ms = backoff(failedAttempt);
    return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_BACKOFF_MS) : 0;
  }
  let delay = backoff.delayMs;
  if (backoff.type === 'exponential') {
    delay *= 2 ** (failedAttempt - 1);
    if (backoff.maxDelayMs !== undefined) delay = Math.min(delay, backoff.maxDelayMs);
  }
  // Infinity (2^n overflow) saturates; NaN only comes from a spec that skipped validation.
  delay = delay > 0 ? Math.min(delay, MAX_BACKOFF_MS) : 0;
  const jitter = backoff.jitter === true ? 1 : typeof backoff.jitter === 'number' ? backoff.jitter : 0;
  // random() is in [0, 1), so the result stays in (d * (1 - jitter), d].
  if (jitter > 0) delay -= delay * jitter * random();
  return delay;
}

/**
 * Checks a backoff spec (as found at `field`, e.g. `retry.backoff`): a function, or an object
 * `{ type: 'fixed' | 'exponential', delayMs, maxDelayMs?, jitter? }` with `delayMs` a finite
 * number ≥ 0, `maxDelayMs` (exponential only) finite and ≥ `delayMs`, `jitter` a boolean or a
 * number in [0, 1], and no other keys. `undefined` passes. Throws `INVALID_SPEC` whose `field`
 * is the exact path of the offending value (e.g. `retry.backoff.delayMs`).
 */
export function validateBackoff(backoff: unknown, field: string): void {
  if (backoff === undefined || typeof backoff === 'function') return;
  if (backoff === null || typeof backoff !== 'object' || Array.isArray(backoff)) {
    throw new InvalidSpecError(field, 'must be a function or { type, delayMs, maxDelayMs?, jitter? }');
  }
  const spec = backoff as Record<string, unknown>;
  const type = spec['type'];
  if (type !== 'fixed' && type !== 'exponential') {
    throw new InvalidSpecError(`${field}.type`, `must be 'fixed' or 'exponential', got ${describe(type)}`);
  }
  for (const key of Object.keys(spec)) {
    if (!KEYS[type].has(key)) throw new InvalidSpecError(`${field}.${key}`, `unknown key for a ${type} backoff`);
  }
  const delayMs = spec['delayMs'];
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new InvalidSpecError(`${field}.delayMs`, `must be a finite number ≥ 0, got ${describe(delayMs)}`);
  }
  const maxDelayMs = spec['maxDelayMs'];
  if (maxDelayMs !== undefined) {
    if (typeof maxDelayMs !== 'number' || !Number.isFinite(maxDelayMs)) {
      throw new InvalidSpecError(`${field}.maxDelayMs`, `must be a finite number, got ${describe(maxDelayMs)}`);
    }
    if (maxDelayMs < delayMs) {
      throw new InvalidSpecError(`${field}.maxDelayMs`, `must be ≥ delayMs (${delayMs}), got ${maxDelayMs}`);
    }
  }
  const jitter = spec['jitter'];
  if (jitter !== undefined && typeof jitter !== 'boolean') {
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
      throw new InvalidSpecError(`${field}.jitter`, `must be a boolean or a number in [0, 1], got ${describe(jitter)}`);
    }
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
