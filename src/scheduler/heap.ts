/**
 * Orders two items: negative when `a` comes out first, positive when `b` does, 0 when equal.
 */
export type Comparator<T> = (a: T, b: T) => number;

/**
 * A binary min-heap over a comparator (the item that compares lowest is popped first), with
 * O(log n) removal and re-positioning of any item it holds.
 *
 * Each item's position is tracked in a map keyed by the item itself, so items must be distinct
 * (objects by identity, or distinct primitives); pushing an item already held throws. Items must
 * not change their ordering while held unless {@link BinaryHeap.update} is called right after.
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];
  private readonly index = new Map<T, number>();
  private readonly compare: Comparator<T>;

  constructor(compare: Comparator<T>) {
    this.compare = compare;
  }

  /** Number of items held. */
  get size(): number {
    return this.items.length;
  }

  /** Whether `item` is held. */
  has(item: T): boolean {
    return this.index.has(item);
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item. O(log n). Throws if the item is already held. */
  push(item: T): void {
    if (this.index.has(item)) throw new Error('BinaryHeap.push: item is already in the heap');
    this.items.push(item);
    this.siftUp(this.items.length - 1, item);
  }

  /** Removes and returns the first item. O(log n). */
  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0] as T;
    this.index.delete(top);
    const last = items.pop() as T;
    if (items.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Removes `item` wherever it is. O(log n). Returns false if it was not held. */
  remove(item: T): boolean {
    const i = this.index.get(item);
    if (i === undefined) return false;
    this.index.delete(item);
    const items = this.items;
    const last = items.pop() as T;
    if (i < items.length) this.place(i, last);
    return true;
  }

  /** Restores order after `item`'s key changed. O(log n). Returns false if it was not held. */
  update(item: T): boolean {
    const i = this.index.get(item);
    if (i === undefined) return false;
    this.place(i, item);
    return true;
  }

  /** Removes every item. */
  clear(): void {
    this.items.length = 0;
    this.index.clear();
  }

  /** The held items in heap (not sorted) order; a copy. */
  toArray(): T[] {
    return this.items.slice();
  }

  // Puts `item` into the hole at `i`, moving it up or down as its key requires.
  private place(i: number, item: T): void {
    if (i > 0 && this.compare(item, this.items[(i - 1) >> 1] as T) < 0) this.siftUp(i, item);
    else this.siftDown(i, item);
  }

  // Hole-based sifting: parents/children move into the hole and `item` is written once.
  private siftUp(i: number, item: T): void {
    const items = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p] as T;
      if (this.compare(item, parent) >= 0) break;
      items[i] = parent;
      this.index.set(parent, i);
      i = p;
    }
    items[i] = item;
    this.index.set(item, i);
  }

  private siftDown(i: number, item: T): void {
    const items = this.items;
    const n = items.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let child = items[c] as T;
      const r = c + 1;
      if (r < n) {
        const right = items[r] as T;
        if (this.compare(right, child) < 0) {
          c = r;
          child = right;
        }
      }
      if (this.compare(child, item) >= 0) break;
      items[i] = child;
      this.index.set(child, i);
      i = c;
    }
    items[i] = item;
    this.index.set(item, i);
  }
}
