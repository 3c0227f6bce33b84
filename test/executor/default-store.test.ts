import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';

// The executor's own default store can be reached by nobody else and is read only at its own
// start, when it is empty: the executor does not write records into it. A store given to it is
// written at every transition, as before.
describe('the default store', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is not written: tasks run, settle, retry and are cleaned up without a single put or delete', async () => {
    const put = vi.spyOn(MemoryStore.prototype, 'put');
    const del = vi.spyOn(MemoryStore.prototype, 'delete');
    const fake = new FakeTransport().script('flaky', { exitCode: 1 }, { exitCode: 0 });
    const ex = new BackgroundExecutor({ transports: { local: fake } });
    const a = await ex.submit({ command: 'true' });
    const b = await ex.submit({ command: 'flaky', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 1 } } });
    expect(ex.get(a.id)?.status).not.toBe('completed');
    expect((await ex.wait(a.id)).status).toBe('completed');
    const done = await ex.wait(b.id);
    expect(done).toMatchObject({ status: 'completed', attempt: 2 });
    expect(done.history.map((h) => h.status)).toEqual(['failed', 'completed']);
    expect(ex.list().map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect(await ex.cleanup()).toBe(2);
    await ex.shutdown();
    expect(put).not.toHaveBeenCalled();
    expect(del).not.toHaveBeenCalled();
  });

  // What a given MemoryStore is asked to write for one task, in order.
  async function writesOf(fake: FakeTransport): Promise<string[]> {
    const store = new MemoryStore();
    const put = store.put.bind(store);
    const written: string[] = [];
    vi.spyOn(store, 'put').mockImplementation((r) => {
      written.push(`${r.status}${r.handle ? ' with handle' : ''}`);
      return put(r);
    });
    const ex = new BackgroundExecutor({ transports: { local: fake }, store });
    const t = await ex.submit({ command: 'true' });
    await ex.wait(t.id);
    await ex.shutdown();
    const [kept] = (await store.load()).records;
    expect(kept).toMatchObject({ id: t.id, status: 'completed', exitCode: 0 });
    expect(kept?.history).toHaveLength(1);
    return written;
  }

  it('a MemoryStore given to the executor is written at every transition and holds the last state', async () => {
    // Before the start too: after a crash, only that record may tell that the attempt began.
    expect(await writesOf(new FakeTransport())).toEqual(['queued', 'running', 'running with handle', 'completed with handle']);
  });

  it('writes running once, with its handle, when the transport finds every start', async () => {
    expect(await writesOf(new FakeTransport({ capabilities: { findsEveryStart: true } }))).toEqual(['queued', 'running with handle', 'completed with handle']);
    // The capability means nothing without a probe.
    const noProbe = new FakeTransport({ capabilities: { findsEveryStart: true } });
    Object.defineProperty(noProbe, 'probe', { value: undefined });
    expect(await writesOf(noProbe)).toEqual(['queued', 'running', 'running with handle', 'completed with handle']);
  });
});
