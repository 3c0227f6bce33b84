// Events: listeners that throw, reject or take 50 ms change nothing about what happens to tasks
// (same outcomes, same per-task event sequences as a run without them); and 1,000 real tasks
// of every kind emit events in a valid per-task order with strictly increasing seq.
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import type { ExecutorEventName } from '../../src/events.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskSpec } from '../../src/task.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { flush } from '../helpers.js';
import { EventAudit } from './_event-audit.js';

const TASK_EVENTS: ExecutorEventName[] = [
  'task:queued', 'task:started', 'task:output', 'task:retrying', 'task:completed', 'task:failed', 'task:cancelled',
  'task:timed_out', 'task:lost', 'task:settled',
];

type Extra = 'none' | 'throwing' | 'rejecting' | 'slow' | 'unprintable' | 'trap';

// Values that String() and even instanceof throw on: no prototype, and a Proxy whose every trap throws.
const unprintable = (): unknown => Object.create(null);
const trap = (): unknown =>
  new Proxy({}, { get: () => { throw new Error('get trap'); }, getPrototypeOf: () => { throw new Error('getPrototypeOf trap'); }, has: () => { throw new Error('has trap'); } });

// One deterministic workload on FakeTransport + ManualClock: every kind of ending, retries,
// output, a timeout, a cancel. Returns, per task in submission order, its outcome and its
// event names (error events aside).
async function workload(extra: Extra): Promise<{ outcomes: string[]; errors: string[]; listenerCalls: number }> {
  const clock = new ManualClock(0);
  const fake = new FakeTransport({ clock });
  fake.script('flaky', { exitCode: 1, stdout: 'try\n' }, { exitCode: 0, stdout: 'ok\n' });
  fake.script('bad', { exitCode: 3, stderr: 'no\n', delayMs: 20 });
  fake.script('slow', { delayMs: 500 });
  fake.script('hang', { hang: true });
  fake.script('gone', { lost: true, delayMs: 5 }, {});
  const ex = new BackgroundExecutor({
    transports: { local: fake },
    scheduler: new PriorityScheduler({ concurrency: 3, groups: { g: 1 }, clock }),
    outputPollMs: 10,
  });
  const names = new Map<string, string[]>();
  // One generic listener for many events; the typed map does not allow that without a cast.
  const listen = ex.on.bind(ex) as unknown as (n: string, fn: (e: { taskId: string }) => void) => void;
  for (const name of TASK_EVENTS) listen(name, (e) => names.set(e.taskId, [...(names.get(e.taskId) ?? []), name]));
  const errors: string[] = [];
  ex.on('error', (e) => errors.push(e.error.code));
  let listenerCalls = 0;
  const hostile = (): unknown => {
    listenerCalls++;
    if (extra === 'throwing') throw new Error('listener bug');
    if (extra === 'rejecting') return Promise.reject(new Error('async listener bug'));
    if (extra === 'unprintable') throw unprintable();
    if (extra === 'trap') return Promise.reject(trap());
    // Real time, not the manual clock: the executor must not wait for it.
    return new Promise((resolve) => setTimeout(resolve, 50));
  };
  if (extra !== 'none') for (const name of [...TASK_EVENTS, 'idle']) listen(name, hostile);

  const specs: TaskSpec[] = [
    { command: 'ok', priority: 1 },
    { command: 'flaky', retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } } },
    { command: 'bad', group: 'g', retry: { attempts: 2 } },
    { command: 'slow', timeoutMs: 100, graceMs: 10 },
    { command: 'hang', group: 'g' },
    { command: 'gone', retry: { attempts: 2, retryOn: ['lost'] } },
    { command: 'ok', delayMs: 300, priority: 5 },
  ];
  const ids: string[] = [];
  for (const spec of specs) ids.push((await ex.submit(spec)).id);
  await flush();
  await ex.cancel(ids[4]!);
  for (let i = 0; i < 20; i++) await clock.advance(50);
  await ex.onIdle();
  await flush();
  const outcomes = ids.map((id) => {
    const r = ex.get(id)!;
    return [r.status, r.attempt, r.exitCode, r.signal, r.reason, r.stdoutBytes, r.stderrBytes, r.history.map((h) => h.status).join('>'), names.get(id)?.join(',')].join('|');
  });
  await ex.shutdown();
  return { outcomes, errors, listenerCalls };
}

