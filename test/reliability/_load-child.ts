// The 10,000-task load run, in its own process so that heap and fd figures are not blurred by
// the test runner (and so it can run with --expose-gc):
//   node --expose-gc --import tsx _load-child.ts <tasks> <concurrency> <groupCap>
// Prints one JSON line with the figures; load.test.ts asserts on them.
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { LocalTransport } from '../../src/transports/local.js';
import { CountingTransport, fdCount } from './_util.js';

const [n = 10_000, concurrency = 16, groupCap = 4] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

// Settles the heap: several full collections with turns of the event loop between them, so
// that finalizers and weak callbacks (child process handles) get to run.
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

// Group tasks run `true`, the others `:` — both shell builtins, so the transport can tell them
// apart by command alone (its launch request carries no group).
const counting = new CountingTransport(new LocalTransport(), { keyOf: (req) => (req.command === 'true' ? 'g' : undefined) });
const ex = new BackgroundExecutor({
  scheduler: new PriorityScheduler({ concurrency, groups: { g: groupCap } }),
  transports: { local: counting },
});

// Event-level concurrency: started minus settled, globally and for group g.
let running = 0;
let runningG = 0;
let maxRunning = 0;
let maxRunningG = 0;
let settled = 0;
const statuses = new Map<string, number>();
ex.on('task:started', (e) => {
  running++;
  if (e.record.spec.group === 'g') runningG++;
  maxRunning = Math.max(maxRunning, running);
  maxRunningG = Math.max(maxRunningG, runningG);
});
ex.on('task:settled', (e) => {
  running--;
  if (e.record.spec.group === 'g') runningG--;
  settled++;
  statuses.set(e.record.status, (statuses.get(e.record.status) ?? 0) + 1);
});

// Hostile user functions ride along with the load: one task in 100 fails and hands the runner
// a backoff or retryOn that returns a non-finite/absurd number or throws. Each must settle the
// task `failed` with one CALLBACK_FAILED error event, never retry, wedge or reject unhandled.
const HOSTILE: Array<() => number> = [
  () => Infinity,
  () => Number.NaN,
  () => 1e300,
  () => -1,
  () => {
    throw new Error('hostile backoff');
  },
];
let hostile = 0;
let callbackErrors = 0;
let unhandled = 0;
process.on('unhandledRejection', () => unhandled++);
ex.on('error', (e) => {
  if (e.error.code === 'CALLBACK_FAILED') callbackErrors++;
});

async function batch(count: number): Promise<number> {
  let hostileHere = 0;
  for (let i = 0; i < count; i++) {
    if (i % 100 === 50) {
      const fn = HOSTILE[hostile++ % HOSTILE.length]!;
      hostileHere++;
      const retry = hostile % 2 === 0
        ? { attempts: 3, backoff: fn }
        : { attempts: 3, retryOn: (): boolean => { throw new Error('hostile retryOn'); } };
      await ex.submit({ command: 'exit 3', retry });
    } else {
      await ex.submit(i % 4 === 0 ? { command: 'true', group: 'g' } : { command: ':' });
    }
  }
  await ex.onIdle();
  return hostileHere;
}

// Warm-up: module code, JIT, libuv's SIGCHLD pipe and thread pool exist before the baseline.
await ex.start();
await batch(200);
await ex.cleanup();
const fdBefore = fdCount();
const heapBefore = await settledHeap();
const settledBefore = settled;

const t0 = performance.now();
const hostileMeasured = await batch(n);
const elapsedMs = performance.now() - t0;
const completed = ex.list({ status: 'completed' }).length;
const heapLoaded = await settledHeap();
const removed = await ex.cleanup();
const heapAfter = await settledHeap();
const fdAfterCleanup = fdCount();
await ex.shutdown();
const fdAfterShutdown = fdCount();

process.stdout.write(
  `${JSON.stringify({
    n,
    elapsedMs: Math.round(elapsedMs),
    tasksPerSec: Math.round((n / elapsedMs) * 1000),
    settled: settled - settledBefore,
    completed,
    removed,
    statuses: Object.fromEntries(statuses),
    maxRunning,
    maxRunningG,
    transportMax: counting.tally.maxTotal,
    transportMaxG: counting.tally.max.get('g') ?? 0,
    transportStarts: counting.tally.starts,
    fdBefore,
    fdAfterCleanup,
    fdAfterShutdown,
    heapBefore,
    heapLoaded,
    heapAfter,
    remaining: ex.list().length,
    hostile,
    hostileMeasured,
    callbackErrors,
    unhandled,
  })}\n`,
);
