import { describe, expect, it } from 'vitest';
import { fakeExecutor, flush } from '../helpers.js';

describe('executor lifecycle', () => {
  it('wait resolves at once for a finished task, rejects WAIT_TIMEOUT while the task goes on', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('slow', { delayMs: 1000 });
    const t = await ex.submit({ command: 'slow' });
    const waiting = ex.wait(t.id, { timeoutMs: 100 });
    const expectation = expect(waiting).rejects.toMatchObject({ code: 'WAIT_TIMEOUT', taskId: t.id });
    await clock.advance(150);
    await expectation;
    expect(ex.get(t.id)?.status).toBe('running');
    await clock.advance(1000);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect((await ex.wait(t.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('wait honours an AbortSignal', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true });
    const t = await ex.submit({ command: 'h' });
    const ac = new AbortController();
    const p = ex.wait(t.id, { signal: ac.signal });
    ac.abort();
    // Node/web convention: the rejection is the signal's reason (a DOMException named AbortError).
    await expect(p).rejects.toBe(ac.signal.reason);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(ex.get(t.id)?.status).toMatch(/queued|running/);
    await ex.shutdown();
  });

  it('list filters by status, group, session, tags with limit/offset', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 1 });
    fake.script(/.*/, { hang: true });
    for (let i = 0; i < 10; i++) {
      await ex.submit({ command: `c${i}`, group: i % 2 ? 'odd' : 'even', session: i < 5 ? 's1' : 's2', tags: i % 3 === 0 ? ['three', 'x'] : ['x'] });
    }
    await flush();
    expect(ex.list({ group: 'odd' }).map((r) => r.spec.command)).toEqual(['c1', 'c3', 'c5', 'c7', 'c9']);
    expect(ex.list({ session: 's2', group: 'even' }).map((r) => r.spec.command)).toEqual(['c6', 'c8']);
    expect(ex.list({ tags: ['three', 'x'] }).map((r) => r.spec.command)).toEqual(['c0', 'c3', 'c6', 'c9']);
    expect(ex.list({ status: 'running' }).map((r) => r.spec.command)).toEqual(['c0']);
    expect(ex.list({ status: ['queued'], offset: 2, limit: 3 }).map((r) => r.spec.command)).toEqual(['c3', 'c4', 'c5']);
    expect(() => ex.list({ limit: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await ex.shutdown();
  });

  it('completions and ack, per session', async () => {
    const { ex } = fakeExecutor();
    const a = await ex.submit({ command: 'a', session: 'A' });
    const b = await ex.submit({ command: 'b', session: 'B' });
    await ex.wait(a.id);
    await ex.wait(b.id);
    expect(ex.completions('A').map((r) => r.id)).toEqual([a.id]);
    expect(ex.completions().map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(ex.ack([a.id, 'unknown'])).toBe(1);
    expect(ex.ack(a.id)).toBe(0);
    expect(ex.completions().map((r) => r.id)).toEqual([b.id]);
    await ex.shutdown();
  });

  it('metrics count statuses, rates and run time', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('bad', { exitCode: 2, delayMs: 100 });
    fake.script('good', { delayMs: 300 });
    for (let i = 0; i < 3; i++) await ex.submit({ command: 'good' });
    await ex.submit({ command: 'bad' });
    await clock.advance(1000);
    await ex.onIdle();
    const m = ex.metrics();
    expect(m.counts.completed).toBe(3);
    expect(m.counts.failed).toBe(1);
    expect(m.running).toBe(0);
    expect(m.queued).toBe(0);
    expect(m.successRate).toBeCloseTo(0.75);
    expect(m.avgRunMs).toBeCloseTo((3 * 300 + 100) / 4);
    expect(m.totals.settled).toBe(4);
    expect(m.throughputPerSec).toBeGreaterThan(0);
    await ex.shutdown();
  });

  it('cleanup removes old terminal tasks, keeps the newest N, and removes their output', async () => {
    const { ex, fake, clock } = fakeExecutor();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = await ex.submit({ command: `t${i}` });
      ids.push(t.id);
      await ex.wait(t.id);
      await clock.advance(1000);
    }
    fake.script('h', { hang: true });
    const running = await ex.submit({ command: 'h' });
    await flush();
    const removed = await ex.cleanup({ olderThanMs: 1500, keep: 1 });
    // t0..t3 are older than 1.5 s; the newest of those (t3) is kept.
    expect(removed).toBe(3);
    expect(ex.list().map((r) => r.spec.command)).toEqual(['t3', 't4', 'h']);
    expect(fake.calls.filter((c) => c.method === 'cleanup').map((c) => c.taskId)).toEqual(ids.slice(0, 3).reverse());
    expect(ex.get(running.id)?.status).toBe('running');
    await expect(ex.cleanup({ statuses: ['running' as never] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await ex.shutdown();
  });

  it('shutdown kill cancels running attempts and rejects pending waits', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 1 });
    fake.script(/.*/, { hang: true });
    const a = await ex.submit({ command: 'a' });
    const b = await ex.submit({ command: 'b' });
    await flush();
    const waitB = ex.wait(b.id);
    const waitA = ex.wait(a.id);
    await ex.shutdown({ mode: 'kill' });
    expect((await waitA).status).toBe('cancelled');
    expect(ex.get(a.id)?.reason).toBe('shutdown');
    await expect(waitB).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(ex.get(b.id)?.status).toBe('queued');
  });

  it('shutdown drain runs everything queued first', async () => {
    const { ex, fake, clock } = fakeExecutor({ concurrency: 1 });
    fake.script(/.*/, { delayMs: 10 });
    for (let i = 0; i < 5; i++) await ex.submit({ command: `t${i}` });
    const done = ex.shutdown({ mode: 'drain' });
    await expect(ex.submit({ command: 'late' })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await clock.advance(1000);
    await done;
    expect(ex.list({ status: 'completed' })).toHaveLength(5);
  });

  it('shutdown detach leaves detached attempts running and kills the rest', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script(/.*/, { hang: true });
    const d = await ex.submit({ command: 'd', detached: true });
    const n = await ex.submit({ command: 'n' });
    await flush();
    await ex.shutdown({ mode: 'detach' });
    expect(ex.get(d.id)?.status).toBe('running');
    expect(ex.get(n.id)?.status).toBe('cancelled');
    expect(fake.running().map((r) => r.command)).toEqual(['d']);
  });
});
