// A timeout must hold while the executor is busy starting other tasks.
//
// Found by the 1,000-task event run on this (heavily shared) 2-core machine: a CPU profile of
// that run spent 10.5 s of 17.4 s inside child_process.spawn (synchronous: fork, then wait for
// exec), called from the dispatch loop, which starts every admissible task in one synchronous
// burst. The event loop stalled for 2–17 s at a time, and tasks with `timeoutMs: 100` that ran
// `sleep 5` ended `completed` with exit 0 (1–8 of 66 per run, in 3 of 4 runs).
//
// Reproduced here deterministically: a transport whose start() takes 60 ms of synchronous work
// (what one spawn costs under contention) and a burst of 30 delayed tasks that fall due together
// with the timed task, so the burst runs inside the executor's wake timer right after the timed
// task started. Its deadline passes during the burst; its process exits before the burst ends;
// the exit could then be processed before the overdue timeout timer, and the task recorded
// `completed`.
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { CountingTransport } from './_util.js';

class SlowStartTransport extends CountingTransport {
  override start(req: LaunchRequest): Promise<TransportHandle> {
    if (req.command === 'true') {
      const end = Date.now() + 60;
      while (Date.now() < end) {
        // Synchronous, like a fork under CPU contention.
      }
    }
    return super.start(req);
  }
}

describe('timeouts under load', () => {
  it('a task past its timeoutMs is timed_out even when its exit is observed during a burst of slow starts', async () => {
    const ex = new BackgroundExecutor({
      transports: { local: new SlowStartTransport(new LocalTransport()) },
      scheduler: new PriorityScheduler({ concurrency: 40 }),
    });
    try {
      // All fall due in one wake: the timed task (highest priority) starts first, then the burst
      // of 30 slow starts blocks the event loop for ≥ 1.8 s, past its deadline and its exit.
      // Arranged this way the burst follows the start whatever the machine's load.
      const timed = await ex.submit({ command: 'sleep 0.4', timeoutMs: 100, graceMs: 100, delayMs: 300, priority: 10 });
      for (let i = 0; i < 30; i++) await ex.submit({ command: 'true', delayMs: 300 });
      const done = await ex.wait(timed.id);
      await ex.onIdle();
      // It ran about 4 times its timeout (the burst takes ~1.8 s).
      expect(done.endedAt! - done.startedAt!).toBeGreaterThan(400);
      expect(done).toMatchObject({ status: 'timed_out', reason: 'timeout' });
    } finally {
      await ex.shutdown({ graceMs: 100 });
    }
  }, 60_000);
});
