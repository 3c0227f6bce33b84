// The retry path under hostile user functions and transports: a backoff function returning
// Infinity, 1e300, NaN, a negative number or not a number, or throwing; a retryOn that throws;
// a spawn failure; a start the host refused before anything ran; a function-valued option
// after a restart. Nothing may wedge: no unhandled rejection, no task stuck `waiting`,
// onIdle() and drain resolve, and a hung drain can be escalated to kill.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import type { ExecutorErrorEvent } from '../../src/events.js';
import { MAX_BACKOFF_MS } from '../../src/scheduler/backoff.js';
import { MAX_REFUSED_STARTS } from '../../src/runner/task-runner.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TransportHandle } from '../../src/task.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { EventAudit } from '../reliability/_event-audit.js';
import { fakeExecutor, flush } from '../helpers.js';

let unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => void unhandled.push(err);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Settles within `ms` of real time, or reports that it did not. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still pending'>((r) => (timer = setTimeout(() => r('still pending'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a backoff function that gives no usable delay', () => {
  const BAD: Array<[string, () => unknown]> = [
    ['Infinity', () => Infinity],
    ['-Infinity', () => -Infinity],
    ['NaN', () => NaN],
    ['-5', () => -5],
    ['a string', () => '10'],
    ['undefined', () => undefined],
    ['a bigint', () => 10n],
    ['a throw', () => {
      throw new Error('backoff bug');
    }],
  ];

  it('settles every task with its attempt outcome and reports CALLBACK_FAILED: nothing wedges, onIdle and drain resolve', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 8 });
    fake.script(/.*/, { exitCode: 1 });
    const errors: ExecutorErrorEvent[] = [];
    ex.on('error', (e) => errors.push(e));
    const ids = new Map<string, string>();
    // Five tasks per hostile value: 40 tasks.
    for (const [name, fn] of BAD) {
      for (let i = 0; i < 5; i++) {
        const t = await ex.submit({ command: `c-${name}-${i}`, retry: { attempts: 3, backoff: fn as (a: number) => number } });
        ids.set(t.id, name);
      }
    }
    expect(await within(ex.onIdle(), 5000)).toBeUndefined();
    for (const [id, name] of ids) {
      const r = ex.get(id)!;
      expect(r.status, name).toBe('failed');
      expect(r.attempt, name).toBe(1);
    }
    expect(errors.length).toBe(ids.size);
    for (const e of errors) {
      expect(e.error.code).toBe('CALLBACK_FAILED');
      expect(e.error.field).toBe('retry.backoff');
      expect(ids.has(e.taskId!)).toBe(true);
    }
    expect(errors.find((e) => ids.get(e.taskId!) === 'Infinity')?.error.message).toMatch(/returned Infinity/);
    expect(errors.find((e) => ids.get(e.taskId!) === 'a throw')?.error.message).toMatch(/threw Error: backoff bug/);
    expect(ex.metrics().counts.waiting).toBe(0);
    expect(ex.metrics().queued).toBe(0);
    expect(await within(ex.shutdown({ mode: 'drain' }), 5000)).toBeUndefined();
    await flush();
    expect(unhandled).toEqual([]);
  });

  it('a delay beyond the longest timer (1e300) is refused like a non-finite one; the longest timer itself is honoured', async () => {
    const { ex, fake, clock } = fakeExecutor();
    const errors: string[] = [];
    ex.on('error', (e) => errors.push(e.error.code));
    fake.script('x', { exitCode: 1 }, { exitCode: 0 });
    fake.script('y', { exitCode: 1 }, { exitCode: 0 });
    const huge = await ex.submit({ command: 'x', retry: { attempts: 2, backoff: () => 1e300 } });
    expect(await ex.wait(huge.id)).toMatchObject({ status: 'failed', attempt: 1 });
    expect(errors).toEqual(['CALLBACK_FAILED']);
    const longest = await ex.submit({ command: 'y', retry: { attempts: 2, backoff: () => MAX_BACKOFF_MS } });
    const retrying = new Promise<number>((resolve) => ex.once('task:retrying', (e) => resolve(e.delayMs)));
    expect(await retrying).toBe(MAX_BACKOFF_MS);
    await flush();
    expect(ex.get(longest.id)!.runAt).toBe(clock.now() + MAX_BACKOFF_MS);
    await clock.advance(MAX_BACKOFF_MS);
    expect((await ex.wait(longest.id)).status).toBe('completed');
    await ex.shutdown();
    expect(unhandled).toEqual([]);
  });
});