describe('events', () => {
  it('a throwing, rejecting or slow (50 ms, async) listener changes nothing; failures arrive as LISTENER_FAILED', async () => {
    const base = await workload('none');
    expect(base.errors).toEqual([]);
    // Every kind of ending is in the workload.
    expect(base.outcomes.map((o) => o.split('|')[0])).toEqual(['completed', 'completed', 'failed', 'timed_out', 'cancelled', 'completed', 'completed']);
    for (const extra of ['throwing', 'rejecting', 'slow', 'unprintable', 'trap'] as const) {
      const run = await workload(extra);
      expect(run.outcomes, extra).toEqual(base.outcomes);
      expect(run.listenerCalls, extra).toBeGreaterThan(30);
      // One LISTENER_FAILED per failed call, nothing else; none for the slow one.
      expect(run.errors, extra).toEqual(extra === 'slow' ? [] : Array.from({ length: run.listenerCalls }, () => 'LISTENER_FAILED'));
    }
  });

  it('an error listener that throws an unprintable value while task listeners throw too: tasks still settle, shutdown resolves', async () => {
    const clock = new ManualClock(0);
    const fake = new FakeTransport({ clock });
    fake.script('flaky', { exitCode: 1 }, { exitCode: 0 });
    const ex = new BackgroundExecutor({ transports: { local: fake }, outputPollMs: 10 });
    let errorCalls = 0;
    ex.on('error', () => {
      errorCalls++;
      throw unprintable();
    });
    ex.on('task:started', () => {
      throw trap();
    });
    ex.on('task:settled', () => {
      throw unprintable();
    });
    const a = await ex.submit({ command: 'flaky', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 1 } } });
    for (let i = 0; i < 5; i++) await clock.advance(10);
    expect((await ex.wait(a.id)).status).toBe('completed');
    expect(ex.get(a.id)!.attempt).toBe(2);
    expect(errorCalls).toBe(3); // two starts, one settle
    await ex.onIdle();
    await ex.shutdown({ mode: 'kill' });
  });

  it('1,000 real tasks of every kind: events in a valid per-task order, seq strictly increasing', async () => {
    const ex = new BackgroundExecutor({ scheduler: new PriorityScheduler({ concurrency: 16 }), outputPollMs: 20 });
    const audit = new EventAudit();
    for (const name of TASK_EVENTS) audit.listen(ex, name);
    audit.listen(ex, 'idle');
    audit.listen(ex, 'error');
    // Cancelled the moment they start.
    ex.on('task:started', (e) => {
      if (e.record.spec.tags?.includes('cancel')) void ex.cancel(e.taskId);
    });
    // Kills scan /proc, so the killed kinds are rarer (1 in 16 each) to keep the run short.
    const kinds: Array<[string, TaskSpec]> = [
      ...Array.from({ length: 8 }, (): [string, TaskSpec] => ['completed', { command: 'true' }]),
      ['completed', { command: 'echo out; echo err >&2' }],
      ['failed', { command: 'exit 3', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 5 } } }],
      ['cancelled', { command: 'sleep 30', tags: ['cancel'], graceMs: 100 }],
      // `sleep 30`: far beyond any event-loop stall (see timeout-under-load.test.ts for why that matters).
      ['timed_out', { command: 'sleep 30', timeoutMs: 100, graceMs: 100 }],
      ['completed', { command: ':', priority: 3 }],
      ['failed', { command: 'nonexistent-command-xyz' }],
      // A real spawn failure, retried: no task:started for either attempt (queued → retrying → failed → settled).
      ['failed', { command: 'true', cwd: '/nonexistent-bgexec-dir', retry: { attempts: 2 } }],
      ['completed', { command: 'printf x', delayMs: 10 }],
    ];
    const expected = new Map<string, string>();
    for (let i = 0; i < 1000; i++) {
      const [status, spec] = kinds[i % kinds.length]!;
      expected.set((await ex.submit(spec)).id, status);
    }
    await ex.onIdle();
    await flush();
    audit.assertValid('1,000 tasks');
    expect(audit.events).toBeGreaterThan(4000);
    for (const [id, status] of expected) {
      expect(`${id} ${ex.get(id)?.status}`).toBe(`${id} ${status}`);
      expect(audit.phase(id), id).toBe('settled');
      expect(audit.count(id, 'task:settled'), id).toBe(1);
    }
    await ex.shutdown();
  }, 180_000);
});
