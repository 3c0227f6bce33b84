// Task input round trip on this machine: the time from a write to a task's stdin until its reply
// is in its output file, over N exchanges with a running `cat` (and a `sh` `while read` loop),
// through the spawn helper, through direct spawn, and through the executor (executor.write, then
// readOutput). The reply is watched by stat()ing `out` between turns of the event loop, so the
// figure is the data path (FIFO → task → output copier → file), not the executor's poll interval
// (outputPollMs, 100 ms by default) that paces `task:output` events and followers.
//
// `npx tsx bench/stdin-latency.ts [--quick]` prints the table; `run()` returns a BenchResult.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BackgroundExecutor, LocalTransport, PriorityScheduler } from '../src/index.js';
import type { TransportHandle } from '../src/task.js';
import { median, percentile } from './lib/stats.js';
import { load1, makeTempDir, removeDir } from './lib/system.js';
import { type BenchOptions, type BenchResult, makeRow, type Row } from './lib/types.js';

type Series = 'helper' | 'direct' | 'executor' | 'shell';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Waits (bounded: 10 s) until `path` holds at least `bytes` bytes. */
async function grownTo(path: string, bytes: number): Promise<void> {
  const end = performance.now() + 10_000;
  while (size(path) < bytes) {
    if (performance.now() > end) throw new Error(`no reply in ${path} after 10 s`);
    await turn();
  }
}

// One exchange per sample: write a line, wait until the task's reply is in `out`.
async function exchanges(n: number, out: string, write: (line: Buffer) => Promise<void>, replyBytes: (line: Buffer) => number): Promise<number[]> {
  const ms: number[] = [];
  let expected = size(out);
  for (let i = 0; i < n; i++) {
    const line = Buffer.from(`line ${i} ${'x'.repeat(32)}\n`);
    expected += replyBytes(line);
    const t0 = performance.now();
    await write(line);
    await grownTo(out, expected);
    ms.push(performance.now() - t0);
  }
  return ms;
}

async function viaTransport(root: string, spawnHelper: boolean, n: number): Promise<number[]> {
  const t = new LocalTransport({ root, spawnHelper });
  const h: TransportHandle = await t.start({ taskId: `lat${spawnHelper ? 'h' : 'd'}`, attempt: 1, command: 'cat', detached: false, stdin: 'pipe' });
  try {
    return await exchanges(n, join(String(h.runDir), 'out'), (line) => t.writeStdin(h, line), (line) => line.length);
  } finally {
    await t.closeStdin(h);
    await t.wait(h);
    await t.close();
  }
}

async function viaExecutor(root: string, command: string, n: number): Promise<number[]> {
  const ex = new BackgroundExecutor({ transports: { local: new LocalTransport({ root }) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
  try {
    const rec = await ex.submit({ command, stdin: 'pipe' });
    for (let i = 0; i < 1000 && ex.get(rec.id)?.handle === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    const out = join(String(ex.get(rec.id)!.handle!.runDir), 'out');
    const reply = command === 'cat' ? (l: Buffer): number => l.length : (l: Buffer): number => l.length + 4;
    const ms = await exchanges(n, out, (line) => ex.write(rec.id, line), reply);
    await ex.closeStdin(rec.id);
    await ex.wait(rec.id);
    return ms;
  } finally {
    await ex.shutdown({ mode: 'kill', graceMs: 100 });
  }
}

/** Runs the benchmark: p50 and p95 of each series, in ms. */
export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const n = options.quick ? 20 : 200;
  const warmup = options.quick ? 2 : 20;
  const dir = makeTempDir('stdin-latency');
  const series: Record<Series, number[]> = { helper: [], direct: [], executor: [], shell: [] };
  try {
    series.helper = (await viaTransport(join(dir, 'h'), true, n + warmup)).slice(warmup);
    series.direct = (await viaTransport(join(dir, 'd'), false, n + warmup)).slice(warmup);
    series.executor = (await viaExecutor(join(dir, 'e'), 'cat', n + warmup)).slice(warmup);
    series.shell = (await viaExecutor(join(dir, 's'), 'while IFS= read -r l; do echo "got $l"; done', n + warmup)).slice(warmup);
  } finally {
    await removeDir(dir);
  }
  const names: Record<Series, string> = {
    helper: 'stdin round trip, transport, spawn helper (cat)',
    direct: 'stdin round trip, transport, direct spawn (cat)',
    executor: 'stdin round trip, executor.write (cat)',
    shell: 'stdin round trip, executor.write (sh while read)',
  };
  const rows: Row[] = (Object.keys(series) as Series[]).map((s) => {
    const p50 = percentile(series[s], 50);
    const p95 = percentile(series[s], 95);
    options.log(`${names[s]}: p50 ${p50.toFixed(3)} ms, p95 ${p95.toFixed(3)} ms`);
    return makeRow({
      id: `stdin.${s}`,
      issueRow: 3,
      name: names[s],
      metric: 'ms',
      value: p50,
      baseline: p95,
      baselineName: 'p95',
      target: null,
      note: `p50 ${p50.toFixed(3)} / p95 ${p95.toFixed(3)} / max ${Math.max(...series[s]).toFixed(3)} ms over ${series[s].length}`,
      samples: { value: series[s], baseline: [p95] },
    });
  });
  return {
    id: 'stdin-latency',
    title: 'Task input round trip',
    rows,
    counts: { exchanges: Object.values(series).reduce((a, s) => a + s.length, 0) },
    details: { n, warmup, median: Object.fromEntries((Object.keys(series) as Series[]).map((s) => [s, median(series[s])])) },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const result = await run({ quick, log: (line) => process.stderr.write(`  ${line}\n`) });
  for (const row of result.rows) process.stdout.write(`${row.name}: ${row.note}\n`);
}
