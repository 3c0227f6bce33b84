import { describe, expect, it } from 'vitest';
import { fakeExecutor, flush } from '../helpers.js';

describe('executor scheduling (FakeTransport, ManualClock)', () => {
  it('runs by priority, FIFO among equals, under concurrency 1', async () => {
    const { ex, fake, clock } = fakeExecutor({ concurrency: 1 });
    fake.script(/.*/, { delayMs: 10 });
    ex.pause();
    const prios = [3, 1, 3, 0, 5, 1, 5, 2, 0, 3];
    const ids: string[] = [];
    for (const [i, p] of prios.entries()) ids.push((await ex.submit({ command: `t${i}`, priority: p })).id);
    ex.resume();
    await clock.advance(1000);
    await ex.onIdle();
    const expected = prios
      .map((p, i) => ({ p, i }))
      .sort((a, b) => b.p - a.p || a.i - b.i)
      .map(({ i }) => `t${i}`);
    expect(fake.started.map((r) => r.command)).toEqual(expected);
    expect(fake.maxConcurrent).toBe(1);
    await ex.shutdown();
  });

  it('never exceeds the global cap or a group cap, and other groups still run', async () => {
    const { ex, fake, clock } = fakeExecutor({ concurrency: 3, groups: { heavy: 1 } });
    fake.script(/.*/, { delayMs: 50 });
    let heavy = 0;
    let maxHeavy = 0;
    ex.on('task:started', (e) => {
      if (e.record.spec.group === 'heavy') maxHeavy = Math.max(maxHeavy, ++heavy);
    });
    ex.on('task:settled', (e) => {
      if (e.record.spec.group === 'heavy') heavy--;
    });
    for (let i = 0; i < 6; i++) await ex.submit({ command: `h${i}`, group: 'heavy', priority: 10 });
    for (let i = 0; i < 6; i++) await ex.submit({ command: `l${i}` });
    await flush();
    // One heavy plus two light run at once although the heavy ones have higher priority.
    expect(fake.running().map((r) => r.command).sort()).toEqual(['h0', 'l0', 'l1']);
    await clock.advance(2000);
    await ex.onIdle();
    expect(maxHeavy).toBe(1);
    expect(fake.maxConcurrent).toBe(3);
    expect(ex.list({ status: 'completed' })).toHaveLength(12);
    await ex.shutdown();
  });

  it('pause and resume per group', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 4 });
    fake.script(/.*/, { hang: true });
    ex.pause('g');
    const g = await ex.submit({ command: 'g1', group: 'g' });
    const o = await ex.submit({ command: 'o1' });
    await flush();
    expect(ex.get(g.id)?.status).toBe('queued');
    expect(ex.get(o.id)?.status).toBe('running');
    ex.resume('g');
    await flush();
    expect(ex.get(g.id)?.status).toBe('running');
    await ex.shutdown();
  });

  it('delayMs holds a task in waiting until its time', async () => {
    const { ex, fake, clock } = fakeExecutor();
    const t = await ex.submit({ command: 'later', delayMs: 5000 });
    expect(t.status).toBe('waiting');
    expect(t.runAt).toBe(clock.now() + 5000);
    await clock.advance(4999);
    expect(fake.started).toHaveLength(0);
    await clock.advance(1);
    await flush();
    expect(fake.started.map((r) => r.command)).toEqual(['later']);
    expect((await ex.wait(t.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('retries a failing command with the backoff delays and completes on attempt 3', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('flaky', { exitCode: 1 }, { exitCode: 1 }, { exitCode: 0, stdout: 'ok' });
    const retrying: Array<{ nextAttempt: number; delayMs: number; at: number }> = [];
    ex.on('task:retrying', (e) => retrying.push({ nextAttempt: e.nextAttempt, delayMs: e.delayMs, at: e.at }));
    const t = await ex.submit({ command: 'flaky', retry: { attempts: 5, backoff: { type: 'exponential', delayMs: 100 } } });
    await clock.advance(10_000);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(done.attempt).toBe(3);
    expect(done.history.map((h) => h.status)).toEqual(['failed', 'failed', 'completed']);
    expect(retrying.map((r) => [r.nextAttempt, r.delayMs])).toEqual([[2, 100], [3, 200]]);
    const starts = fake.calls.filter((c) => c.method === 'start').map((c) => c.at);
    expect(starts[1]! - starts[0]!).toBe(100);
    expect(starts[2]! - starts[1]!).toBe(200);
    await ex.shutdown();
  });

  it('gives up after retry.attempts and settles failed', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('bad', { exitCode: 7 });
    const settled: number[] = [];
    ex.on('task:settled', (e) => settled.push(e.attempt));
    const t = await ex.submit({ command: 'bad', retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 10 } } });
    await clock.advance(1000);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('failed');
    expect(done.exitCode).toBe(7);
    expect(fake.started).toHaveLength(3);
    expect(settled).toEqual([3]);
    await ex.shutdown();
  });

  it('retryOn decides which outcomes are retried; timed_out is not retried by default', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('slow', { hang: true });
    const a = await ex.submit({ command: 'slow', timeoutMs: 100, retry: { attempts: 3 } });
    await clock.advance(200);
    expect((await ex.wait(a.id)).status).toBe('timed_out');
    expect(fake.started.filter((r) => r.taskId === a.id)).toHaveLength(1);
    const b = await ex.submit({ command: 'slow', timeoutMs: 100, retry: { attempts: 2, retryOn: ['timed_out'] } });
    await clock.advance(500);
    const done = await ex.wait(b.id);
    expect(done.status).toBe('timed_out');
    expect(done.attempt).toBe(2);
    await ex.shutdown();
  });

  it('a backoff function gets the failed attempt number', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('f', { exitCode: 1 });
    const seen: number[] = [];
    const t = await ex.submit({ command: 'f', retry: { attempts: 3, backoff: (n) => (seen.push(n), n * 1000) } });
    await clock.advance(10_000);
    await ex.wait(t.id);
    expect(seen).toEqual([1, 2]);
    await ex.shutdown();
  });

  it('cancel during backoff: the task never runs again', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('f', { exitCode: 1 });
    const t = await ex.submit({ command: 'f', retry: { attempts: 5, backoff: { type: 'fixed', delayMs: 1000 } } });
    await clock.advance(10);
    expect(ex.get(t.id)?.status).toBe('waiting');
    const c = await ex.cancel(t.id);
    expect(c.status).toBe('cancelled');
    await clock.advance(60_000);
    expect(fake.started).toHaveLength(1);
    expect(ex.get(t.id)?.status).toBe('cancelled');
    await ex.shutdown();
  });

  it('a cancelled running task is not retried', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('h', { hang: true });
    const t = await ex.submit({ command: 'h', retry: { attempts: 5, retryOn: ['failed', 'timed_out', 'lost'] } });
    await flush();
    const c = await ex.cancel(t.id);
    expect(c.status).toBe('cancelled');
    expect(c.signal).toBe('SIGTERM');
    await clock.advance(60_000);
    expect(fake.started).toHaveLength(1);
    await ex.shutdown();
  });

  it('timeout keeps the slot until the process is really gone', async () => {
    const { ex, fake, clock } = fakeExecutor({ concurrency: 1 });
    fake.script('stubborn', { hang: true, ignoreTerm: true });
    const a = await ex.submit({ command: 'stubborn', timeoutMs: 100, graceMs: 1000 });
    const b = await ex.submit({ command: 'next' });
    await clock.advance(500); // timeout fired, TERM ignored, grace running
    expect(ex.get(a.id)?.status).toBe('running');
    expect(ex.get(b.id)?.status).toBe('queued');
    await clock.advance(700);
    const done = await ex.wait(a.id);
    expect(done.status).toBe('timed_out');
    expect(done.signal).toBe('SIGKILL');
    expect((await ex.wait(b.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('an AbortSignal cancels the task', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true });
    const ac = new AbortController();
    const t = await ex.submit({ command: 'h', signal: ac.signal });
    await flush();
    ac.abort();
    const done = await ex.wait(t.id);
    expect(done.status).toBe('cancelled');
    await ex.shutdown();
  });

  it('spawn failure fails the attempt with SPAWN_FAILED and the executor goes on', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('nope', { spawnError: 'no such cwd' });
    const t = await ex.submit({ command: 'nope' });
    const done = await ex.wait(t.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('SPAWN_FAILED');
    const ok = await ex.submit({ command: 'fine' });
    expect((await ex.wait(ok.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('lost attempts are recorded lost and retried only when retryOn says so', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('gone', { lost: true }, {});
    const a = await ex.submit({ command: 'gone', retry: { attempts: 2 } });
    expect((await ex.wait(a.id)).status).toBe('lost');
    const { ex: ex2, fake: fake2 } = fakeExecutor();
    fake2.script('gone', { lost: true }, {});
    const b = await ex2.submit({ command: 'gone', retry: { attempts: 2, retryOn: ['lost'] } });
    const done = await ex2.wait(b.id);
    expect(done.status).toBe('completed');
    expect(done.history.map((h) => h.status)).toEqual(['lost', 'completed']);
    await ex.shutdown();
    await ex2.shutdown();
  });
});
