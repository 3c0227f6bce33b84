import { availableParallelism } from 'node:os';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { InvalidArgumentError, InvalidSpecError, QueueFullError } from '../errors.js';
import { BinaryHeap } from './heap.js';
import type { AddOptions, Scheduler, SchedulerCounts, SchedulerEntry } from './types.js';

/** Options of {@link PriorityScheduler}. */
export interface PrioritySchedulerOptions {
  /** Global cap on running entries: an integer ≥ 1 or `Infinity`. Default `os.availableParallelism()`. */
  concurrency?: number;
  /**
   * Per-group caps on running entries: integers ≥ 0 or `Infinity`. A cap of 0 blocks the group
   * (its entries stay queued until the cap is raised). Groups not listed have no cap of their own.
   */
  groups?: Record<string, number>;
  /** Most entries waiting (queued + delayed, not running): an integer ≥ 0 or `Infinity` (default). */
  maxQueueSize?: number;
  /** Time source for `runAt`; default {@link systemClock}. */
  clock?: Clock;
}

interface Node {
  readonly entry: SchedulerEntry;
  readonly priority: number;
  readonly order: number;
  readonly seq: number;
  readonly runAt: number;
  readonly queue: GroupQueue;
  delayed: boolean;
}

interface GroupQueue {
  readonly name: string | undefined;
  readonly heap: BinaryHeap<Node>;
  running: number;
  /** Entries of this group waiting in the delayed heap. */
  delayedCount: number;
  cap: number;
  paused: boolean;
}

const OPTION_KEYS = new Set(['concurrency', 'groups', 'maxQueueSize', 'clock']);

// Higher priority, then lower order, then earlier insertion.
function byPriority(a: Node, b: Node): number {
  return b.priority - a.priority || a.order - b.order || a.seq - b.seq;
}

function byRunAt(a: Node, b: Node): number {
  return a.runAt - b.runAt || byPriority(a, b);
}

function byHead(a: GroupQueue, b: GroupQueue): number {
  const x = a.heap.peek();
  const y = b.heap.peek();
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  return byPriority(x, y);
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && (value === Infinity || (Number.isInteger(value) && value >= min));
}

function newQueue(name: string | undefined, cap = Infinity): GroupQueue {
  return { name, heap: new BinaryHeap(byPriority), running: 0, delayedCount: 0, cap, paused: false };
}

/**
 * The default {@link Scheduler}: higher `priority` first, FIFO by `order` among equals, under a
 * global cap and optional per-group caps, with delayed entries (`runAt`) and pause/resume.
 *
 * Every operation is O(log n) in the entries held plus O(log g) in the groups: each group keeps
 * its own heap, and a heap of the groups that may admit now (not paused, under their cap, not
 * empty) is ordered by their best entries, so a group at its cap never hides another group's work.
 * Entries counted as running beyond a cap (via `markRunning`) only delay admissions.
 */
export class PriorityScheduler implements Scheduler {
  readonly clock: Clock;
  readonly concurrency: number;
  /** Most entries that may wait (queued + delayed). */
  readonly maxQueueSize: number;

  private readonly waiting = new Map<string, Node>();
  private readonly running = new Map<string, GroupQueue>();
  private readonly groups = new Map<string, GroupQueue>();
  private readonly ungrouped = newQueue(undefined);
  private readonly admissible = new BinaryHeap<GroupQueue>(byHead);
  private readonly delayed = new BinaryHeap<Node>(byRunAt);
  private readyCount = 0;
  private seq = 0;
  private paused = false;

