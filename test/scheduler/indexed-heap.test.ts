import { describe, expect, it } from 'vitest';
import { IndexedHeap } from '../../src/scheduler/indexed-heap.js';
import { seededRandom as rng } from '../_prng.js';

interface Item {
  key: number;
  id: number;
  heapIndex: number;
}

const byKey = (a: Item, b: Item): number => a.key - b.key || a.id - b.id;
const item = (key: number, id: number): Item => ({ key, id, heapIndex: -1 });

function drain(heap: IndexedHeap<Item>): Item[] {
  const out: Item[] = [];
  for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x);
  return out;
}

describe('IndexedHeap', () => {
  it('keeps each held item’s position in the item and resets it to -1 when the item leaves', () => {
    const heap = new IndexedHeap<Item>(byKey);
    const items = [5, 3, 9, 1, 7].map((k, i) => item(k, i));
    for (const x of items) heap.push(x);
    for (const x of items) expect(heap.has(x)).toBe(true);
    const positions = items.map((x) => x.heapIndex).sort((a, b) => a - b);
    expect(positions).toEqual([0, 1, 2, 3, 4]);
    const top = heap.pop()!;
    expect(top.key).toBe(1);
    expect(top.heapIndex).toBe(-1);
    const nine = items[2]!;
    expect(heap.remove(nine)).toBe(true);
    expect(nine.heapIndex).toBe(-1);
    expect(heap.remove(nine)).toBe(false);
    expect(drain(heap).map((x) => x.key)).toEqual([3, 5, 7]);
  });

  it('refuses an item another heap holds, and takes it once that heap let it go', () => {
    const a = new IndexedHeap<Item>(byKey);
    const b = new IndexedHeap<Item>(byKey);
    const x = item(1, 1);
    a.push(x);
    expect(() => b.push(x)).toThrow(/already in a heap/);
    expect(() => a.push(x)).toThrow(/already in a heap/);
    // A heap never answers for an item held at the same position by another heap.
    const y = item(2, 2);
    b.push(y);
    expect(a.has(y)).toBe(false);
    expect(a.remove(y)).toBe(false);
    expect(a.update(y)).toBe(false);
    expect(a.pop()).toBe(x);
    b.push(x);
    expect(drain(b)).toEqual([x, y]);
  });

  it('matches a sorted array under random push/pop/remove/update (differential)', () => {
    const random = rng(7);
    const heap = new IndexedHeap<Item>(byKey);
    let model: Item[] = [];
    let nextId = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.45 || model.length === 0) {
        const x = item(Math.floor(random() * 100), nextId++);
        heap.push(x);
        model.push(x);
      } else if (r < 0.7) {
        model.sort(byKey);
        expect(heap.pop()).toBe(model.shift());
      } else if (r < 0.9) {
        const victim = model[Math.floor(random() * model.length)]!;
        model = model.filter((x) => x !== victim);
        expect(heap.remove(victim)).toBe(true);
      } else {
        const target = model[Math.floor(random() * model.length)]!;
        target.key = Math.floor(random() * 100);
        expect(heap.update(target)).toBe(true);
      }
      expect(heap.size).toBe(model.length);
      if (step % 97 === 0) {
        model.sort(byKey);
        expect(heap.peek()).toBe(model[0]);
        for (const x of model) expect(heap.has(x)).toBe(true);
      }
    }
    model.sort(byKey);
    expect(drain(heap)).toEqual(model);
  });
});
