import { describe, expect, it } from 'vitest';
import { LaneQueue, type QueuedItem } from '../../src/scheduler/lane-queue.js';
import { seededRandom as rng } from '../_prng.js';

interface Item extends QueuedItem {
  id: number;
}

// The order the queue must give: higher priority, then lower order, then earlier insertion.
const expected = (a: Item, b: Item): number => b.priority - a.priority || a.order - b.order || a.seq - b.seq;

describe('LaneQueue', () => {
  it('pops FIFO within a priority and higher priorities first', () => {
    const q = new LaneQueue<Item>();
    let seq = 0;
    const mk = (priority: number, order: number): Item => ({ id: seq, priority, order, seq: seq++, queued: false });
    const items = [mk(0, 1), mk(0, 2), mk(5, 3), mk(0, 4), mk(-1, 5), mk(5, 6)];
    for (const x of items) q.push(x);
    expect(q.size).toBe(6);
    const out: number[] = [];
    for (let x = q.pop(); x !== undefined; x = q.pop()) out.push(x.order);
    expect(out).toEqual([3, 6, 1, 2, 4, 5]);
    expect(q.size).toBe(0);
    expect(items.every((x) => !x.queued)).toBe(true);
  });

  it('places an entry that comes back with an earlier order (a retry) before later ones', () => {
    const q = new LaneQueue<Item>();
    const mk = (order: number, seq: number): Item => ({ id: seq, priority: 0, order, seq, queued: false });
    for (const o of [10, 11, 12]) q.push(mk(o, o));
    q.push(mk(3, 20));
    q.push(mk(11, 21)); // same order as one queued: insertion (seq) decides
    expect([q.pop(), q.pop(), q.pop(), q.pop(), q.pop()].map((x) => [x?.order, x?.seq])).toEqual([[3, 20], [10, 10], [11, 11], [11, 21], [12, 12]]);
  });

  it('matches a sorted model under random pushes, pops and removes (with compaction)', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const random = rng(seed);
      const q = new LaneQueue<Item>();
      let model: Item[] = [];
      let seq = 0;
      let order = 0;
      const priorities = seed % 2 === 0 ? 1 : 1 + Math.floor(random() * 20);
      for (let step = 0; step < 6000; step++) {
        const r = random();
        if (r < 0.55) {
          // Mostly increasing orders, sometimes an old one (a retry or a re-added entry).
          const o = random() < 0.1 ? Math.floor(random() * (order + 1)) : ++order;
          const x: Item = { id: seq, priority: Math.floor(random() * priorities), order: o, seq: seq++, queued: false };
          q.push(x);
          model.push(x);
        } else if (r < 0.85) {
          model.sort(expected);
          const want = model.shift();
          expect(q.peek()).toBe(want);
          expect(q.pop()).toBe(want);
        } else if (model.length > 0) {
          const victim = model[Math.floor(random() * model.length)]!;
          expect(q.remove(victim)).toBe(true);
          expect(q.remove(victim)).toBe(false);
          model = model.filter((x) => x !== victim);
        }
        expect(q.size).toBe(model.length);
      }
      model.sort(expected);
      const rest: Item[] = [];
      for (let x = q.pop(); x !== undefined; x = q.pop()) rest.push(x);
      expect(rest).toEqual(model);
    }
  });

  it('compacts a long FIFO bucket as it drains and keeps nothing popped alive', () => {
    const q = new LaneQueue<Item>();
    for (let i = 0; i < 5000; i++) q.push({ id: i, priority: 0, order: i, seq: i, queued: false });
    for (let i = 0; i < 4990; i++) expect(q.pop()?.order).toBe(i);
    expect(q.size).toBe(10);
    q.push({ id: -1, priority: 0, order: 2, seq: 99_999, queued: false }); // older order: goes first
    expect(q.pop()?.seq).toBe(99_999);
    for (let i = 4990; i < 5000; i++) expect(q.pop()?.order).toBe(i);
    expect(q.pop()).toBeUndefined();
  });
});
