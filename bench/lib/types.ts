// Shapes shared by every benchmark, the runner and the smoke test.

/** How a benchmark is run. */
export interface BenchOptions {
  /** Tiny sizes and one repetition: for the smoke test and `npm run bench -- --quick`. */
  quick: boolean;
  /** Repetitions per variant (≥ 1); default: the benchmark's own (1 when quick). Medians are reported. */
  reps?: number;
  /** Progress lines (to stderr in the runner, nowhere in the smoke test). */
  log: (line: string) => void;
}

/**
 * What a row's pass/fail is decided on: the measured `value`, the `ratio` (value / baseline),
 * or the `delta` (value − baseline).
 */
export interface Target {
  on: 'value' | 'ratio' | 'delta';
  op: '>=' | '<=';
  threshold: number;
}

export type RowStatus = 'pass' | 'fail' | 'info' | 'skipped' | 'error';

/** One line of the results table. `ratio` is always value / baseline. */
export interface Row {
  /** Stable key, e.g. `throughput.memory`. */
  id: string;
  /** Row number of the benchmark in docs/performance.md (1–6). */
  issueRow: number;
  name: string;
  /** What `value` and `baseline` measure, with their unit (e.g. `tasks/s`, `ms`). */
  metric: string;
  /** Median over repetitions. */
  value: number | null;
  /** Median of the baseline, measured in the same run. */
  baseline: number | null;
  /** What the baseline is. */
  baselineName: string;
  ratio: number | null;
  target: Target | null;
  pass: boolean | null;
  status: RowStatus;
  /** Extra figures worth a glance (µs/task, p99, bytes per task, …). */
  note?: string;
  /** Per-repetition measurements behind the medians. */
  samples?: { value: number[]; baseline: number[] };
}

/** Output of one benchmark module. */
export interface BenchResult {
  id: string;
  title: string;
  rows: Row[];
  /** Work actually done (tasks completed, bytes read, records recovered, …), summed over runs. */
  counts: Record<string, number>;
  /** Anything else measured, for results.json. */
  details: Record<string, unknown>;
  elapsedMs: number;
  /** 1-minute load average before and after: this machine is shared, so note how busy it was. */
  load: { before: number; after: number };
}

/** Repetitions to run: 1 when quick, else `options.reps` or the benchmark's default. */
export function repsOf(options: BenchOptions, fallback: number): number {
  if (options.quick) return 1;
  const reps = options.reps ?? fallback;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`reps must be an integer >= 1, got ${String(reps)}`);
  return reps;
}

/**
 * Whether to run repetition `rep` (0-based): always below `min(3, reps)`, then only while the
 * benchmark has used less than `budgetMs`, so a busy machine still finishes `npm run bench` in time.
 */
export function keepGoing(rep: number, reps: number, startedAt: number, budgetMs: number): boolean {
  if (rep >= reps) return false;
  return rep < Math.min(3, reps) || performance.now() - startedAt < budgetMs;
}

/** A benchmark module's entry point. */
export type BenchFn = (options: BenchOptions) => Promise<BenchResult>;

/** Builds a row: computes ratio, pass and status from value, baseline and target. */
export function makeRow(input: Omit<Row, 'ratio' | 'pass' | 'status'>): Row {
  const { value, baseline, target } = input;
  const ratio = value !== null && baseline !== null && baseline !== 0 ? value / baseline : null;
  let pass: boolean | null = null;
  if (target && value !== null) {
    const subject = target.on === 'value' ? value : target.on === 'ratio' ? ratio : baseline === null ? null : value - baseline;
    if (subject !== null) pass = target.op === '>=' ? subject >= target.threshold : subject <= target.threshold;
  }
  const status: RowStatus = target === null ? 'info' : pass === null ? 'error' : pass ? 'pass' : 'fail';
  return { ...input, ratio, pass, status };
}

/** Describes a target for the table: `≥ 0.90×`, `≤ 1 ms Δ`, `≤ 1024`. */
export function describeTarget(target: Target | null): string {
  if (!target) return '';
  const op = target.op === '>=' ? '≥' : '≤';
  if (target.on === 'ratio') return `${op} ${target.threshold}×`;
  if (target.on === 'delta') return `Δ ${op} ${target.threshold}`;
  return `${op} ${target.threshold}`;
}
