import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { fakeExecutor, flush } from '../helpers.js';

describe('executor features', () => {
  it('secretEnv reaches the transport but never the record; it is gone after a restart', async () => {
    const store = new MemoryStore();
    const fake = new FakeTransport();
    const ex = new BackgroundExecutor({ transports: { local: fake }, store });
    const t = await ex.submit({ command: 'use-token', env: { A: '1' }, secretEnv: { TOKEN: 's3cr3t-value' } });
    await ex.wait(t.id);
    expect(fake.started[0]?.env).toEqual({ A: '1', TOKEN: 's3cr3t-value' });
    expect(JSON.stringify(ex.get(t.id))).not.toContain('s3cr3t-value');
    expect(ex.get(t.id)?.spec.secretEnvKeys).toEqual(['TOKEN']);
    expect(JSON.stringify((await store.load()).records)).not.toContain('s3cr3t-value');

    ex.pause();
    const queued = await ex.submit({ command: 'later', secretEnv: { TOKEN: 's3cr3t-value' } });
    await ex.shutdown();
    const ex2 = new BackgroundExecutor({ transports: { local: new FakeTransport() }, store });
    await ex2.start();
    const done = await ex2.wait(queued.id);
    expect(done).toMatchObject({ status: 'failed', reason: 'secrets_unavailable' });
    expect(done.error?.code).toBe('INVALID_SPEC');
    await ex2.shutdown();
  });

  it('secretEnv is validated without echoing values', async () => {
    const { ex } = fakeExecutor();
    await expect(ex.submit({ command: 'x', secretEnv: { 'BAD-NAME': 'v' } })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'secretEnv.BAD-NAME' });
    await expect(ex.submit({ command: 'x', env: { T: 'a' }, secretEnv: { T: 'b' } })).rejects.toMatchObject({ field: 'secretEnv.T' });
    const err = await ex.submit({ command: 'x', secretEnv: { T: 'hidden\0value' } }).catch((e: Error) => e);
    expect((err as Error).message).not.toContain('hidden');
    await ex.shutdown();
  });

  it('each transport is a concurrency pool: a cap named like a transport caps that host only', async () => {
    const clock = new ManualClock(0);
    const a = new FakeTransport({ clock, defaultOutcome: { delayMs: 100 } });
    const b = new FakeTransport({ clock, defaultOutcome: { delayMs: 100 } });
    const ex = new BackgroundExecutor({
      transports: { a, b },
      defaultTransport: 'a',
      scheduler: new PriorityScheduler({ concurrency: 4, groups: { a: 1, db: 1 }, clock }),
    });
    for (let i = 0; i < 3; i++) await ex.submit({ command: `a${i}`, transport: 'a', priority: 5 });
    for (let i = 0; i < 3; i++) await ex.submit({ command: `b${i}`, transport: 'b' });
    await ex.submit({ command: 'bdb', transport: 'b', group: 'db' });
    await flush();
    expect(a.running().map((r) => r.command)).toEqual(['a0']);
    expect(b.running().map((r) => r.command).sort()).toEqual(['b0', 'b1', 'b2']);
    await clock.advance(1000);
    await ex.onIdle();
    expect(a.maxConcurrent).toBe(1);
    expect(ex.list({ status: 'completed' })).toHaveLength(7);
    await ex.shutdown();
  });

  it('follow of a task that never runs ends when the executor shuts down', async () => {
    const { ex } = fakeExecutor();
    ex.pause();
    const t = await ex.submit({ command: 'never' });
    const chunks: string[] = [];
    const consumer = (async () => {
      for await (const c of ex.follow(t.id)) chunks.push(c.text);
    })();
    await flush();
    await ex.shutdown();
    await consumer;
    expect(chunks).toEqual([]);
  });

  it('exposes its clock and transport names', () => {
    const { ex, clock } = fakeExecutor();
    expect(ex.clock).toBe(clock);
    expect(ex.transportNames).toEqual(['local']);
  });

  it('an unreachable host is a note on a running task, not a failure', async () => {
    class FlakyHost extends FakeTransport {
      down = false;
      override async poll(handle: Parameters<FakeTransport['poll']>[0]) {
        const p = await super.poll(handle);
        return this.down ? { ...p, unreachable: 'connection refused' } : p;
      }
    }
    const clock = new ManualClock(0);
    const host = new FlakyHost({ clock, defaultOutcome: { hang: true } });
    const ex = new BackgroundExecutor({ transports: { h: host }, scheduler: new PriorityScheduler({ clock }), outputPollMs: 10 });
    const t = await ex.submit({ command: 'remote' });
    await flush();
    host.down = true;
    await clock.advance(30);
    expect(ex.get(t.id)).toMatchObject({ status: 'running', note: 'connection refused' });
    host.down = false;
    await clock.advance(30);
    expect(ex.get(t.id)?.note).toBeUndefined();
    host.complete(t.id, { exitCode: 0 });
    expect((await ex.wait(t.id)).status).toBe('completed');
    await ex.shutdown();
  });
});
