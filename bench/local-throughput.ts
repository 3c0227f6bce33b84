// Benchmark row 1 of docs/performance.md: `true` tasks through bgexec (memory store; JSON store at
// default durability) against raw child_process.spawn and the peers (raw spawn to files, xargs -P,
// GNU parallel, p-queue + execa) at the same concurrency. Variants are interleaved per repetition
// (raw, memory, json, xargs, …) so machine noise hits all of them alike.
// Diagnostic variants: `tmpfs` (the memory store with run directories on /dev/shm, which separates
// the cost of creating files on disk from the library's own work) and `direct` (the memory store
// with the spawn helper off: Node spawns every task itself), each on a quarter of the tasks to keep
// `npm run bench` short (rates compare all the same). Each run also records the main thread's
// CPU per task (it runs every synchronous spawn() and fs call).
import { join } from 'node:path';
import { BackgroundExecutor, LocalTransport, PriorityScheduler, type Store, type Transport } from '../src/index.js';
import { JsonDirStore } from '../src/stores/json-dir.js';
import { loadPQueueExeca, parallelAvailable, runParallel, runPQueueExeca, runSpawnToFiles, runXargs, xargsAvailable } from './lib/peers.js';
import { median } from './lib/stats.js';
import { load1, makeTempDir, removeDir, startCpuSpan, tmpfsBase } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf, type Row } from './lib/types.js';
import { assertAllCompleted, finishedCounts, runShellPool, submitAll } from './lib/workloads.js';

const CONCURRENCY = 8;
const COMMAND = 'true';
const BUDGET_MS = 150_000;

type Variant = 'raw' | 'files' | 'memory' | 'json' | 'xargs' | 'parallel' | 'pqueue' | 'tmpfs' | 'direct';
const ALL: readonly Variant[] = ['raw', 'files', 'memory', 'json', 'xargs', 'parallel', 'pqueue', 'tmpfs', 'direct'];
/** Diagnostic variants and GNU parallel (slow: its own Perl per task) run a quarter of the tasks. */
const QUARTER: ReadonlySet<Variant> = new Set(['tmpfs', 'direct', 'parallel']);

type Peer = Awaited<ReturnType<typeof loadPQueueExeca>>;
let peer: Peer = 'not loaded';

interface Run {
  perSecond: number;
  /** Main-thread CPU per task, µs (null off Linux). */
  mainCpuUs: number | null;
  /** CPU of the whole Node process (all threads) per task, µs. */
  processCpuUs: number;
  completed: number;
}

