import { describe, expect, it } from 'vitest';
import type { ExecutorErrorEvent } from '../../src/events.js';
import { fakeExecutor, flush } from '../helpers.js';

const TERMINAL_EVENTS = new Set(['task:completed', 'task:failed', 'task:cancelled', 'task:timed_out', 'task:lost']);

describe('executor events', () => {
  it('arrive in a valid per-task order with strictly increasing seq; ids never repeat', async () => {
    const { ex, fake, clock } = fakeExecutor({ concurrency: 8 });
    fake.script(/^fail/, { exitCode: 1 });
    fake.script(/^retry/, { exitCode: 1 }, { exitCode: 0 });
    const log: Array<{ name: string; taskId: string; seq: number }> = [];
    for (const name of ['task:queued', 'task:started', 'task:retrying', 'task:completed', 'task:failed', 'task:cancelled', 'task:settled'] as const) {
      ex.on(name, (e) => log.push({ name, taskId: e.taskId, seq: e.seq }));
    }
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const kind = i % 3 === 0 ? 'fail' : i % 3 === 1 ? 'retry' : 'ok';
      const rec = await ex.submit({ command: `${kind}-${i}`, retry: { attempts: 2 } });
      ids.add(rec.id);
    }
    await clock.advance(1000);
    await ex.onIdle();
    expect(ids.size).toBe(200);
    for (let i = 1; i < log.length; i++) expect(log[i]!.seq).toBeGreaterThan(log[i - 1]!.seq);
    const byTask = new Map<string, string[]>();
    for (const e of log) byTask.set(e.taskId, [...(byTask.get(e.taskId) ?? []), e.name]);
    for (const [, names] of byTask) {
      expect(names[0]).toBe('task:queued');
      expect(names.at(-1)).toBe('task:settled');
      expect(names.filter((n) => TERMINAL_EVENTS.has(n))).toHaveLength(1);
      expect(names.filter((n) => n === 'task:settled')).toHaveLength(1);
      // Every start is followed by an end or a retry before the next start.
      let open = false;
      for (const n of names) {
        if (n === 'task:started') {
          expect(open).toBe(false);
          open = true;
        } else if (n === 'task:retrying' || TERMINAL_EVENTS.has(n)) {
          expect(open).toBe(true);
          open = false;
        }
      }
    }
    await ex.shutdown();
  });

  it('a throwing listener changes nothing and is reported on error', async () => {
    const { ex } = fakeExecutor();
    const errors: ExecutorErrorEvent[] = [];
    ex.on('error', (e) => errors.push(e));
    ex.on('task:started', () => {
      throw new Error('boom');
    });
    ex.on('task:completed', async () => {
      throw new Error('async boom');
    });
    let secondListenerCalls = 0;
    ex.on('task:started', () => secondListenerCalls++);
    const t = await ex.submit({ command: 'x' });
    const done = await ex.wait(t.id);
    await flush();
    expect(done.status).toBe('completed');
    expect(secondListenerCalls).toBe(1);
    expect(errors.map((e) => e.error.code)).toEqual(['LISTENER_FAILED', 'LISTENER_FAILED']);
    expect(errors.map((e) => e.taskId)).toEqual([t.id, t.id]);
    await ex.shutdown();
  });

  it('a throwing error listener does not break the executor', async () => {
    const { ex } = fakeExecutor();
    ex.on('error', () => {
      throw new Error('error listener broken');
    });
    ex.on('task:started', () => {
      throw new Error('boom');
    });
    const t = await ex.submit({ command: 'x' });
    expect((await ex.wait(t.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('once listeners fire once and can be removed with off', async () => {
    const { ex } = fakeExecutor();
    let a = 0;
    let b = 0;
    const fb = (): void => void b++;
    ex.once('task:settled', () => void a++);
    ex.once('task:settled', fb);
    ex.off('task:settled', fb);
    await ex.wait((await ex.submit({ command: 'x' })).id);
    await ex.wait((await ex.submit({ command: 'y' })).id);
    expect(a).toBe(1);
    expect(b).toBe(0);
    await ex.shutdown();
  });

  it('payloads carry a snapshot that listeners cannot use to change state', async () => {
    const { ex } = fakeExecutor();
    ex.on('task:started', (e) => {
      (e.record as { status: string }).status = 'completed';
      e.record.history.push({} as never);
    });
    const t = await ex.submit({ command: 'x' });
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(done.history).toHaveLength(1);
    await ex.shutdown();
  });

  it('emits idle when the last task settles', async () => {
    const { ex } = fakeExecutor();
    let idle = 0;
    ex.on('idle', () => void idle++);
    await ex.submit({ command: 'a' });
    await ex.submit({ command: 'b' });
    await ex.onIdle();
    await flush();
    expect(idle).toBeGreaterThanOrEqual(1);
    expect(ex.metrics().running).toBe(0);
    await ex.shutdown();
  });
});