  /** Throws `INVALID_SPEC` naming the offending option (`concurrency`, `groups.<name>`, …). */
  constructor(options: PrioritySchedulerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidSpecError('options', 'must be an object');
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new InvalidSpecError(key, 'unknown option');
    }
    const { concurrency = availableParallelism(), groups, maxQueueSize = Infinity, clock = systemClock } = options;
    if (!isCount(concurrency, 1)) {
      throw new InvalidSpecError('concurrency', `must be an integer ≥ 1 or Infinity, got ${String(concurrency)}`);
    }
    if (!isCount(maxQueueSize, 0)) {
      throw new InvalidSpecError('maxQueueSize', `must be an integer ≥ 0 or Infinity, got ${String(maxQueueSize)}`);
    }
    if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function') {
      throw new InvalidSpecError('clock', 'must be a Clock with a now() method');
    }
    if (groups !== undefined) {
      if (groups === null || typeof groups !== 'object' || Array.isArray(groups)) {
        throw new InvalidSpecError('groups', 'must be a record of group name → cap');
      }
      for (const [name, cap] of Object.entries(groups)) {
        if (!isCount(cap, 0)) {
          throw new InvalidSpecError(`groups.${name}`, `must be an integer ≥ 0 or Infinity, got ${String(cap)}`);
        }
      }
    }
    this.concurrency = concurrency;
    this.maxQueueSize = maxQueueSize;
    this.clock = clock;
    for (const [name, cap] of Object.entries(groups ?? {})) this.groups.set(name, newQueue(name, cap));
  }

  /**
   * Queues an entry, delayed while `runAt > clock.now()`. Throws `QUEUE_FULL` when
   * `maxQueueSize` entries already wait (unless `force`), and `INVALID_ARGUMENT` for an id
   * already queued, delayed or running, or a non-finite priority, order or runAt.
   */
  add(entry: SchedulerEntry, options?: AddOptions): void {
    const { id, priority, order, runAt, group } = entry;
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('id', 'must be a non-empty string');
    if (!Number.isFinite(priority)) throw new InvalidArgumentError('priority', `must be a finite number, got ${String(priority)}`);
    if (!Number.isFinite(order)) throw new InvalidArgumentError('order', `must be a finite number, got ${String(order)}`);
    if (runAt !== undefined && !Number.isFinite(runAt)) {
      throw new InvalidArgumentError('runAt', `must be a finite number, got ${String(runAt)}`);
    }
    if (group !== undefined && typeof group !== 'string') throw new InvalidArgumentError('group', 'must be a string');
    if (this.has(id)) throw new InvalidArgumentError('id', `${JSON.stringify(id)} is already scheduled`);
    if (options?.force !== true && this.waiting.size >= this.maxQueueSize) throw new QueueFullError(this.maxQueueSize);

    const queue = this.queueOf(group);
    const node: Node = { entry, priority, order, seq: this.seq++, runAt: runAt ?? -Infinity, queue, delayed: false };
    this.waiting.set(id, node);
    if (node.runAt > this.clock.now()) {
      node.delayed = true;
      queue.delayedCount++;
      this.delayed.push(node);
    } else {
      this.enqueue(node);
    }
  }

  /** Drops a queued or delayed entry in O(log n). False when it is not waiting (unknown or running). */
  remove(id: string): boolean {
    const node = this.waiting.get(id);
    if (node === undefined) return false;
    this.waiting.delete(id);
    if (node.delayed) {
      this.delayed.remove(node);
      node.queue.delayedCount--;
    } else {
      node.queue.heap.remove(node);
      this.readyCount--;
      this.refresh(node.queue);
    }
    this.forget(node.queue);
    return true;
  }

  /** Pops the best admissible entry (the very object passed to `add`) and counts it as running. */
  next(): SchedulerEntry | undefined {
    this.promoteDue();
    if (this.paused || this.running.size >= this.concurrency) return undefined;
    const queue = this.admissible.peek();
    if (queue === undefined) return undefined;
    const node = queue.heap.pop() as Node;
    this.readyCount--;
    this.waiting.delete(node.entry.id);
    this.running.set(node.entry.id, queue);
    queue.running++;
    this.refresh(queue);
    return node.entry;
  }

  release(id: string): void {
    const queue = this.running.get(id);
    if (queue === undefined) return;
    this.running.delete(id);
    queue.running--;
    this.refresh(queue);
    this.forget(queue);
  }

  /**
   * Counts an entry as running without queueing it, even past the caps (the process exists
   * already). Throws `INVALID_ARGUMENT` if the id is already queued, delayed or running.
   */
  markRunning(entry: Pick<SchedulerEntry, 'id' | 'group'>): void {
    if (this.has(entry.id)) throw new InvalidArgumentError('id', `${JSON.stringify(entry.id)} is already scheduled`);
    const queue = this.queueOf(entry.group);
    this.running.set(entry.id, queue);
    queue.running++;
    this.refresh(queue);
  }

  nextWakeAt(): number | undefined {
    this.promoteDue();
    return this.delayed.peek()?.runAt;
  }

  /** Without a group: stops all admissions. With one: stops that group's (remembered even while it is empty). */
  pause(group?: string): void {
    if (group === undefined) {
      this.paused = true;
      return;
    }
    const queue = this.queueOf(group);
    queue.paused = true;
    this.refresh(queue);
  }

  resume(group?: string): void {
    if (group === undefined) {
      this.paused = false;
      return;
    }
    const queue = this.groups.get(group);
    if (queue === undefined) return;
    queue.paused = false;
    this.refresh(queue);
    this.forget(queue);
  }

  /** Without a group: the global pause. With one: that group's own pause, regardless of the global one. */
  isPaused(group?: string): boolean {
    if (group === undefined) return this.paused;
    return this.groups.get(group)?.paused ?? false;
  }

  /**
   * Sets a group's cap (an integer ≥ 0 or `Infinity`; 0 blocks the group) or removes it with
   * `undefined`. Lowering a cap below the group's running count only holds back new admissions.
   * Throws `INVALID_ARGUMENT` (field `cap`) for any other value.
   */
  setGroupCap(group: string, cap: number | undefined): void {
    if (cap !== undefined && !isCount(cap, 0)) {
      throw new InvalidArgumentError('cap', `must be an integer ≥ 0 or Infinity, got ${String(cap)}`);
    }
    const queue = this.queueOf(group);
    queue.cap = cap ?? Infinity;
    this.refresh(queue);
    this.forget(queue);
  }

  /** A group's cap (`Infinity` when it has none). */
  groupCap(group: string): number {
    return this.groups.get(group)?.cap ?? Infinity;
  }

  /** Whether the id is queued, delayed or running. */
  has(id: string): boolean {
    return this.waiting.has(id) || this.running.has(id);
  }

  counts(): SchedulerCounts {
    this.promoteDue();
    return { queued: this.readyCount, delayed: this.delayed.size, running: this.running.size };
  }

  runningCount(group?: string): number {
    if (group === undefined) return this.running.size;
    return this.groups.get(group)?.running ?? 0;
  }

  private queueOf(group: string | undefined): GroupQueue {
    if (group === undefined) return this.ungrouped;
    let queue = this.groups.get(group);
    if (queue === undefined) {
      queue = newQueue(group);
      this.groups.set(group, queue);
    }
    return queue;
  }

  private enqueue(node: Node): void {
    node.delayed = false;
    node.queue.heap.push(node);
    this.readyCount++;
    this.refresh(node.queue);
  }

  private promoteDue(): void {
    const delayed = this.delayed;
    if (delayed.size === 0) return;
    const now = this.clock.now();
    for (let node = delayed.peek(); node !== undefined && node.runAt <= now; node = delayed.peek()) {
      delayed.pop();
      node.queue.delayedCount--;
      this.enqueue(node);
    }
  }

  // Keeps the invariant: a group is in `admissible` iff it is non-empty, not paused and under its cap.
  private refresh(queue: GroupQueue): void {
    const ok = queue.heap.size > 0 && !queue.paused && queue.running < queue.cap;
    if (!ok) this.admissible.remove(queue);
    else if (!this.admissible.update(queue)) this.admissible.push(queue);
  }

  // Drops a group that holds nothing worth remembering, so one-off group names do not accumulate.
  private forget(queue: GroupQueue): void {
    if (queue.name === undefined || queue.heap.size > 0 || queue.running > 0) return;
    if (queue.delayedCount > 0 || queue.paused || queue.cap !== Infinity) return;
    this.groups.delete(queue.name);
  }
}
