// Benchmark row 1 of docs/performance.md: `true` tasks through bgexec (memory store; JSON store at default durability)
// against raw child_process.spawn at the same concurrency. Variants are interleaved per
// repetition (raw, memory, json, tmpfs, raw, memory, …) so machine noise hits all of them.
// Diagnostic variant `tmpfs`: the memory store with run directories on tmpfs (/dev/shm), to
// separate the cost of creating files on disk from the library's own work (a quarter of the
// tasks, to keep `npm run bench` short; rates compare all the same). Each run also
// records the main thread's CPU per task (it runs every synchronous spawn() and fs call).
import { BackgroundExecutor, LocalTransport, PriorityScheduler, type Store, type Transport } from '../src/index.js';
import { JsonDirStore } from '../src/stores/json-dir.js';
import { median } from './lib/stats.js';
import { load1, makeTempDir, removeDir, startCpuSpan, tmpfsBase } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf, type Row } from './lib/types.js';
import { assertAllCompleted, finishedCounts, runShellPool, submitAll } from './lib/workloads.js';

const CONCURRENCY = 8;
const COMMAND = 'true';
const BUDGET_MS = 150_000;

type Variant = 'raw' | 'memory' | 'json' | 'tmpfs';

interface Run {
  perSecond: number;
  /** Main-thread CPU per task, µs (null off Linux). */
  mainCpuUs: number | null;
  /** CPU of the whole Node process (all threads) per task, µs. */
  processCpuUs: number;
  completed: number;
}

async function runVariant(variant: Variant, tasks: number): Promise<Run> {
  if (variant === 'raw') {
    const cpu = startCpuSpan();
    const t0 = performance.now();
    const ok = await runShellPool(COMMAND, tasks, CONCURRENCY);
    const ms = performance.now() - t0;
    assertAllCompleted('raw spawn', ok, tasks);
    return summarize(tasks, ms, cpu(), ok);
  }
  const base = variant === 'tmpfs' ? tmpfsBase() : undefined;
  const dir = variant === 'memory' ? undefined : makeTempDir(variant, base);
  // Default durability ('fsync'): every resolved put survives a power loss.
  const store: Store | undefined = variant === 'json' && dir !== undefined ? new JsonDirStore({ dir }) : undefined;
  const transport: Transport | undefined = variant === 'tmpfs' ? new LocalTransport({ root: dir }) : undefined;
  const ex = new BackgroundExecutor({
    scheduler: new PriorityScheduler({ concurrency: CONCURRENCY }),
    ...(store ? { store } : {}),
    ...(transport ? { transports: { local: transport } } : {}),
  });
  try {
    await ex.start();
    const cpu = startCpuSpan();
    const t0 = performance.now();
    await submitAll(ex, tasks, () => ({ command: COMMAND }));
    await ex.onIdle();
    const ms = performance.now() - t0;
    const span = cpu();
    const { completed } = finishedCounts(ex);
    assertAllCompleted(`bgexec (${variant})`, completed, tasks);
    return summarize(tasks, ms, span, completed);
  } finally {
    // Run directories of finished tasks go away between runs.
    await ex.cleanup();
    await ex.shutdown();
    if (dir !== undefined) await removeDir(dir);
  }
}

function summarize(tasks: number, ms: number, cpu: ReturnType<ReturnType<typeof startCpuSpan>>, completed: number): Run {
  return {
    perSecond: (tasks * 1000) / ms,
    mainCpuUs: cpu.mainCpuMs === null ? null : (cpu.mainCpuMs * 1000) / tasks,
    processCpuUs: (cpu.processCpuMs * 1000) / tasks,
    completed,
  };
}

function cpuNote(runs: readonly Run[]): string {
  const main = runs.map((r) => r.mainCpuUs).filter((v): v is number => v !== null);
  return main.length > 0 ? `main thread ${median(main).toFixed(0)} µs CPU/task` : '';
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const tasks = options.quick ? 24 : 2000;
  const reps = repsOf(options, 5);
  const variants: Variant[] = tmpfsBase() === undefined ? ['raw', 'memory', 'json'] : ['raw', 'memory', 'json', 'tmpfs'];
  const runs: Record<Variant, Run[]> = { raw: [], memory: [], json: [], tmpfs: [] };

  if (!options.quick) for (const v of variants) await runVariant(v, 50); // warm-up (JIT, page cache), not counted
  for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
    for (const v of variants) {
      const r = await runVariant(v, v === 'tmpfs' ? Math.ceil(tasks / 4) : tasks);
      runs[v].push(r);
      options.log(
        `throughput rep ${rep + 1}/${reps} ${v.padEnd(6)} ${r.perSecond.toFixed(0)} tasks/s, ` +
          `main thread ${r.mainCpuUs?.toFixed(0) ?? '?'} µs CPU/task, process ${r.processCpuUs.toFixed(0)} µs CPU/task`,
      );
    }
  }

  const perSecond = (v: Variant): number[] => runs[v].map((r) => r.perSecond);
  const raw = perSecond('raw');
  const row = (v: Variant, id: string, name: string, threshold: number | null): Row =>
    makeRow({
      id,
      issueRow: 1,
      name,
      metric: 'tasks/s',
      value: median(perSecond(v)),
      baseline: median(raw),
      baselineName: 'raw spawn',
      target: threshold === null ? null : { on: 'ratio', op: '>=', threshold },
      note: `${cpuNote(runs[v])} (raw ${cpuNote(runs.raw).replace('main thread ', '')})`,
      samples: { value: perSecond(v), baseline: raw },
    });
  const rows = [
    row('memory', 'throughput.memory', 'local throughput, MemoryStore', 0.9),
    row('json', 'throughput.json', 'local throughput, JsonDirStore (fsync)', 0.8),
  ];
  if (runs.tmpfs.length > 0) rows.push(row('tmpfs', 'throughput.tmpfs', 'local throughput, run dirs on tmpfs (diag.)', null));
  const counts: Record<string, number> = {};
  for (const v of variants) counts[`${v}Completed`] = runs[v].reduce((sum, r) => sum + r.completed, 0);
  return {
    id: 'throughput',
    title: 'Local throughput',
    rows,
    counts,
    details: { tasks, reps: runs.raw.length, concurrency: CONCURRENCY, command: COMMAND, runs },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
