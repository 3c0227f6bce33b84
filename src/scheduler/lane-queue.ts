import { IndexedHeap, type HeapSlot } from './indexed-heap.js';

/** What a {@link LaneQueue} orders: a priority, then submission order, then insertion. */
export interface QueuedItem {
  readonly priority: number;
  readonly order: number;
  readonly seq: number;
  /** Whether the item is in a lane queue now (set and cleared by the queue). */
  queued: boolean;
}

// The items of one priority, in (order, seq) order from `head`; removed ones are skipped lazily.
interface Bucket<T> extends HeapSlot {
  readonly priority: number;
  items: T[];
  head: number;
  live: number;
}

// Compact a bucket's array once this many popped slots lead it and they are most of it.
const COMPACT_AT = 1024;

const byOrder = (a: QueuedItem, b: QueuedItem): number => a.order - b.order || a.seq - b.seq;

/**
 * The entries waiting in one lane: highest priority first, then lowest order, then earliest
 * insertion — the order of a heap by those keys, kept instead as one FIFO bucket per distinct
 * priority plus a small heap of the buckets. A pop of a 100,000-entry binary heap walks 17
 * levels of nodes spread over memory (a cache miss per comparison); here FIFO entries (one
 * priority) pop in O(1), and random priorities pop from a heap of as many buckets as there are
 * distinct priorities. An entry that comes in out of order (a retry keeps its submission order)
 * is placed by binary search; a removed one is skipped when it reaches the front.
 */
export class LaneQueue<T extends QueuedItem> {
  #size = 0;
  readonly #buckets = new Map<number, Bucket<T>>();
  readonly #heap = new IndexedHeap<Bucket<T>>((a, b) => b.priority - a.priority);

  /** Entries queued (removed ones not counted). */
  get size(): number {
    return this.#size;
  }

  /** Queues an item (it must not be queued already). */
  push(item: T): void {
    if (item.queued) throw new Error('LaneQueue.push: item is already queued');
    let bucket = this.#buckets.get(item.priority);
    if (bucket === undefined) {
      bucket = { priority: item.priority, items: [], head: 0, live: 0, heapIndex: -1 };
      this.#buckets.set(item.priority, bucket);
      this.#heap.push(bucket);
    }
    const items = bucket.items;
    const last = items[items.length - 1];
    if (last === undefined || items.length === bucket.head || byOrder(last, item) < 0) {
      items.push(item);
    } else {
      // Out of order: the first position at or after `head` whose item sorts after it.
      let lo = bucket.head;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (byOrder(items[mid] as T, item) < 0) lo = mid + 1;
        else hi = mid;
      }
      items.splice(lo, 0, item);
    }
    item.queued = true;
    bucket.live++;
    this.#size++;
  }

  /** The entry that pops next, if any. */
  peek(): T | undefined {
    const bucket = this.#heap.peek();
    return bucket === undefined ? undefined : this.#front(bucket);
  }

  /** Takes the entry that comes first out, if any. */
  pop(): T | undefined {
    const bucket = this.#heap.peek();
    if (bucket === undefined) return undefined;
    const item = this.#front(bucket) as T;
    bucket.items[bucket.head] = undefined as unknown as T; // nothing kept alive by a popped slot
    bucket.head++;
    this.#taken(bucket, item);
    return item;
  }

  /** Takes a queued entry out wherever it is; false if it is not queued. */
  remove(item: T): boolean {
    if (!item.queued) return false;
    const bucket = this.#buckets.get(item.priority);
    if (bucket === undefined) return false;
    this.#taken(bucket, item);
    return true;
  }

  #taken(bucket: Bucket<T>, item: T): void {
    item.queued = false;
    bucket.live--;
    this.#size--;
    if (bucket.live > 0) return;
    this.#heap.remove(bucket);
    this.#buckets.delete(bucket.priority);
  }

  // The first live entry of a bucket, dropping popped and removed slots before it.
  #front(bucket: Bucket<T>): T | undefined {
    const items = bucket.items;
    let head = bucket.head;
    while (head < items.length && !(items[head] as T).queued) items[head++] = undefined as unknown as T;
    if (head >= COMPACT_AT && head * 2 >= items.length) {
      bucket.items = items.slice(head);
      head = 0;
    }
    bucket.head = head;
    return bucket.items[head];
  }
}