async function runVariant(variant: Variant, tasks: number): Promise<Run> {
  const peerRun = peerWorkload(variant, tasks);
  if (peerRun) {
    const cpu = startCpuSpan();
    const t0 = performance.now();
    const ok = await peerRun();
    const ms = performance.now() - t0;
    assertAllCompleted(variant, ok, tasks);
    return summarize(tasks, ms, cpu(), ok);
  }
  const base = variant === 'tmpfs' ? tmpfsBase() : undefined;
  const dir = variant === 'memory' || variant === 'direct' ? undefined : makeTempDir(variant, base);
  // Default durability ('fsync'): every resolved put survives a power loss.
  const store: Store | undefined = variant === 'json' && dir !== undefined ? new JsonDirStore({ dir }) : undefined;
  const transport: Transport | undefined =
    variant === 'tmpfs' ? new LocalTransport({ root: dir }) : variant === 'direct' ? new LocalTransport({ spawnHelper: false }) : undefined;
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

/** The workload of a peer variant (not bgexec), or undefined for bgexec's own variants. */
function peerWorkload(variant: Variant, tasks: number): (() => Promise<number>) | undefined {
  switch (variant) {
    case 'raw':
      return () => runShellPool(COMMAND, tasks, CONCURRENCY);
    case 'files':
      return async () => {
        const dir = makeTempDir('files');
        try {
          return await runSpawnToFiles(COMMAND, tasks, CONCURRENCY, join(dir, 'out'));
        } finally {
          await removeDir(dir);
        }
      };
    case 'xargs':
      return () => runXargs(COMMAND, tasks, CONCURRENCY);
    case 'parallel':
      return () => runParallel(COMMAND, tasks, CONCURRENCY);
    case 'pqueue':
      if (typeof peer === 'string') throw new Error(peer);
      return () => runPQueueExeca(peer as Exclude<Peer, string>, COMMAND, tasks, CONCURRENCY);
    default:
      return undefined;
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
  const tasks = options.quick ? 24 : 600;
  const reps = repsOf(options, 5);
  peer = await loadPQueueExeca();
  const skipped: Partial<Record<Variant, string>> = {};
  if (tmpfsBase() === undefined) skipped.tmpfs = 'no tmpfs at /dev/shm';
  const xargsMissing = xargsAvailable();
  if (xargsMissing !== undefined) skipped.xargs = xargsMissing;
  const parallelMissing = parallelAvailable();
  if (parallelMissing !== undefined) skipped.parallel = parallelMissing;
  if (typeof peer === 'string') skipped.pqueue = peer;
  const variants = ALL.filter((v) => skipped[v] === undefined);
  const runs = Object.fromEntries(ALL.map((v) => [v, [] as Run[]])) as Record<Variant, Run[]>;
  const countOf = (v: Variant): number => (QUARTER.has(v) ? Math.ceil(tasks / 4) : tasks);

  if (!options.quick) for (const v of variants) await runVariant(v, 50); // warm-up (JIT, page cache), not counted
  for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
    for (const v of variants) {
      const r = await runVariant(v, countOf(v));
      runs[v].push(r);
      options.log(
        `throughput rep ${rep + 1}/${reps} ${v.padEnd(8)} ${r.perSecond.toFixed(0)} tasks/s, ` +
          `main thread ${r.mainCpuUs?.toFixed(0) ?? '?'} µs CPU/task, process ${r.processCpuUs.toFixed(0)} µs CPU/task`,
      );
    }
  }

  const perSecond = (v: Variant): number[] => runs[v].map((r) => r.perSecond);
  const NAMES: Record<Variant, string> = {
    raw: 'raw spawn',
    files: 'raw spawn, stdout/stderr to 2 new files',
    memory: 'bgexec, MemoryStore',
    json: 'bgexec, JsonDirStore (fsync)',
    xargs: `xargs -P ${CONCURRENCY}`,
    parallel: `GNU parallel -j${CONCURRENCY}`,
    pqueue: 'p-queue + execa',
    tmpfs: 'bgexec, run dirs on tmpfs',
    direct: 'bgexec, spawn helper off',
  };
  const row = (v: Variant, against: Variant, id: string, name: string, threshold: number | null): Row => {
    const reason = skipped[v] ?? skipped[against];
    if (reason !== undefined) {
      return { id, issueRow: 1, name, metric: 'tasks/s', value: null, baseline: null, baselineName: NAMES[against], ratio: null, target: threshold === null ? null : { on: 'ratio', op: '>=', threshold }, pass: null, status: 'skipped', note: reason };
    }
    return makeRow({
      id,
      issueRow: 1,
      name,
      metric: 'tasks/s',
      value: median(perSecond(v)),
      baseline: median(perSecond(against)),
      baselineName: NAMES[against],
      target: threshold === null ? null : { on: 'ratio', op: '>=', threshold },
      note: `${cpuNote(runs[v])} (${NAMES[against]} ${cpuNote(runs[against]).replace('main thread ', '')})`,
      samples: { value: perSecond(v), baseline: perSecond(against) },
    });
  };
  const rows = [
    row('memory', 'raw', 'throughput.memory', 'local throughput, MemoryStore', 1.5),
    row('json', 'raw', 'throughput.json', 'local throughput, JsonDirStore (fsync)', 1.2),
    row('memory', 'xargs', 'throughput.xargs', 'local throughput, MemoryStore vs xargs -P', 0.8),
    row('memory', 'pqueue', 'throughput.pqueue', 'local throughput, MemoryStore vs p-queue + execa', 2.5),
    row('files', 'raw', 'throughput.peer.files', 'peer: raw spawn to 2 new files', null),
    row('xargs', 'raw', 'throughput.peer.xargs', `peer: xargs -P ${CONCURRENCY} (no capture)`, null),
    row('parallel', 'raw', 'throughput.peer.parallel', `peer: GNU parallel -j${CONCURRENCY}`, null),
    row('pqueue', 'raw', 'throughput.peer.pqueue', 'peer: p-queue + execa (output in memory)', null),
    row('tmpfs', 'raw', 'throughput.tmpfs', 'local throughput, run dirs on tmpfs (diag.)', null),
    row('direct', 'raw', 'throughput.direct', 'local throughput, spawn helper off (diag.)', null),
  ];
  const counts: Record<string, number> = {};
  for (const v of variants) counts[`${v}Completed`] = runs[v].reduce((sum, r) => sum + r.completed, 0);
  return {
    id: 'throughput',
    title: 'Local throughput',
    rows,
    counts,
    details: { tasks, reps: runs.raw.length, concurrency: CONCURRENCY, command: COMMAND, skipped, runs },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
