import { describe, expect, it } from 'vitest';
import { Live } from '../../src/runner/live.js';
import { FakeTransport } from '../../src/testing/index.js';
import { fakeExecutor, flush } from '../helpers.js';

describe('per-task bookkeeping', () => {
  it('Live.ended settles once the end is marked, whether it was asked for before or after', async () => {
    const before = new Live(new FakeTransport());
    const early = before.ended;
    let settled = false;
    void early.then(() => (settled = true));
    await flush(2);
    expect(settled).toBe(false);
    before.markEnded();
    await early;
    expect(settled).toBe(true);
    expect(before.ended).toBe(early);

    const after = new Live(new FakeTransport());
    after.markEnded();
    await expect(after.ended).resolves.toBeUndefined();
  });

  it('hands out 21-character ids of the URL-safe alphabet, distinct, never starting with "-"', async () => {
    const { ex } = fakeExecutor({ concurrency: 1 });
    ex.pause();
    const ids = new Set<string>();
    const firsts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const { id } = await ex.submit({ command: 'true' });
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{20}$/);
      ids.add(id);
      firsts.set(id[0]!, (firsts.get(id[0]!) ?? 0) + 1);
    }
    expect(ids.size).toBe(4000);
    // 63 possible first characters, ~63 each: every one shows up, none dominates.
    expect(firsts.size).toBe(63);
    for (const n of firsts.values()) expect(n).toBeLessThan(200);
    await ex.shutdown();
  });

  it('a retried attempt starts from a clean record: nothing of the previous attempt is left on it', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('flaky', { exitCode: 3, stderr: 'no' }, { hang: true });
    const { id } = await ex.submit({ command: 'flaky', retry: { attempts: 2 } });
    await flush();
    const r = ex.get(id)!;
    expect(r.status).toBe('running');
    expect(r.attempt).toBe(2);
    for (const k of ['endedAt', 'exitCode', 'signal', 'reason', 'error', 'runAt', 'note']) expect(k in r).toBe(false);
    expect(r.history).toHaveLength(1);
    expect(r.history[0]).toMatchObject({ attempt: 1, status: 'failed', exitCode: 3 });
    expect(Object.isFrozen(r.history[0])).toBe(true);
    await ex.shutdown();
  });

  it('a settled task no longer listens to its abort signal', async () => {
    const { ex } = fakeExecutor();
    const controller = new AbortController();
    const errors: unknown[] = [];
    ex.on('error', (e) => errors.push(e));
    const { id } = await ex.submit({ command: 'true', signal: controller.signal });
    const done = await ex.wait(id);
    expect(done.status).toBe('completed');
    controller.abort();
    await flush();
    expect(ex.get(id)!.status).toBe('completed');
    expect(errors).toEqual([]);
    await ex.shutdown();
  });
});
