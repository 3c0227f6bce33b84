import { BackgroundExecutor } from '../src/executor.js';
import type { ExecutorOptions } from '../src/executor-options.js';
import { PriorityScheduler } from '../src/scheduler/priority.js';
import { FakeTransport } from '../src/testing/fake-transport.js';
import { ManualClock } from '../src/testing/manual-clock.js';

export interface FakeSetup {
  ex: BackgroundExecutor;
  fake: FakeTransport;
  clock: ManualClock;
}

/** An executor on a FakeTransport (named `local`) and a ManualClock. */
export function fakeExecutor(
  opts: { concurrency?: number; groups?: Record<string, number>; maxQueueSize?: number } & Omit<ExecutorOptions, 'scheduler' | 'transports'> = {},
): FakeSetup {
  const { concurrency = 4, groups, maxQueueSize, ...rest } = opts;
  const clock = new ManualClock(1_000_000);
  const fake = new FakeTransport({ clock });
  const scheduler = new PriorityScheduler({
    concurrency,
    clock,
    ...(groups ? { groups } : {}),
    ...(maxQueueSize !== undefined ? { maxQueueSize } : {}),
  });
  const ex = new BackgroundExecutor({ transports: { local: fake }, scheduler, ...rest });
  return { ex, fake, clock };
}

/** Lets promise chains and setImmediate callbacks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
