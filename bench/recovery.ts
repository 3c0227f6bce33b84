// Benchmark row 5 of docs/performance.md: start() on a JsonDirStore holding N finished and M queued tasks (the
// executor is paused, so nothing runs). Baseline: the same files read and JSON.parse'd by a
// plain loop, so the ratio is the cost of locking, validation and recovery on top of reading.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackgroundExecutor, PriorityScheduler } from '../src/index.js';
import { JsonDirStore } from '../src/stores/json-dir.js';
import { finishedRecord, queuedRecord } from './lib/records.js';
import { median } from './lib/stats.js';
import { load1, withTempDir } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf } from './lib/types.js';

const BUDGET_MS = 45_000;

/** Writes the fixture through the store API, so the files are exactly what the store writes. */
async function createFixture(dir: string, finished: number, queued: number): Promise<void> {
  // 'rename' only speeds up creating the fixture; the files are the same as with 'fsync'.
  const store = new JsonDirStore({ dir, durability: 'rename' });
  await store.load();
  const puts: Promise<void>[] = [];
  for (let i = 0; i < finished; i++) puts.push(store.put(finishedRecord(i, store.runRoot)));
  for (let i = 0; i < queued; i++) puts.push(store.put(queuedRecord(i, finished)));
  await Promise.all(puts);
  await store.close();
}

/** The plain loop: list the directory, read and parse every file. */
function readAndParse(dir: string): { ms: number; records: number } {
  const t0 = performance.now();
  const tasksDir = join(dir, 'tasks');
  let records = 0;
  for (const name of readdirSync(tasksDir)) {
    if (!name.endsWith('.json')) continue;
    const value = JSON.parse(readFileSync(join(tasksDir, name), 'utf8')) as { id?: unknown };
    if (typeof value.id === 'string') records++;
  }
  return { ms: performance.now() - t0, records };
}

/** A fresh store (default durability) and a paused executor: time start(). */
async function timeStart(dir: string): Promise<{ ms: number; completed: number; queued: number }> {
  const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir }), scheduler: new PriorityScheduler({ concurrency: 8 }) });
  ex.pause();
  try {
    const t0 = performance.now();
    await ex.start();
    const ms = performance.now() - t0;
    const c = ex.metrics().counts;
    return { ms, completed: c.completed, queued: c.queued };
  } finally {
    // mode 'kill': queued tasks stay queued in the store, so the fixture is reused unchanged.
    await ex.shutdown();
  }
}

/** JsonDirStore.load() on its own (lock, read, validate, sort), without the executor. */
async function timeLoad(dir: string): Promise<number> {
  const store = new JsonDirStore({ dir });
  const t0 = performance.now();
  const { records } = await store.load();
  const ms = performance.now() - t0;
  await store.close();
  if (records.length === 0) throw new Error('store.load() found no records');
  return ms;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const finished = options.quick ? 200 : 10_000;
  const queued = options.quick ? 20 : 1000;
  const reps = repsOf(options, 5);
  const startMs: number[] = [];
  const parseMs: number[] = [];
  const loadMs: number[] = [];
  let recovered = { completed: 0, queued: 0 };
  let parsed = 0;
  await withTempDir('recovery', async (dir) => {
    const t0 = performance.now();
    await createFixture(dir, finished, queued);
    options.log(`recovery fixture: ${finished} finished + ${queued} queued tasks written in ${(performance.now() - t0).toFixed(0)} ms`);
    // Warm the page cache and the JIT once: every repetition then reads from memory alike.
    readAndParse(dir);
    if (!options.quick) await timeStart(dir);
    for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
      const p = readAndParse(dir);
      parseMs.push(p.ms);
      parsed = p.records;
      const s = await timeStart(dir);
      startMs.push(s.ms);
      recovered = { completed: s.completed, queued: s.queued };
      loadMs.push(await timeLoad(dir));
      if (s.completed !== finished || s.queued !== queued) {
        throw new Error(`start() recovered ${s.completed} finished and ${s.queued} queued, expected ${finished} and ${queued}`);
      }
      options.log(
        `recovery rep ${rep + 1}/${reps} start() ${s.ms.toFixed(0)} ms, store.load() ${loadMs.at(-1)!.toFixed(0)} ms, read+parse ${p.ms.toFixed(0)} ms`,
      );
    }
  });
  const parse = median(parseMs);
  const rows = [
    makeRow({
      id: 'recovery.start',
      issueRow: 5,
      name: `recovery: start() on ${finished} finished + ${queued} queued`,
      metric: 'ms',
      value: median(startMs),
      baseline: parse,
      baselineName: 'read+JSON.parse loop',
      target: { on: 'value', op: '<=', threshold: 1000 },
      note: 'warm page cache; executor paused',
      samples: { value: startMs, baseline: parseMs },
    }),
    makeRow({
      id: 'recovery.load',
      issueRow: 5,
      name: 'recovery: JsonDirStore.load() alone (diag.)',
      metric: 'ms',
      value: median(loadMs),
      baseline: parse,
      baselineName: 'read+JSON.parse loop',
      target: null,
      note: 'lock + read + validate + sort, no executor',
      samples: { value: loadMs, baseline: parseMs },
    }),
  ];
  return {
    id: 'recovery',
    title: 'Recovery',
    rows,
    counts: { recoveredCompleted: recovered.completed, recoveredQueued: recovered.queued, parsedRecords: parsed },
    details: { finished, queued, reps: startMs.length, startMs, loadMs, parseMs },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
