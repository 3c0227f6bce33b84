// Benchmark row 2 of docs/performance.md: scheduler overhead. N tasks that finish on the next macrotask, through the
// executor (FakeTransport, MemoryStore, concurrency 100) against p-queue running functions that
// resolve on the next macrotask too, with random priorities and FIFO (all priority 0). Each run
// first queues everything (executor paused / p-queue not started), measures the heap per queued
// task, then drains. A diagnostic variant swaps FakeTransport for a lean transport, to show how
// much of the cost is the fake's own bookkeeping.
import PQueue from 'p-queue';
import { BackgroundExecutor, PriorityScheduler, type Transport } from '../src/index.js';
import { FakeTransport } from '../src/testing/index.js';
import { hasGc, heapUsedAfterGc, MemorySampler, MiB } from './lib/memory.js';
import { median, seededRandom } from './lib/stats.js';
import { load1, startCpuSpan } from './lib/system.js';
import { LeanTransport, runFakeAlone } from './lib/transports.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf, type Row } from './lib/types.js';
import { assertAllCompleted, finishedCounts, submitAll } from './lib/workloads.js';

const BUDGET_MS = 120_000;
const CONCURRENCY = 100;

interface Run {
  /** Queueing + draining, per task. */
  usPerTask: number;
  submitUs: number;
  drainUs: number;
  /** Heap growth after queueing everything, per task (after a GC when --expose-gc). */
  heapPerTask: number;
  /** Peak heapUsed above the starting point, over the whole run. */
  peakHeapMiB: number;
  /** Main-thread CPU per task over both phases (steadier than wall time on a shared machine). */
  mainCpuUs: number | null;
  completed: number;
}

type Variant = 'bg-random' | 'pq-random' | 'bg-fifo' | 'pq-fifo' | 'lean-random';

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function measure(n: number, queueAll: () => Promise<void>, drain: () => Promise<number>): Promise<Run> {
  const heap0 = heapUsedAfterGc();
  const peak = new MemorySampler('heapUsed');
  peak.start();
  const cpuQueue = startCpuSpan();
  const t0 = performance.now();
  await queueAll();
  const t1 = performance.now();
  const queueCpu = cpuQueue().mainCpuMs;
  const heap1 = heapUsedAfterGc();
  const cpuDrain = startCpuSpan();
  const t2 = performance.now();
  const completed = await drain();
  const t3 = performance.now();
  const drainCpu = cpuDrain().mainCpuMs;
  const seen = peak.stop();
  return {
    usPerTask: ((t1 - t0 + (t3 - t2)) * 1000) / n,
    submitUs: ((t1 - t0) * 1000) / n,
    drainUs: ((t3 - t2) * 1000) / n,
    heapPerTask: (heap1 - heap0) / n,
    peakHeapMiB: (seen.peak - heap0) / MiB,
    mainCpuUs: queueCpu === null || drainCpu === null ? null : ((queueCpu + drainCpu) * 1000) / n,
    completed,
  };
}

async function runExecutor(transport: Transport, priorities: readonly number[] | undefined, n: number): Promise<Run> {
  const ex = new BackgroundExecutor({
    transports: { local: transport },
    scheduler: new PriorityScheduler({ concurrency: CONCURRENCY }),
  });
  await ex.start();
  ex.pause();
  try {
    return await measure(
      n,
      () => submitAll(ex, n, (i) => ({ command: 'true', priority: priorities?.[i] ?? 0 })),
      async () => {
        ex.resume();
        await ex.onIdle();
        return finishedCounts(ex).completed;
      },
    );
  } finally {
    await ex.shutdown();
  }
}

async function runPQueue(priorities: readonly number[] | undefined, n: number): Promise<Run> {
  const queue = new PQueue({ concurrency: CONCURRENCY, autoStart: false });
  let completed = 0;
  const task = async (): Promise<void> => {
    await nextMacrotask();
    completed++;
  };
  return measure(
    n,
    async () => {
      for (let i = 0; i < n; i++) void queue.add(task, { priority: priorities?.[i] ?? 0 });
    },
    async () => {
      queue.start();
      await queue.onIdle();
      return completed;
    },
  );
}

