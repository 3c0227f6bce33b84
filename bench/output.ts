// Benchmark row 4 of docs/performance.md: one task writes SIZE bytes to stdout while a follow() consumer reads it all.
// Measures the executor process's RSS growth (sampled every 50 ms) and the end-to-end
// throughput against the same command as `sh -c 'cmd > file'` followed by a reader of the file.
// Both readers decode to strings in chunks of follow()'s default size (64 KiB), so they do the
// same work per byte; both write into the same temp dir, on the same disk. A diagnostic variant
// follows with 1 MiB chunks (the former default): its strings are large objects, which only a
// full GC frees, and that is where the RSS growth of following used to come from.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BackgroundExecutor, LocalTransport, PriorityScheduler } from '../src/index.js';
import { DEFAULT_FOLLOW_BYTES } from '../src/output/task-output.js';
import { type MemorySample, MemorySampler, MiB } from './lib/memory.js';
import { median } from './lib/stats.js';
import { load1, withTempDir } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf } from './lib/types.js';
import { runShell } from './lib/workloads.js';

const BUDGET_MS = 80_000;

const CHUNK = DEFAULT_FOLLOW_BYTES;

// The diagnostic variant's chunk: follow()'s former default.
const LARGE_CHUNK = MiB;

interface Run {
  mibPerSecond: number;
  rssGrowthMiB: number;
  /** Peak growth of the JS heap and of Buffer memory, for the analysis of RSS growth. */
  heapGrowthMiB: number;
  buffersGrowthMiB: number;
  bytes: number;
}

function memoryOf(seen: MemorySample): Pick<Run, 'rssGrowthMiB' | 'heapGrowthMiB' | 'buffersGrowthMiB'> {
  return {
    rssGrowthMiB: seen.growth / MiB,
    heapGrowthMiB: seen.growthOf.heapUsed / MiB,
    buffersGrowthMiB: seen.growthOf.arrayBuffers / MiB,
  };
}

/** Baseline: the shell writes the file, then we read it back, decoding each chunk. */
async function runBaseline(dir: string, command: string, size: number): Promise<Run> {
  const file = join(dir, 'baseline.out');
  const rss = new MemorySampler('rss');
  rss.start();
  const t0 = performance.now();
  const code = await runShell(`${command} > '${file}'`);
  if (code !== 0) throw new Error(`baseline command exited ${String(code)}`);
  let bytes = 0;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, bytes);
      if (bytesRead === 0) break;
      bytes += Buffer.byteLength(buf.toString('utf8', 0, bytesRead), 'utf8');
    }
  } finally {
    await fh.close();
  }
  const ms = performance.now() - t0;
  const seen = rss.stop();
  await rm(file, { force: true });
  if (bytes !== size) throw new Error(`baseline read ${bytes} of ${size} bytes`);
  return { mibPerSecond: size / MiB / (ms / 1000), ...memoryOf(seen), bytes };
}

