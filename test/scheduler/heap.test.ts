import { describe, it, expect } from 'vitest';
import { BinaryHeap } from '../../src/scheduler/heap.js';
import { seededRandom as rng } from '../_prng.js';

interface Item {
  key: number;
  id: number;
}

const byKey = (a: Item, b: Item): number => a.key - b.key || a.id - b.id;


function drain<T>(heap: BinaryHeap<T>): T[] {
  const out: T[] = [];
  for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x);
  return out;
}

describe('BinaryHeap', () => {
  it('is empty when new', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    expect(heap.size).toBe(0);
    expect(heap.peek()).toBeUndefined();
    expect(heap.pop()).toBeUndefined();
    expect(heap.remove(1)).toBe(false);
  });

  it('pops numbers in ascending order', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    for (const n of [5, 3, 9, 1, 7, 2, 8, 0, 6, 4]) heap.push(n);
    expect(heap.size).toBe(10);
    expect(heap.peek()).toBe(0);
    expect(drain(heap)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(heap.size).toBe(0);
  });

  it('follows the comparator (max-heap)', () => {
    const heap = new BinaryHeap<number>((a, b) => b - a);
    for (const n of [2, 9, 4, 1]) heap.push(n);
    expect(drain(heap)).toEqual([9, 4, 2, 1]);
  });

  it('refuses an item it already holds', () => {
    const heap = new BinaryHeap<Item>(byKey);
    const a = { key: 1, id: 1 };
    heap.push(a);
    expect(() => heap.push(a)).toThrow(/already/);
    expect(heap.size).toBe(1);
  });

  it('removes the top, a leaf, an inner item and the last item', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    for (let i = 0; i < 15; i++) heap.push(i);
    expect(heap.remove(0)).toBe(true); // top
    expect(heap.remove(14)).toBe(true); // last slot
    expect(heap.remove(3)).toBe(true); // inner
    expect(heap.remove(11)).toBe(true); // leaf
    expect(heap.remove(11)).toBe(false);
    expect(heap.has(5)).toBe(true);
    expect(heap.has(3)).toBe(false);
    expect(drain(heap)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13]);
  });

  it('moves a removed slot up when the replacement is smaller than the parent', () => {
    // The last item (1.5) is smaller than the parent of the removed slot's subtree.
    const heap = new BinaryHeap<number>((a, b) => a - b);
    for (const n of [0, 10, 1, 11, 12, 2, 3, 13, 14, 15, 16, 4, 5, 6, 1.5]) heap.push(n);
    expect(heap.remove(16)).toBe(true);
    expect(drain(heap)).toEqual([0, 1, 1.5, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15]);
  });

  it('update re-positions an item whose key changed, both ways', () => {
    const heap = new BinaryHeap<Item>(byKey);
    const items = Array.from({ length: 8 }, (_, i) => ({ key: i * 10, id: i }));
    for (const it of items) heap.push(it);
    const [a, , , , , , , h] = items as [Item, Item, Item, Item, Item, Item, Item, Item];
    h.key = -1;
    expect(heap.update(h)).toBe(true);
    expect(heap.peek()).toBe(h);
    a.key = 1000;
    expect(heap.update(a)).toBe(true);
    expect(heap.update({ key: 0, id: 99 })).toBe(false);
    expect(drain(heap).map((x) => x.id)).toEqual([7, 1, 2, 3, 4, 5, 6, 0]);
  });

  it('clear empties it and forgets membership', () => {
    const heap = new BinaryHeap<number>((a, b) => a - b);
    heap.push(1);
    heap.push(2);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.has(1)).toBe(false);
    heap.push(1);
    expect(heap.toArray()).toEqual([1]);
  });

  it('matches a sorted array under random push/pop/remove/update (differential)', () => {
    const random = rng(42);
    const heap = new BinaryHeap<Item>(byKey);
    let model: Item[] = [];
    let nextId = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.45 || model.length === 0) {
        const item = { key: Math.floor(random() * 100), id: nextId++ };
        heap.push(item);
        model.push(item);
      } else if (r < 0.7) {
        model.sort(byKey);
        const expected = model.shift();
        expect(heap.pop()).toBe(expected);
      } else if (r < 0.9) {
        const victim = model[Math.floor(random() * model.length)] as Item;
        model = model.filter((x) => x !== victim);
        expect(heap.remove(victim)).toBe(true);
        expect(heap.remove(victim)).toBe(false);
      } else {
        const target = model[Math.floor(random() * model.length)] as Item;
        target.key = Math.floor(random() * 100);
        expect(heap.update(target)).toBe(true);
      }
      expect(heap.size).toBe(model.length);
      if (step % 97 === 0) {
        model.sort(byKey);
        expect(heap.peek()).toBe(model[0]);
      }
    }
    model.sort(byKey);
    expect(drain(heap)).toEqual(model);
  });
});
