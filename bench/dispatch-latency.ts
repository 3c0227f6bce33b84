// Benchmark row 3 of docs/performance.md: dispatch latency of an idle executor (concurrency 8, memory store): time from
// submit() to the `task:started` event, against the raw spawn time of the same command (spawn()
// call → the child's `spawn` event). Samples alternate raw, bgexec, bgexec-on-tmpfs, raw, …, and
// each task is waited for before the next submission, so the executors are idle every time.
// The tmpfs executor (run directories under /dev/shm, diagnostic) shows how much of the
// overhead is the disk's file-creation latency rather than the library's work.
import { BackgroundExecutor, LocalTransport, PriorityScheduler } from '../src/index.js';
import { median, percentile } from './lib/stats.js';
import { load1, makeTempDir, removeDir, tmpfsBase } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf, type Row } from './lib/types.js';
import { assertAllCompleted, finishedCounts, timeSpawn } from './lib/workloads.js';

const COMMAND = 'true';
const BUDGET_MS = 45_000;

type Series = 'raw' | 'bg' | 'tmpfs';

/** An idle executor and the time each of its tasks started. */
class Probe {
  readonly ex: BackgroundExecutor;
  readonly #startedAt = new Map<string, number>();

  constructor(root?: string) {
    this.ex = new BackgroundExecutor({
      scheduler: new PriorityScheduler({ concurrency: 8 }),
      ...(root !== undefined ? { transports: { local: new LocalTransport({ root }) } } : {}),
    });
    this.ex.on('task:started', (e) => {
      this.#startedAt.set(e.taskId, performance.now());
    });
  }

  /** submit() → task:started, in ms; waits for the task to end before returning. */
  async sample(): Promise<number> {
    const t0 = performance.now();
    const rec = await this.ex.submit({ command: COMMAND });
    await this.ex.wait(rec.id);
    const t1 = this.#startedAt.get(rec.id);
    if (t1 === undefined) throw new Error(`no task:started event for ${rec.id}`);
    this.#startedAt.delete(rec.id);
    return t1 - t0;
  }

  async close(expected: number): Promise<number> {
    const { completed } = finishedCounts(this.ex);
    await this.ex.cleanup();
    await this.ex.shutdown();
    assertAllCompleted('dispatch latency', completed, expected);
    return completed;
  }
}

async function runRep(samples: number, warmup: number): Promise<{ series: Record<Series, number[]>; completed: number }> {
  const base = tmpfsBase();
  const tmpRoot = base === undefined ? undefined : makeTempDir('latency', base);
  const bg = new Probe();
  const tmpfs = tmpRoot === undefined ? undefined : new Probe(tmpRoot);
  const series: Record<Series, number[]> = { raw: [], bg: [], tmpfs: [] };
  let completed = 0;
  try {
    await bg.ex.start();
    await tmpfs?.ex.start();
    for (let i = 0; i < warmup + samples; i++) {
      const raw = await timeSpawn(COMMAND);
      const b = await bg.sample();
      const t = await tmpfs?.sample();
      if (i < warmup) continue;
      series.raw.push(raw);
      series.bg.push(b);
      if (t !== undefined) series.tmpfs.push(t);
    }
  } finally {
    completed += await bg.close(warmup + samples);
    if (tmpfs) completed += await tmpfs.close(warmup + samples);
    if (tmpRoot !== undefined) await removeDir(tmpRoot);
  }
  return { series, completed };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const samples = options.quick ? 10 : 300;
  const reps = repsOf(options, 5);
  const warmup = options.quick ? 2 : 20;
  const p50: Record<Series, number[]> = { raw: [], bg: [], tmpfs: [] };
  const p99: Record<Series, number[]> = { raw: [], bg: [], tmpfs: [] };
  let completed = 0;
  for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
    const r = await runRep(samples, warmup);
    completed += r.completed;
    for (const s of ['raw', 'bg', 'tmpfs'] as const) {
      if (r.series[s].length === 0) continue;
      p50[s].push(percentile(r.series[s], 50));
      p99[s].push(percentile(r.series[s], 99));
    }
    const f = (s: Series): string => (p50[s].length > 0 ? `${p50[s].at(-1)!.toFixed(3)}/${p99[s].at(-1)!.toFixed(3)}` : '–');
    options.log(`latency rep ${rep + 1}/${reps} p50/p99 ms: submit→started ${f('bg')}, on tmpfs ${f('tmpfs')}, raw spawn ${f('raw')}`);
  }
  const row = (id: string, name: string, s: Series, p: Record<Series, number[]>, delta: number | null): Row =>
    makeRow({
      id,
      issueRow: 3,
      name,
      metric: 'ms',
      value: median(p[s]),
      baseline: median(p.raw),
      baselineName: 'raw spawn',
      target: delta === null ? null : { on: 'delta', op: '<=', threshold: delta },
      note: `overhead ${(median(p[s]) - median(p.raw)).toFixed(3)} ms`,
      samples: { value: p[s], baseline: p.raw },
    });
  const rows = [
    row('latency.p50', 'dispatch latency p50, submit→started', 'bg', p50, 0.5),
    row('latency.p99', 'dispatch latency p99, submit→started', 'bg', p99, null),
  ];
  if (p50.tmpfs.length > 0) rows.push(row('latency.p50.tmpfs', 'dispatch latency p50, run dirs on tmpfs (diag.)', 'tmpfs', p50, null));
  return {
    id: 'latency',
    title: 'Dispatch latency',
    rows,
    counts: { completed, samples: samples * p50.raw.length },
    details: { samples, reps: p50.raw.length, warmup, p50, p99 },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