describe('shutdown escalation', () => {
  it('a drain that waits for a hung task is ended by a later shutdown({ mode: kill })', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('hang', { hang: true });
    const t = await ex.submit({ command: 'hang' });
    await flush();
    const drain = ex.shutdown({ mode: 'drain' });
    expect(await within(drain, 200)).toBe('still pending');
    expect(ex.get(t.id)?.status).toBe('running');
    const kill = ex.shutdown({ mode: 'kill', graceMs: 0 });
    expect(await within(kill, 5000)).toBeUndefined();
    expect(await within(drain, 100)).toBeUndefined();
    expect(ex.get(t.id)).toMatchObject({ status: 'cancelled', reason: 'shutdown' });
  });

  it('a drain held by a task waiting on a long backoff is escalated too; a weaker later mode changes nothing', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('x', { exitCode: 1 });
    const t = await ex.submit({ command: 'x', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 3_600_000 } } });
    await flush();
    expect(ex.get(t.id)?.status).toBe('waiting');
    const drain = ex.shutdown({ mode: 'drain' });
    expect(await within(ex.shutdown({ mode: 'drain' }), 100)).toBe('still pending');
    expect(await within(ex.shutdown({ mode: 'kill' }), 5000)).toBeUndefined();
    expect(await within(drain, 100)).toBeUndefined();
    // Queued work stays in the store for the next executor.
    expect(ex.get(t.id)?.status).toBe('waiting');
  });

  it('detach then kill: the second call kills the detached attempt the first one spared', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('d', { hang: true });
    // Survives TERM, so the detach round is still killing it when the kill call arrives.
    fake.script('n', { hang: true, ignoreTerm: true });
    const d = await ex.submit({ command: 'd', detached: true });
    const n = await ex.submit({ command: 'n', graceMs: 1000 });
    await flush();
    const first = ex.shutdown({ mode: 'detach' });
    await flush();
    expect(ex.get(d.id)?.status).toBe('running');
    const second = ex.shutdown({ mode: 'kill' });
    expect(second).toBe(first);
    await clock.advance(1000);
    expect(await within(second, 5000)).toBeUndefined();
    expect(ex.get(n.id)?.status).toBe('cancelled');
    expect(ex.get(d.id)?.status).toBe('cancelled');
  });
});

describe('retryOn that throws', () => {
  it('is reported as CALLBACK_FAILED (not a transport failure) and the task is not retried', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('x', { exitCode: 1 });
    const errors: ExecutorErrorEvent[] = [];
    ex.on('error', (e) => errors.push(e));
    const t = await ex.submit({
      command: 'x',
      retry: {
        attempts: 3,
        retryOn: () => {
          throw new TypeError('retryOn bug');
        },
      },
    });
    const r = await ex.wait(t.id);
    expect(r).toMatchObject({ status: 'failed', attempt: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error).toMatchObject({ code: 'CALLBACK_FAILED', field: 'retry.retryOn', taskId: t.id });
    expect(errors[0]!.error.message).toMatch(/threw TypeError: retryOn bug/);
    await ex.shutdown();
  });
});

describe('spawn failure event order', () => {
  it('an attempt that never started emits no task:started: queued → retrying → failed → settled', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('nope', { spawnError: 'no such program' });
    const audit = new EventAudit();
    const names = ['task:queued', 'task:started', 'task:retrying', 'task:failed', 'task:settled'] as const;
    const seen: string[] = [];
    for (const name of names) {
      audit.listen(ex, name);
      ex.on(name, () => void seen.push(name));
    }
    const t = await ex.submit({ command: 'nope', retry: { attempts: 2 } });
    const r = await ex.wait(t.id);
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('SPAWN_FAILED');
    expect(r.history.map((h) => h.reason)).toEqual(['spawn_failed', 'spawn_failed']);
    expect(seen).toEqual(['task:queued', 'task:retrying', 'task:failed', 'task:settled']);
    audit.assertValid('spawn failure');
    await ex.shutdown();
  });
});

/** A FakeTransport whose host refuses the first `refusals` starts (nothing runs), as ssh reports it. */
class RefusingTransport extends FakeTransport {
  refusals: number;
  refusedCalls = 0;
  constructor(refusals: number, options: ConstructorParameters<typeof FakeTransport>[0]) {
    super(options);
    this.refusals = refusals;
  }

  override async start(request: LaunchRequest): Promise<TransportHandle> {
    if (this.refusals > 0) {
      this.refusals--;
      this.refusedCalls++;
      const err = new TransportError('TRANSPORT_UNREACHABLE', 'ssh: connect to host build1 port 22: Connection refused', { taskId: request.taskId });
      throw Object.assign(err, { refused: true });
    }
    return super.start(request);
  }
}