/** bgexec: the task writes to its run directory; follow() reads while it writes (chunks of `maxBytes`, default when undefined). */
async function runBgexec(dir: string, command: string, size: number, maxBytes?: number): Promise<Run> {
  const ex = new BackgroundExecutor({
    scheduler: new PriorityScheduler({ concurrency: 8 }),
    transports: { local: new LocalTransport({ root: dir }) },
  });
  await ex.start();
  const rss = new MemorySampler('rss');
  try {
    rss.start();
    const t0 = performance.now();
    // Above the default 1 GiB output limit, so the limit cannot end the task.
    const rec = await ex.submit({ command, maxOutputBytes: size * 2 });
    let bytes = 0;
    for await (const chunk of ex.follow(rec.id, maxBytes === undefined ? {} : { maxBytes })) {
      if (chunk.nextCursor - chunk.cursor !== Buffer.byteLength(chunk.text, 'utf8')) {
        throw new Error(`chunk at ${chunk.cursor}: cursor span and text length disagree`);
      }
      bytes += chunk.nextCursor - chunk.cursor;
    }
    const ms = performance.now() - t0;
    const seen = rss.stop();
    const end = await ex.wait(rec.id);
    if (end.status !== 'completed') throw new Error(`output task ended ${end.status}`);
    if (bytes !== size || end.stdoutBytes !== size) throw new Error(`follow() read ${bytes} bytes, task wrote ${end.stdoutBytes}, expected ${size}`);
    return { mibPerSecond: size / MiB / (ms / 1000), ...memoryOf(seen), bytes };
  } finally {
    rss.stop();
    await ex.cleanup();
    await ex.shutdown();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const size = options.quick ? 4 * MiB : 1024 * MiB;
  const reps = repsOf(options, 3);
  const command = `head -c ${size} /dev/zero`;
  const base: Run[] = [];
  const bg: Run[] = [];
  const large: Run[] = [];
  await withTempDir('output', async (dir) => {
    for (let rep = 0; keepGoing(rep, reps, started, BUDGET_MS); rep++) {
      base.push(await runBaseline(dir, command, size));
      bg.push(await runBgexec(dir, command, size));
      large.push(await runBgexec(dir, command, size, LARGE_CHUNK));
      const b = base.at(-1)!;
      const g = bg.at(-1)!;
      const l = large.at(-1)!;
      options.log(
        `output rep ${rep + 1}/${reps} bgexec ${g.mibPerSecond.toFixed(0)} MiB/s, RSS +${g.rssGrowthMiB.toFixed(1)} MiB; ` +
          `baseline ${b.mibPerSecond.toFixed(0)} MiB/s, RSS +${b.rssGrowthMiB.toFixed(1)} MiB; ` +
          `1 MiB chunks ${l.mibPerSecond.toFixed(0)} MiB/s, RSS +${l.rssGrowthMiB.toFixed(1)} MiB`,
      );
    }
  });
  const label = `${size / MiB} MiB from head -c /dev/zero`;
  const rows = [
    makeRow({
      id: 'output.throughput',
      issueRow: 4,
      name: 'output: follow() while writing',
      metric: 'MiB/s',
      value: median(bg.map((r) => r.mibPerSecond)),
      baseline: median(base.map((r) => r.mibPerSecond)),
      baselineName: "sh -c 'cmd > file', then read",
      target: { on: 'ratio', op: '>=', threshold: 0.9 },
      note: label,
      samples: { value: bg.map((r) => r.mibPerSecond), baseline: base.map((r) => r.mibPerSecond) },
    }),
    makeRow({
      id: 'output.rss',
      issueRow: 4,
      name: 'output: executor RSS growth',
      metric: 'MiB',
      value: median(bg.map((r) => r.rssGrowthMiB)),
      baseline: median(base.map((r) => r.rssGrowthMiB)),
      baselineName: 'baseline reader',
      target: { on: 'value', op: '<=', threshold: 32 },
      note: `peak − start, every 50 ms; JS heap +${median(bg.map((r) => r.heapGrowthMiB)).toFixed(0)}, Buffers +${median(bg.map((r) => r.buffersGrowthMiB)).toFixed(0)} MiB`,
      samples: { value: bg.map((r) => r.rssGrowthMiB), baseline: base.map((r) => r.rssGrowthMiB) },
    }),
    makeRow({
      id: 'output.rss1mib',
      issueRow: 4,
      name: 'output (diag.): RSS growth, follow() in 1 MiB chunks',
      metric: 'MiB',
      value: median(large.map((r) => r.rssGrowthMiB)),
      baseline: median(bg.map((r) => r.rssGrowthMiB)),
      baselineName: `follow() in ${CHUNK / 1024} KiB chunks (default)`,
      target: null,
      note:
        `1 MiB strings live in large-object space until a full GC; JS heap +${median(large.map((r) => r.heapGrowthMiB)).toFixed(0)}, ` +
        `Buffers +${median(large.map((r) => r.buffersGrowthMiB)).toFixed(0)} MiB; ${median(large.map((r) => r.mibPerSecond)).toFixed(0)} MiB/s`,
      samples: { value: large.map((r) => r.rssGrowthMiB), baseline: bg.map((r) => r.rssGrowthMiB) },
    }),
  ];
  return {
    id: 'output',
    title: 'Output',
    rows,
    // The diagnostic variant's bytes are in `details.large`.
    counts: { bytesFollowed: bg.reduce((s, r) => s + r.bytes, 0), bytesBaseline: base.reduce((s, r) => s + r.bytes, 0), tasks: bg.length },
    details: { size, reps: bg.length, command, chunkBytes: CHUNK, largeChunkBytes: LARGE_CHUNK, base, bg, large },
    elapsedMs: performance.now() - started,
    load: { before: loadBefore, after: load1() },
  };
}
