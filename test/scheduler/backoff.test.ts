import { describe, it, expect } from 'vitest';
import { BgexecError } from '../../src/errors.js';
import { MAX_BACKOFF_MS, backoffDelay, validateBackoff } from '../../src/scheduler/backoff.js';
import type { BackoffSpec } from '../../src/task.js';

const never = (): number => {
  throw new Error('random must not be called without jitter');
};

function fieldOf(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BgexecError);
    return { code: (err as BgexecError).code, field: (err as BgexecError).field };
  }
  throw new Error('expected a throw');
}

describe('backoffDelay', () => {
  it('is 0 without a backoff', () => {
    expect(backoffDelay(undefined, 1, never)).toBe(0);
    expect(backoffDelay(undefined, 9, never)).toBe(0);
  });

  it('fixed returns delayMs for every attempt', () => {
    const spec: BackoffSpec = { type: 'fixed', delayMs: 250 };
    expect([1, 2, 3, 10].map((a) => backoffDelay(spec, a, never))).toEqual([250, 250, 250, 250]);
  });

  it('exponential doubles from delayMs', () => {
    const spec: BackoffSpec = { type: 'exponential', delayMs: 100 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(spec, a, never))).toEqual([100, 200, 400, 800, 1600]);
  });

  it('exponential is capped by maxDelayMs', () => {
    const spec: BackoffSpec = { type: 'exponential', delayMs: 100, maxDelayMs: 500 };
    expect([1, 2, 3, 4, 50].map((a) => backoffDelay(spec, a, never))).toEqual([100, 200, 400, 500, 500]);
  });

  it('an uncapped exponential saturates at MAX_BACKOFF_MS instead of overflowing', () => {
    const spec: BackoffSpec = { type: 'exponential', delayMs: 1000 };
    expect(backoffDelay(spec, 40, never)).toBe(MAX_BACKOFF_MS);
    expect(backoffDelay(spec, 5000, never)).toBe(MAX_BACKOFF_MS);
    expect(MAX_BACKOFF_MS).toBe(2147483647);
  });

  it('jitter draws from [d * (1 - jitter), d]', () => {
    const spec: BackoffSpec = { type: 'fixed', delayMs: 1000, jitter: 0.25 };
    expect(backoffDelay(spec, 1, () => 0)).toBe(1000);
    expect(backoffDelay(spec, 1, () => 0.5)).toBe(875);
    expect(backoffDelay(spec, 1, () => 0.999999)).toBeCloseTo(750, 3);
  });

  it('jitter applies after the exponential cap', () => {
    const spec: BackoffSpec = { type: 'exponential', delayMs: 100, maxDelayMs: 300, jitter: 0.5 };
    expect(backoffDelay(spec, 3, () => 0.5)).toBe(225); // min(400, 300) * (1 - 0.5 * 0.5)
  });

  it('jitter: true is full jitter, false and 0 are none', () => {
    expect(backoffDelay({ type: 'fixed', delayMs: 400, jitter: true }, 1, () => 0.25)).toBe(300);
    expect(backoffDelay({ type: 'fixed', delayMs: 400, jitter: true }, 1, () => 0.75)).toBe(100);
    expect(backoffDelay({ type: 'fixed', delayMs: 400, jitter: false }, 1, never)).toBe(400);
    expect(backoffDelay({ type: 'fixed', delayMs: 400, jitter: 0 }, 1, never)).toBe(400);
  });

  it('jittered delays stay in range with Math.random', () => {
    const spec: BackoffSpec = { type: 'exponential', delayMs: 100, jitter: 0.3 };
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(spec, 3);
      expect(d).toBeGreaterThan(280);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('a function gets the failed attempt and its result is clamped to ≥ 0', () => {
    const seen: number[] = [];
    const fn = (attempt: number): number => {
      seen.push(attempt);
      return attempt * 7;
    };
    expect(backoffDelay(fn, 3, never)).toBe(21);
    expect(seen).toEqual([3]);
    expect(backoffDelay(() => -5, 1, never)).toBe(0);
    expect(backoffDelay(() => NaN, 1, never)).toBe(0);
    expect(backoffDelay(() => Infinity, 1, never)).toBe(0);
    expect(backoffDelay(() => -Infinity, 1, never)).toBe(0);
    expect(backoffDelay(() => 12.5, 1, never)).toBe(12.5);
  });

  it('rejects a failedAttempt that is not an integer ≥ 1', () => {
    for (const bad of [0, -1, 1.5, NaN]) {
      expect(fieldOf(() => backoffDelay({ type: 'fixed', delayMs: 1 }, bad))).toEqual({
        code: 'INVALID_ARGUMENT',
        field: 'failedAttempt',
      });
    }
  });
});

describe('validateBackoff', () => {
  it('accepts undefined, functions and well-formed specs', () => {
    const good: unknown[] = [
      undefined,
      (a: number) => a,
      { type: 'fixed', delayMs: 0 },
      { type: 'fixed', delayMs: 10, jitter: true },
      { type: 'fixed', delayMs: 10, jitter: 0.5 },
      { type: 'exponential', delayMs: 10, maxDelayMs: 10 },
      { type: 'exponential', delayMs: 10, maxDelayMs: 1000, jitter: 1 },
      { type: 'exponential', delayMs: 10, jitter: false },
    ];
    for (const spec of good) expect(() => validateBackoff(spec, 'retry.backoff')).not.toThrow();
  });

  it.each([
    [null, 'retry.backoff'],
    [5, 'retry.backoff'],
    ['fixed', 'retry.backoff'],
    [[], 'retry.backoff'],
    [{ delayMs: 10 }, 'retry.backoff.type'],
    [{ type: 'linear', delayMs: 10 }, 'retry.backoff.type'],
    [{ type: 'fixed' }, 'retry.backoff.delayMs'],
    [{ type: 'fixed', delayMs: -1 }, 'retry.backoff.delayMs'],
    [{ type: 'fixed', delayMs: NaN }, 'retry.backoff.delayMs'],
    [{ type: 'fixed', delayMs: Infinity }, 'retry.backoff.delayMs'],
    [{ type: 'fixed', delayMs: '10' }, 'retry.backoff.delayMs'],
    [{ type: 'exponential', delayMs: 100, maxDelayMs: 50 }, 'retry.backoff.maxDelayMs'],
    [{ type: 'exponential', delayMs: 100, maxDelayMs: Infinity }, 'retry.backoff.maxDelayMs'],
    [{ type: 'exponential', delayMs: 100, maxDelayMs: NaN }, 'retry.backoff.maxDelayMs'],
    [{ type: 'fixed', delayMs: 100, maxDelayMs: 200 }, 'retry.backoff.maxDelayMs'],
    [{ type: 'fixed', delayMs: 10, jitter: 1.5 }, 'retry.backoff.jitter'],
    [{ type: 'fixed', delayMs: 10, jitter: -0.1 }, 'retry.backoff.jitter'],
    [{ type: 'fixed', delayMs: 10, jitter: NaN }, 'retry.backoff.jitter'],
    [{ type: 'fixed', delayMs: 10, jitter: 'yes' }, 'retry.backoff.jitter'],
    [{ type: 'fixed', delayMs: 10, delay: 5 }, 'retry.backoff.delay'],
  ])('rejects %o at %s', (spec, field) => {
    expect(fieldOf(() => validateBackoff(spec, 'retry.backoff'))).toEqual({ code: 'INVALID_SPEC', field });
  });

  it('uses the caller-given field prefix', () => {
    expect(fieldOf(() => validateBackoff({ type: 'fixed', delayMs: -1 }, 'defaults.retry.backoff'))).toEqual({
      code: 'INVALID_SPEC',
      field: 'defaults.retry.backoff.delayMs',
    });
  });
});
