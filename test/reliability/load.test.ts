// Load: 10,000 real tasks under a global cap of 16 and a group cap of 4 (in a child process, for
// clean heap and fd figures), and 100,000 tasks on FakeTransport where the transports themselves
// report the concurrency they saw.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { CountingTransport, Tally } from './_util.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Overridable for a quick local run; CI runs the full figure.
const TASKS = Number(process.env['BGEXEC_LOAD_TASKS'] ?? 10_000);

interface LoadFigures {
  n: number;
  elapsedMs: number;
  tasksPerSec: number;
  settled: number;
  completed: number;
  hostile: number;
  hostileMeasured: number;
  callbackErrors: number;
  unhandled: number;
  removed: number;
  statuses: Record<string, number>;
  maxRunning: number;
  maxRunningG: number;
  transportMax: number;
  transportMaxG: number;
  transportStarts: number;
  fdBefore: number;
  fdAfterCleanup: number;
  fdAfterShutdown: number;
  heapBefore: number;
  heapLoaded: number;
  heapAfter: number;
  remaining: number;
}

function runLoadChild(n: number): Promise<LoadFigures> {
  const script = fileURLToPath(new URL('./_load-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, String(n), '16', '4'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) reject(new Error(`load child ended ${code ?? signal}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as LoadFigures);
    });
  });
}

describe('load', () => {
  it(`${TASKS} real tasks, caps 16/4: max concurrency equals the caps, all complete, no fd leak, heap returns after cleanup()`, async () => {
    const f = await runLoadChild(TASKS);
    // Figures for docs/reliability.md.
    console.log(`[load] ${JSON.stringify(f)}`);
    expect(f.settled).toBe(TASKS);
    // One task in 100 had a hostile backoff/retryOn: failed once, never retried, each reported.
    expect(f.hostileMeasured).toBe(Math.ceil((TASKS - 50) / 100));
    expect(f.completed).toBe(TASKS - f.hostileMeasured);
    expect(f.statuses['failed']).toBe(f.hostile);
    expect(f.callbackErrors).toBe(f.hostile);
    expect(f.unhandled).toBe(0);
    expect(f.removed).toBe(TASKS);
    expect(f.remaining).toBe(0);
    // Signal 1: task:started / task:settled counters. Signal 2: the transport's own count of
    // attempts between start() and the end of wait(). Both must hit the caps exactly.
    expect([f.maxRunning, f.transportMax]).toEqual([16, 16]);
    expect([f.maxRunningG, f.transportMaxG]).toEqual([4, 4]);
    expect(f.transportStarts).toBe(TASKS + 200); // + the warm-up batch: one start per task, no more
    // Every spawn's pipes and run-dir files are closed again.
    expect(f.fdAfterCleanup - f.fdBefore).toBeLessThanOrEqual(2);
    expect(f.fdAfterShutdown - f.fdBefore).toBeLessThanOrEqual(2);
    // The records were really held (so the check means something), then really released.
    const held = f.heapLoaded - f.heapBefore;
    const left = f.heapAfter - f.heapBefore;
    expect(held).toBeGreaterThan(0);
    expect(left).toBeLessThan(Math.max(3 * 1024 * 1024, held / 4));
  }, 600_000);

  it('100,000 tasks on FakeTransport: each transport sees exactly its cap, every task settles once', async () => {
    const clock = new ManualClock();
    const fakeL = new FakeTransport({ clock });
    const fakeG = new FakeTransport({ clock });
    // Group tasks go to their own FakeTransport, whose maxConcurrent is then the group's peak;
    // both are wrapped around one tally, whose peak is the global one.
    const tally = new Tally();
    const ex = new BackgroundExecutor({
      scheduler: new PriorityScheduler({ concurrency: 16, groups: { g: 4 }, clock }),
      transports: { local: new CountingTransport(fakeL, { tally }), g: new CountingTransport(fakeG, { tally }) },
    });
    let running = 0;
    let max = 0;
    let settled = 0;
    let lastSeq = 0;
    let seqOk = true;
    ex.on('task:started', (e) => {
      max = Math.max(max, ++running);
      seqOk &&= e.seq > lastSeq;
      lastSeq = e.seq;
    });
    ex.on('task:settled', (e) => {
      running--;
      settled++;
      seqOk &&= e.seq > lastSeq;
      lastSeq = e.seq;
    });
    const n = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await ex.submit(i % 4 === 0 ? { command: 'g', group: 'g', transport: 'g' } : { command: 'x', priority: i % 3 });
    }
    await ex.onIdle();
    const ms = performance.now() - t0;
    console.log(`[load] fake ${n} tasks in ${Math.round(ms)} ms; fakeG.maxConcurrent ${fakeG.maxConcurrent}; transports' global max ${tally.maxTotal}; event max ${max}`);
    expect(settled).toBe(n);
    expect(seqOk).toBe(true);
    expect(ex.metrics()).toMatchObject({ running: 0, queued: 0 });
    expect(ex.list({ status: 'completed', limit: n + 1 })).toHaveLength(n);
    expect(fakeG.maxConcurrent).toBe(4);
    expect(tally.maxTotal).toBe(16);
    expect(tally.starts).toBe(n);
    expect(fakeL.maxConcurrent).toBeLessThanOrEqual(16);
    expect(max).toBe(16);
    await ex.cleanup();
    await ex.shutdown();
  }, 120_000);
});
