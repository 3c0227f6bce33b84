// The Store contract: every Store implementation runs this suite.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/stores/types.js';
import type { TaskRecord } from '../../src/task.js';
import { makeFullRecord, makeRecord } from './_records.js';

export { makeFullRecord, makeRecord } from './_records.js';

/** What a contract run needs from an implementation. */
export interface StoreHarness {
  store: Store;
  /** A new store over the same data (after `store.close()`); omit for volatile stores. */
  reopen?: () => Promise<Store>;
  /** Closes every store this harness produced and removes its data. */
  cleanup(): Promise<void>;
}

const byId = (records: TaskRecord[]): Map<string, TaskRecord> => new Map(records.map((r) => [r.id, r]));

async function loadAll(store: Store): Promise<Map<string, TaskRecord>> {
  const { records, problems } = await store.load();
  expect(problems).toEqual([]);
  return byId(records);
}

/** Registers the shared Store contract suite for one implementation. */
export function describeStoreContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    beforeEach(async () => {
      h = await make();
      store = h.store;
      expect(await store.load()).toEqual({ records: [], problems: [] });
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('round-trips full and minimal records', async () => {
      const full = makeFullRecord('full-1');
      const min = makeRecord('min_1');
      await Promise.all([store.put(full), store.put(min)]);
      const loaded = await loadAll(store);
      expect(loaded.get('full-1')).toEqual(makeFullRecord('full-1'));
      expect(loaded.get('min_1')).toEqual(makeRecord('min_1'));
      expect(loaded.size).toBe(2);
    });

    it('keeps the latest state on overwrite', async () => {
      await store.put(makeRecord('t1', { status: 'queued' }));
      await store.put(makeRecord('t1', { status: 'running', attempt: 1, startedAt: 5 }));
      const loaded = await loadAll(store);
      expect(loaded.get('t1')).toEqual(makeRecord('t1', { status: 'running', attempt: 1, startedAt: 5 }));
    });

    it('deletes, and deleting an unknown id is a no-op', async () => {
      await Promise.all([store.put(makeRecord('a')), store.put(makeRecord('b'))]);
      await store.delete('a');
      await store.delete('never-existed');
      expect([...(await loadAll(store)).keys()]).toEqual(['b']);
    });

    it('shows the last state after many puts of one id in one tick', async () => {
      const puts: Array<Promise<void>> = [];
      for (let i = 0; i < 50; i++) puts.push(store.put(makeRecord('hot', { attempt: i, order: i })));
      // The same object changed between puts (the executor mutates its live record).
      const live = makeRecord('live');
      for (let i = 0; i < 50; i++) {
        live.attempt = i;
        live.status = i % 2 === 0 ? 'running' : 'waiting';
        puts.push(store.put(live));
      }
      await Promise.all(puts);
      const loaded = await loadAll(store);
      expect(loaded.get('hot')?.attempt).toBe(49);
      expect(loaded.get('live')).toMatchObject({ attempt: 49, status: 'waiting' });
    });

    it('stores the state of the put() call, not changes made before it resolves', async () => {
      const live = makeRecord('snap', { status: 'waiting', runAt: 10 });
      const put = store.put(live);
      live.runAt = Number.POSITIVE_INFINITY; // not valid: must not reach the store
      live.attempt = 5;
      live.history.push({ attempt: 1, status: 'failed', startedAt: 1, endedAt: 2, exitCode: 1, signal: null });
      await put;
      expect((await loadAll(store)).get('snap')).toEqual(makeRecord('snap', { status: 'waiting', runAt: 10 }));
    });

    it('orders put and delete of one id within a tick', async () => {
      await store.put(makeRecord('x'));
      const ops = [store.delete('x'), store.put(makeRecord('x', { attempt: 7 })), store.put(makeRecord('y')), store.delete('y')];
      await Promise.all(ops);
      const loaded = await loadAll(store);
      expect(loaded.get('x')?.attempt).toBe(7);
      expect(loaded.has('y')).toBe(false);
    });

    it('resolves flush after earlier puts and deletes', async () => {
      const settled: string[] = [];
      for (let i = 0; i < 20; i++) void store.put(makeRecord(`f${i}`)).then(() => settled.push(`f${i}`));
      void store.delete('f0').then(() => settled.push('delete'));
      await store.flush();
      expect(settled).toHaveLength(21);
      expect((await loadAll(store)).size).toBe(19);
      await store.flush(); // nothing pending: resolves too
    });

    it('keeps the state a put resolved with and hands out copies', async () => {
      const rec = makeRecord('copy');
      await store.put(rec);
      rec.status = 'cancelled'; // after the put resolved: not the store's business any more
      const first = (await loadAll(store)).get('copy');
      expect(first?.status).toBe('queued');
      first!.status = 'failed';
      first!.history.push({ attempt: 1, status: 'failed', startedAt: 1, endedAt: 2, exitCode: 1, signal: null });
      const again = (await loadAll(store)).get('copy');
      expect(again).toEqual(makeRecord('copy'));
    });

    it('holds many records', async () => {
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.put(makeRecord(`m${i}`, { order: i }))));
      const loaded = await loadAll(store);
      expect(loaded.size).toBe(300);
      expect(loaded.get('m299')?.order).toBe(299);
    });

    it('survives close and reopen (durable stores)', async (ctx) => {
      if (!h.reopen) return ctx.skip();
      await store.put(makeFullRecord('keep'));
      await store.put(makeRecord('gone'));
      void store.put(makeRecord('late', { attempt: 3 })); // not awaited: close must flush it
      void store.delete('gone');
      await store.close();
      const reopened = await h.reopen();
      const loaded = await loadAll(reopened);
      expect([...loaded.keys()].sort()).toEqual(['keep', 'late']);
      expect(loaded.get('keep')).toEqual(makeFullRecord('keep'));
      expect(loaded.get('late')?.attempt).toBe(3);
    });
  });
}
