import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { LocalTransport } from '../../src/transports/local.js';
import { fakeOutcome } from './_contract.js';
import { describeExecutorContract } from './_executor-contract.js';
import { shellFor } from './_shell.js';

let n = 0;

describeExecutorContract('FakeTransport', async () => {
  const clock = new ManualClock(1_000_000);
  const transport = new FakeTransport({ clock });
  return {
    transport,
    scheduler: new PriorityScheduler({ concurrency: 4, clock }),
    spec: (...outcomes) => {
      const command = `executor-contract-${++n}`;
      transport.script(command, ...outcomes.map(fakeOutcome));
      return { command };
    },
    spawnFailure: () => {
      const command = `executor-contract-${++n}`;
      transport.script(command, { spawnError: 'spawn ENOENT' });
      return { command };
    },
    drive: async <T>(p: Promise<T>): Promise<T> => {
      let settled = false;
      const watched = p.finally(() => {
        settled = true;
      });
      // Fake time moves only while the awaited work is pending.
      for (let i = 0; i < 10_000 && !settled; i++) await clock.advance(10);
      return watched;
    },
    teardown: async () => {},
  };
});

describeExecutorContract('LocalTransport', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bgexec-exec-contract-'));
  return {
    transport: new LocalTransport({ root }),
    scheduler: new PriorityScheduler({ concurrency: 4 }),
    spec: (...outcomes) => {
      if (outcomes.length === 1) return { command: shellFor(outcomes[0]!) };
      // The attempt number is in the environment of every attempt: pick that attempt's behaviour.
      const arms = outcomes.map((o, i) => `${i === outcomes.length - 1 ? '*' : i + 1}) ${shellFor(o)} ;;`);
      return { command: `case "$BGEXEC_ATTEMPT" in ${arms.join(' ')} esac` };
    },
    spawnFailure: () => ({ command: 'true', cwd: join(root, 'no', 'such', 'dir') }),
    drive: (p) => p,
    teardown: () => rm(root, { recursive: true, force: true }),
  };
});
