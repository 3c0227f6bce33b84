/**
 * Orders two items: negative when `a` comes out first, positive when `b` does, 0 when equal.
 */
export type Comparator<T> = (a: T, b: T) => number;

/** An item an {@link IndexedHeap} can hold: it carries its own position (-1 while in no heap). */
export interface HeapSlot {
  /** Position in the heap holding the item, -1 when none does. Written by the heap only. */
  heapIndex: number;
}

/**
 * A binary min-heap whose items record their own position (an intrusive heap): removal and
 * re-positioning are O(log n) without a position Map. Such a map costs one `Map.set` per sift
 * step (about 17 per pop at a 100k backlog) and an entry of roughly 40 bytes per held item;
 * here a sift step writes one field.
 *
 * An item may be held by at most one IndexedHeap at a time (its single `heapIndex` says where);
 * pushing an item some heap holds throws.
 */
export class IndexedHeap<T extends HeapSlot> {
  private readonly items: T[] = [];
  private readonly compare: Comparator<T>;

  constructor(compare: Comparator<T>) {
    this.compare = compare;
  }

  /** Number of items held. */
  get size(): number {
    return this.items.length;
  }

  /** Whether this heap holds `item`. */
  has(item: T): boolean {
    const i = item.heapIndex;
    return i >= 0 && this.items[i] === item;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item. O(log n). Throws if the item is already in a heap. */
  push(item: T): void {
    if (item.heapIndex >= 0) throw new Error('IndexedHeap.push: item is already in a heap');
    this.items.push(item);
    this.siftUp(this.items.length - 1, item);
  }

  /** Removes and returns the first item. O(log n). */
  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0] as T;
    top.heapIndex = -1;
    const last = items.pop() as T;
    if (items.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Removes `item` wherever it is. O(log n). Returns false if this heap does not hold it. */
  remove(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.heapIndex;
    item.heapIndex = -1;
    const items = this.items;
    const last = items.pop() as T;
    if (i < items.length) this.place(i, last);
    return true;
  }

  /** Restores order after `item`'s key changed. O(log n). Returns false if this heap does not hold it. */
  update(item: T): boolean {
    if (!this.has(item)) return false;
    this.place(item.heapIndex, item);
    return true;
  }

  // Puts `item` into the hole at `i`, moving it up or down as its key requires.
  private place(i: number, item: T): void {
    if (i > 0 && this.compare(item, this.items[(i - 1) >> 1] as T) < 0) this.siftUp(i, item);
    else this.siftDown(i, item);
  }

  // Hole-based sifting: parents/children move into the hole and `item` is written once.
  private siftUp(i: number, item: T): void {
    const items = this.items;
    const compare = this.compare;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as T;
      if (compare(item, parent) >= 0) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private siftDown(i: number, item: T): void {
    const items = this.items;
    const compare = this.compare;
    const n = items.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let child = items[c] as T;
      const r = c + 1;
      if (r < n) {
        const right = items[r] as T;
        if (compare(right, child) < 0) {
          c = r;
          child = right;
        }
      }
      if (compare(child, item) >= 0) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
