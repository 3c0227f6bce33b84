import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { flush } from '../helpers.js';
import { onCleanup, record, runCleanups, seed, tempDir } from './_helpers.js';

afterEach(runCleanups);

const NOW = 5_000_000;

// An executor on the store at `dir` with a FakeTransport (kind `fake`, named `local`) on a ManualClock.
function fakeOn(dir: string, concurrency = 1): { ex: BackgroundExecutor; fake: FakeTransport; clock: ManualClock } {
  const clock = new ManualClock(NOW);
  const fake = new FakeTransport({ clock });
  const ex = new BackgroundExecutor({
    store: new JsonDirStore({ dir, durability: 'rename' }),
    transports: { local: fake },
    scheduler: new PriorityScheduler({ concurrency, clock }),
  });
  onCleanup(() => ex.shutdown({ graceMs: 0 }));
  return { ex, fake, clock };
}

describe('recovery of queued and waiting tasks', () => {
  it('restarts queued tasks in priority order, FIFO by their stored order among equals', async () => {
    const dir = tempDir();
    // Written in a scrambled order; priorities and orders as a previous executor assigned them.
    const specs = [
      { id: 'q07', priority: 0, order: 7 }, { id: 'q02', priority: 1, order: 2 }, { id: 'q11', priority: 5, order: 11 },
      { id: 'q01', priority: 0, order: 1 }, { id: 'q05', priority: 1, order: 5 }, { id: 'q09', priority: -3, order: 9 },
      { id: 'q03', priority: 5, order: 3 }, { id: 'q10', priority: 0, order: 10 }, { id: 'q04', priority: 1, order: 4 },
    ];
    await seed(dir, specs.map((s) => record(s.id, { order: s.order, spec: { command: `run ${s.id}`, transport: 'local', priority: s.priority } })));
    const { ex, fake } = fakeOn(dir);
    await ex.start();
    await ex.onIdle();
    expect(fake.started.map((r) => r.taskId)).toEqual(['q03', 'q11', 'q02', 'q04', 'q05', 'q01', 'q07', 'q10', 'q09']);
    expect(ex.list().every((r) => r.status === 'completed' && r.attempt === 1)).toBe(true);
    // A task submitted after the restart gets an order after every recovered one.
    const late = await ex.submit({ command: 'late' });
    expect(late.order).toBeGreaterThan(11);
  });

  it('continues delays and retry backoff from the stored runAt, not from the restart', async () => {
    const dir = tempDir();
    await seed(dir, [
      // Delayed at submission: still 3 s to go.
      record('delayed', { status: 'waiting', order: 1, runAt: NOW + 3000, spec: { command: 'd', transport: 'local', delayMs: 60_000 } }),
      // Backing off after a failed first attempt: 1 s to go.
      record('backoff', {
        status: 'waiting', order: 2, attempt: 1, runAt: NOW + 1000, exitCode: 1, signal: null,
        spec: { command: 'b', transport: 'local', retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 60_000 } } },
        history: [{ attempt: 1, status: 'failed', startedAt: NOW - 2000, endedAt: NOW - 1000, exitCode: 1, signal: null }],
      }),
      // Its time came while no executor ran: starts at once.
      record('overdue', { status: 'waiting', order: 3, runAt: NOW - 5000, spec: { command: 'o', transport: 'local' } }),
    ]);
    const { ex, fake, clock } = fakeOn(dir, 4);
    await ex.start();
    await flush();
    expect(fake.started.map((r) => r.taskId)).toEqual(['overdue']);
    expect(ex.get('delayed')!.status).toBe('waiting');
    await clock.advance(999);
    await flush();
    expect(fake.started.map((r) => r.taskId)).toEqual(['overdue']);
    await clock.advance(1);
    await flush();
    expect(fake.started.map((r) => `${r.taskId}#${r.attempt}`)).toEqual(['overdue#1', 'backoff#2']);
    await clock.advance(1999);
    await flush();
    expect(fake.started).toHaveLength(2);
    await clock.advance(1);
    await flush();
    expect(fake.started.map((r) => r.taskId)).toEqual(['overdue', 'backoff', 'delayed']);
    await ex.onIdle();
    const backoff = ex.get('backoff')!;
    expect(backoff).toMatchObject({ status: 'completed', attempt: 2 });
    expect(backoff.history.map((h) => [h.attempt, h.status])).toEqual([[1, 'failed'], [2, 'completed']]);
  });

  it('probes each queued task once for a started attempt and finds none in a clean store', async () => {
    const dir = tempDir();
    await seed(dir, [record('a', { order: 1, spec: { command: 'a', transport: 'local' } }), record('b', { order: 2, attempt: 1, status: 'waiting', runAt: NOW + 10, spec: { command: 'b', transport: 'local' } })]);
    const { ex, fake } = fakeOn(dir);
    ex.pause();
    await ex.start();
    expect(fake.calls.filter((c) => c.method === 'probe').map((c) => `${c.taskId}#${c.attempt}`)).toEqual(['a#1', 'b#2']);
    expect(ex.get('a')!.status).toBe('queued');
  });

  it('takes a started attempt of a task stored as waiting after a refused start, without the stale note', async () => {
    const dir = tempDir();
    await seed(dir, [record('w', { status: 'waiting', runAt: NOW - 1, note: 'start refused: connection refused', spec: { command: 'w', transport: 'local', detached: true } })]);
    const { ex, fake } = fakeOn(dir);
    fake.script('w', { hang: true });
    // The start the crashed executor had in flight: it reached the transport.
    await fake.start({ taskId: 'w', attempt: 1, command: 'w', detached: true });
    ex.pause();
    await ex.start();
    const r = ex.get('w')!;
    expect(r).toMatchObject({ status: 'running', attempt: 1 });
    expect(r.note).toBeUndefined();
    expect(fake.started).toHaveLength(1);
  });

  it('freezes a handle loaded from the store that an earlier recovery had already marked', async () => {
    const dir = tempDir();
    const clock = new ManualClock(NOW);
    const handle = { kind: 'fake', taskId: 'r', attempt: 1, detached: true, startedAt: NOW - 100, ownerGone: true };
    await seed(dir, [record('r', { status: 'running', attempt: 1, startedAt: NOW - 100, handle, spec: { command: 'r', transport: 'local', detached: true } })]);
    const fake = new FakeTransport({ clock });
    fake.script('r', { hang: true });
    await fake.start({ taskId: 'r', attempt: 1, command: 'r', detached: true });
    const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir, durability: 'rename' }), transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) });
    onCleanup(() => ex.shutdown({ graceMs: 0 }));
    await ex.start();
    const kept = ex.get('r')!;
    expect(kept.status).toBe('running');
    expect(Object.isFrozen(kept.handle)).toBe(true);
    fake.complete('r', { exitCode: 3 });
    await ex.onIdle();
    const done = ex.get('r')!;
    expect(done).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(Object.isFrozen(done.history[0]!.handle)).toBe(true);
  });
});