function runVariant(v: Variant, priorities: readonly number[], n: number): Promise<Run> {
  switch (v) {
    case 'bg-random':
      return runExecutor(new FakeTransport(), priorities, n);
    case 'bg-fifo':
      return runExecutor(new FakeTransport(), undefined, n);
    case 'lean-random':
      return runExecutor(new LeanTransport(), priorities, n);
    case 'pq-random':
      return runPQueue(priorities, n);
    case 'pq-fifo':
      return runPQueue(undefined, n);
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const n = options.quick ? 2000 : 100_000;
  const reps = repsOf(options, 3);
  const random = seededRandom(6);
  const priorities = Array.from({ length: n }, () => Math.floor(random() * 1000));
  const variants: Variant[] = ['bg-random', 'pq-random', 'bg-fifo', 'pq-fifo', 'lean-random'];
  const runs = Object.fromEntries(variants.map((v) => [v, [] as Run[]])) as Record<Variant, Run[]>;
  const counts: Record<string, number> = {};

  if (!options.quick) for (const v of variants) await runVariant(v, priorities, 2000); // warm-up
  for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
    for (const v of variants) {
      const r = await runVariant(v, priorities, n);
      assertAllCompleted(`scheduler ${v}`, r.completed, n);
      runs[v].push(r);
      counts[v] = (counts[v] ?? 0) + r.completed;
      options.log(
        `scheduler rep ${rep + 1}/${reps} ${v.padEnd(11)} ${r.usPerTask.toFixed(2)} µs/task ` +
          `(queue ${r.submitUs.toFixed(2)} + drain ${r.drainUs.toFixed(2)}; main-thread CPU ${r.mainCpuUs?.toFixed(2) ?? '?'}), ` +
          `${r.heapPerTask.toFixed(0)} B/queued task`,
      );
    }
  }
  const fakeAlone = await runFakeAlone(n, CONCURRENCY);
  counts['fakeAlone'] = fakeAlone.completed;

  type NumberKey = 'usPerTask' | 'submitUs' | 'drainUs' | 'heapPerTask' | 'peakHeapMiB';
  const med = (v: Variant, key: NumberKey): number => median(runs[v].map((r) => r[key]));
  const cpu = (v: Variant): string => {
    const list = runs[v].map((r) => r.mainCpuUs).filter((x): x is number => x !== null);
    return list.length > 0 ? median(list).toFixed(1) : '?';
  };
  const perSecond = (v: Variant): number[] => runs[v].map((r) => 1e6 / r.usPerTask);
  const speedRow = (id: string, name: string, v: Variant, base: Variant, threshold: number | null): Row =>
    makeRow({
      id,
      issueRow: 2,
      name,
      metric: 'tasks/s',
      value: median(perSecond(v)),
      baseline: median(perSecond(base)),
      baselineName: 'p-queue',
      target: threshold === null ? null : { on: 'ratio', op: '>=', threshold },
      note:
        `µs/task ${med(v, 'usPerTask').toFixed(1)} vs ${med(base, 'usPerTask').toFixed(1)} ` +
        `(CPU ${cpu(v)} vs ${cpu(base)}); peak heap +${med(v, 'peakHeapMiB').toFixed(0)} vs +${med(base, 'peakHeapMiB').toFixed(0)} MiB`,
      samples: { value: perSecond(v), baseline: perSecond(base) },
    });
  const rows = [
    speedRow('scheduler.random', `scheduler, ${n} random priorities`, 'bg-random', 'pq-random', 2),
    speedRow('scheduler.fifo', `scheduler, ${n} FIFO`, 'bg-fifo', 'pq-fifo', 0.5),
    makeRow({
      id: 'scheduler.heap',
      issueRow: 2,
      name: 'scheduler, heap per queued task',
      metric: 'bytes',
      value: med('bg-random', 'heapPerTask'),
      baseline: med('pq-random', 'heapPerTask'),
      baselineName: 'p-queue',
      target: { on: 'value', op: '<=', threshold: 1024 },
      note: hasGc() ? `after GC, ${n} queued` : `no --expose-gc: approximate`,
      samples: { value: runs['bg-random'].map((r) => r.heapPerTask), baseline: runs['pq-random'].map((r) => r.heapPerTask) },
    }),
    makeRow({
      id: 'scheduler.heap.peak',
      issueRow: 2,
      name: 'scheduler, peak heap per task',
      metric: 'bytes',
      value: (med('bg-random', 'peakHeapMiB') * 1024 * 1024) / n,
      baseline: (med('pq-random', 'peakHeapMiB') * 1024 * 1024) / n,
      baselineName: 'p-queue',
      target: { on: 'value', op: '<=', threshold: 1536 },
      note: `peak heap growth while ${n} random-priority tasks pass through, per task`,
      samples: {
        value: runs['bg-random'].map((r) => (r.peakHeapMiB * 1024 * 1024) / n),
        baseline: runs['pq-random'].map((r) => (r.peakHeapMiB * 1024 * 1024) / n),
      },
    }),
    speedRow('scheduler.random.lean', 'scheduler, random, lean transport (diag.)', 'lean-random', 'pq-random', null),
  ];
  const lastRow = rows[rows.length - 1]!;
  lastRow.note = `no-op transport; ${lastRow.note ?? ''}; FakeTransport alone ${fakeAlone.usPerTask.toFixed(1)} µs/attempt`;
  return {
    id: 'scheduler',
    title: 'Scheduler overhead',
    rows,
    counts,
    details: { tasks: n, reps: runs['bg-random'].length, concurrency: CONCURRENCY, gcExposed: hasGc(), runs, fakeAlone },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