describe('a start refused before anything ran', () => {
  async function setup(refusals: number) {
    const { PriorityScheduler } = await import('../../src/scheduler/priority.js');
    const { ManualClock } = await import('../../src/testing/manual-clock.js');
    const { BackgroundExecutor } = await import('../../src/executor.js');
    const clock = new ManualClock(1_000_000);
    const host = new RefusingTransport(refusals, { clock });
    const ex = new BackgroundExecutor({ transports: { build1: host }, scheduler: new PriorityScheduler({ clock, concurrency: 2 }) });
    return { ex, host, clock };
  }

  it('re-queues the attempt with a backoff (no retry policy needed, no attempt consumed) and then runs it once', async () => {
    const { ex, host, clock } = await setup(2);
    const retrying: Array<{ reason?: string; delayMs: number; nextAttempt: number }> = [];
    ex.on('task:retrying', (e) => void retrying.push({ reason: e.reason, delayMs: e.delayMs, nextAttempt: e.nextAttempt }));
    let started = 0;
    ex.on('task:started', () => void started++);
    const t = await ex.submit({ command: 'make' });
    await flush();
    expect(ex.get(t.id)).toMatchObject({ status: 'waiting', attempt: 0 });
    expect(ex.get(t.id)?.note).toMatch(/start refused: .*Connection refused/);
    await clock.advance(1000);
    await flush();
    expect(ex.get(t.id)).toMatchObject({ status: 'waiting', attempt: 0 });
    await clock.advance(2000);
    const r = await ex.wait(t.id);
    expect(r).toMatchObject({ status: 'completed', attempt: 1 });
    expect(r.history).toHaveLength(1);
    expect(r.note).toBeUndefined();
    expect(retrying).toEqual([
      { reason: 'start_refused', delayMs: 1000, nextAttempt: 1 },
      { reason: 'start_refused', delayMs: 2000, nextAttempt: 1 },
    ]);
    expect(started).toBe(1);
    expect(host.refusedCalls).toBe(2);
    expect(host.started).toHaveLength(1);
    await ex.shutdown();
  });

  it(`is bounded: after ${MAX_REFUSED_STARTS} re-queues the attempt fails as TRANSPORT_UNREACHABLE`, async () => {
    const { ex, host, clock } = await setup(1000);
    const t = await ex.submit({ command: 'make' });
    const done = ex.wait(t.id);
    for (let i = 0; i < MAX_REFUSED_STARTS; i++) {
      await flush();
      await clock.advance(30_000);
    }
    const r = await done;
    expect(r).toMatchObject({ status: 'failed', attempt: 1, reason: 'spawn_failed' });
    expect(r.error?.code).toBe('TRANSPORT_UNREACHABLE');
    expect(host.refusedCalls).toBe(MAX_REFUSED_STARTS + 1);
    await ex.shutdown();
  });

  it('a task cancelled while it waits to be started again is cancelled, never started', async () => {
    const { ex, host } = await setup(1);
    const t = await ex.submit({ command: 'make' });
    await flush();
    expect(ex.get(t.id)?.status).toBe('waiting');
    expect((await ex.cancel(t.id)).status).toBe('cancelled');
    expect(host.started).toHaveLength(0);
    await ex.shutdown();
  });

  it('an error that does not say refused (unknown whether it ran) still fails the attempt', async () => {
    const { ex, host } = await setup(0);
    host.start = async (request) => {
      throw new TransportError('TRANSPORT_UNREACHABLE', 'ssh call timed out', { taskId: request.taskId });
    };
    const t = await ex.submit({ command: 'make' });
    const r = await ex.wait(t.id);
    expect(r).toMatchObject({ status: 'failed', reason: 'spawn_failed' });
    expect(r.error?.code).toBe('TRANSPORT_UNREACHABLE');
    await ex.shutdown();
  });
});

describe('function-valued retry options after a restart', () => {
  it('are marked in the stored spec and reported as CALLBACK_UNAVAILABLE when an executor takes the task over', async () => {
    const store = new MemoryStore();
    const first = fakeExecutor({ store });
    first.fake.script('x', { exitCode: 1 });
    const t = await first.ex.submit({ command: 'x', retry: { attempts: 3, backoff: () => 60_000, retryOn: () => true } });
    await flush();
    expect(first.ex.get(t.id)?.status).toBe('waiting');
    expect(first.ex.get(t.id)?.spec.retry?.functions).toEqual(['backoff', 'retryOn']);
    await first.ex.shutdown();

    const second = fakeExecutor({ store });
    const errors: ExecutorErrorEvent[] = [];
    second.ex.on('error', (e) => errors.push(e));
    await second.ex.start();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.taskId).toBe(t.id);
    expect(errors[0]!.error.code).toBe('CALLBACK_UNAVAILABLE');
    expect(errors[0]!.error.message).toMatch(/retry\.backoff and retry\.retryOn was a function/);
    // A task with stored strategies only is not reported.
    await second.ex.submit({ command: 'y', retry: { attempts: 2, backoff: { type: 'exponential', delayMs: 10 }, retryOn: ['failed', 'lost'] } });
    await second.ex.shutdown();
    const third = fakeExecutor({ store });
    const later: ExecutorErrorEvent[] = [];
    third.ex.on('error', (e) => later.push(e));
    await third.ex.start();
    expect(later.map((e) => e.taskId)).toEqual([t.id]);
    await third.ex.shutdown();
  });
});
