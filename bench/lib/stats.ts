// Small statistics helpers: medians over repetitions, percentiles over samples.

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Percentile `p` (0–100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** Rounds to `digits` significant decimals for display and JSON (keeps integers intact). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value;
  const abs = Math.abs(value);
  const decimals = abs >= 100 ? 1 : abs >= 1 ? digits - 1 : digits + 1;
  return Number(value.toFixed(decimals));
}

// One seeded PRNG for benchmarks and tests, so both sides of a comparison get the same input.
export { seededRandom } from '../../test/_prng.js';

/** Runs `fn` and returns its result with the elapsed milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const t0 = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - t0 };
}
