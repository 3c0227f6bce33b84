import { availableParallelism } from 'node:os';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { describeValue, readArgs, stringArg } from '../args.js';
import { InvalidArgumentError, InvalidSpecError, QueueFullError } from '../errors.js';
import { IndexedHeap } from './indexed-heap.js';
import { LaneTable, byHead, byRunAt, isOpen, type Lane, type Limit, type Node } from './lanes.js';
import type { AddOptions, Scheduler, SchedulerCounts, SchedulerEntry } from './types.js';

/** Options of {@link PriorityScheduler}. */
export interface PrioritySchedulerOptions {
  /** Global cap on running entries: an integer ≥ 1 or `Infinity`. Default `os.availableParallelism()`. */
  concurrency?: number;
  /**
   * Caps on running entries per name: integers ≥ 0 or `Infinity`. A name caps the entries whose
   * `group` or `pool` (their transport) it is, so `{ build1: 4 }` caps the transport `build1`
   * and a task of a capped group on a capped transport is held by both. A cap of 0 blocks the
   * name (its entries stay queued until the cap is raised). Names not listed have no cap.
   */
  groups?: Record<string, number>;
  /** Most entries waiting (queued + delayed, not running): an integer ≥ 0 or `Infinity` (default). */
  maxQueueSize?: number;
  /** Time source for `runAt`; default {@link systemClock}. */
  clock?: Clock;
}

const OPTION_KEYS = new Set(['concurrency', 'groups', 'maxQueueSize', 'clock']);

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && (value === Infinity || (Number.isInteger(value) && value >= min));
}

/**
 * The default {@link Scheduler}: higher `priority` first, FIFO by `order` among equals, under a
 * global cap and optional caps per name — an entry's `group` and its `pool` (its transport) —
 * with delayed entries (`runAt`) and pause/resume.
 *
 * Entries sharing a (group, pool) pair wait in one queue (a lane: see `LaneQueue`); a heap of
 * the lanes that may admit now (non-empty, and each of their names unpaused and under its cap)
 * is ordered by their best entries, so a capped group or pool never hides other work. Every
 * operation is O(log p) in the distinct priorities of a lane (O(1) for FIFO entries; an entry
 * that comes back with an earlier order is placed by binary search and an array insert) plus
 * O(log l) in the lanes; a name that opens or closes (reaches or leaves its cap, is paused or
 * resumed) also re-checks its own lanes — the pools its group runs on, or the
 * groups running on its pool. Entries counted as running beyond a cap (via `markRunning`) only
 * delay admissions.
 */
export class PriorityScheduler implements Scheduler {
  readonly clock: Clock;
  readonly concurrency: number;
  /** Most entries that may wait (queued + delayed). */
  readonly maxQueueSize: number;

  // Every entry known, waiting or running, in one map: an entry admitted changes state, not maps
  // (each lookup in a map of 100,000 ids is a cache miss or two).
  private readonly nodes = new Map<string, Node>();
  private runningTotal = 0;
  private readonly table = new LaneTable();
  private readonly admissible = new IndexedHeap<Lane>(byHead);
  private readonly delayed = new IndexedHeap<Node>(byRunAt);
  private readyCount = 0;
  private seq = 0;
  private paused = false;

  /** Throws `INVALID_SPEC` naming the offending option (`concurrency`, `groups.<name>`, …). */
  constructor(options: PrioritySchedulerOptions = {}) {
    // Each option read once, so that a throwing getter or Proxy trap is refused like bad input.
    const { concurrency = availableParallelism(), groups, maxQueueSize = Infinity, clock = systemClock } = readArgs('options', () => {
      if (options === null || typeof options !== 'object' || Array.isArray(options)) {
        throw new InvalidSpecError('options', `must be an object, got ${describeValue(options)}`);
      }
      for (const key of Object.keys(options)) {
        if (!OPTION_KEYS.has(key)) throw new InvalidSpecError(key, 'unknown option');
      }
      return { ...options };
    }, (field, message) => new InvalidSpecError(field, message));
    if (!isCount(concurrency, 1)) {
      throw new InvalidSpecError('concurrency', `must be an integer ≥ 1 or Infinity, got ${describeValue(concurrency)}`);
    }
    if (!isCount(maxQueueSize, 0)) {
      throw new InvalidSpecError('maxQueueSize', `must be an integer ≥ 0 or Infinity, got ${describeValue(maxQueueSize)}`);
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
          throw new InvalidSpecError(`groups.${name}`, `must be an integer ≥ 0 or Infinity, got ${describeValue(cap)}`);
        }
      }
    }
    this.concurrency = concurrency;
    this.maxQueueSize = maxQueueSize;
    this.clock = clock;
    for (const [name, cap] of Object.entries(groups ?? {})) this.table.limit(name).cap = cap;
  }

  /**
   * Queues an entry, delayed while `runAt > clock.now()`. Throws `QUEUE_FULL` when
   * `maxQueueSize` entries already wait (unless `force`), and `INVALID_ARGUMENT` for an id
   * already queued, delayed or running, or a non-finite priority, order or runAt.
   */
  add(entry: SchedulerEntry, options?: AddOptions): void {
    if (entry === null || typeof entry !== 'object') throw new InvalidArgumentError('entry', `must be an object, got ${describeValue(entry)}`);
    const { id, priority, order, runAt, group, pool } = entry;
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('id', 'must be a non-empty string');
    if (!Number.isFinite(priority)) throw new InvalidArgumentError('priority', `must be a finite number, got ${describeValue(priority)}`);
    if (!Number.isFinite(order)) throw new InvalidArgumentError('order', `must be a finite number, got ${describeValue(order)}`);
    if (runAt !== undefined && !Number.isFinite(runAt)) {
      throw new InvalidArgumentError('runAt', `must be a finite number, got ${describeValue(runAt)}`);
    }
    if (group !== undefined && typeof group !== 'string') throw new InvalidArgumentError('group', 'must be a string');
    if (pool !== undefined && typeof pool !== 'string') throw new InvalidArgumentError('pool', 'must be a string');
    if (this.has(id)) throw new InvalidArgumentError('id', `${JSON.stringify(id)} is already scheduled`);
    if (options?.force !== true && this.readyCount + this.delayed.size >= this.maxQueueSize) throw new QueueFullError(this.maxQueueSize);

    const lane = this.table.lane(group, pool);
    const node: Node = { entry, priority, order, seq: this.seq++, runAt: runAt ?? -Infinity, lane, delayed: false, queued: false, running: false, heapIndex: -1 };
    this.nodes.set(id, node);
    if (node.runAt > this.clock.now()) {
      node.delayed = true;
      lane.delayedCount++;
      this.delayed.push(node);
    } else {
      this.enqueue(node);
    }
  }

  /** Drops a queued or delayed entry in O(log n). False when it is not waiting (unknown or running). */
  remove(id: string): boolean {
    stringArg('id', id);
    const node = this.nodes.get(id);
    if (node === undefined || node.running) return false;
    this.nodes.delete(id);
    if (node.delayed) {
      this.delayed.remove(node);
      node.lane.delayedCount--;
    } else {
      node.lane.heap.remove(node);
      this.readyCount--;
      this.refresh(node.lane);
    }
    this.table.forgetLane(node.lane);
    return true;
  }

  /** Pops the best admissible entry (the very object passed to `add`) and counts it as running. */
  next(): SchedulerEntry | undefined {
    this.promoteDue();
    if (this.paused || this.runningTotal >= this.concurrency) return undefined;
    const lane = this.admissible.peek();
    if (lane === undefined) return undefined;
    const node = lane.heap.pop() as Node;
    this.readyCount--;
    node.running = true;
    this.runningTotal++;
    // Re-placed before any other lane moves: the admissible heap must never compare a lane
    // whose head changed under it.
    this.refresh(lane);
    this.count(lane, 1);
    return node.entry;
  }

  release(id: string): void {
    stringArg('id', id);
    const node = this.nodes.get(id);
    if (node === undefined || !node.running) return;
    this.nodes.delete(id);
    this.runningTotal--;
    const { lane } = node;
    this.count(lane, -1);
    this.table.forgetLane(lane);
  }

  /**
   * Counts an entry as running without queueing it, even past the caps (the process exists
   * already). Throws `INVALID_ARGUMENT` if the id is already queued, delayed or running.
   */
  markRunning(entry: Pick<SchedulerEntry, 'id' | 'group' | 'pool'>): void {
    if (entry === null || typeof entry !== 'object') throw new InvalidArgumentError('entry', `must be an object, got ${describeValue(entry)}`);
    stringArg('id', entry.id);
    stringArg('group', entry.group, true);
    stringArg('pool', entry.pool, true);
    if (this.has(entry.id)) throw new InvalidArgumentError('id', `${JSON.stringify(entry.id)} is already scheduled`);
    const lane = this.table.lane(entry.group, entry.pool);
    // A node that never waited: only its lane and running state matter.
    const node: Node = { entry: entry as SchedulerEntry, priority: 0, order: 0, seq: this.seq++, runAt: -Infinity, lane, delayed: false, queued: false, running: true, heapIndex: -1 };
    this.nodes.set(entry.id, node);
    this.runningTotal++;
    this.count(lane, 1);
  }

  nextWakeAt(): number | undefined {
    this.promoteDue();
    return this.delayed.peek()?.runAt;
  }

  /**
   * Without a name: stops all admissions. With one: stops the admissions of entries whose group
   * or pool it is (remembered even while nothing uses the name).
   */
  pause(group?: string): void {
    stringArg('group', group, true);
    if (group === undefined) {
      this.paused = true;
      return;
    }
    this.change(this.table.limit(group), (l) => {
      l.paused = true;
    });
  }

  resume(group?: string): void {
    stringArg('group', group, true);
    if (group === undefined) {
      this.paused = false;
      return;
    }
    const limit = this.table.limits.get(group);
    if (limit === undefined) return;
    this.change(limit, (l) => {
      l.paused = false;
    });
    this.table.forgetLimit(limit);
  }

  /** Without a name: the global pause. With one: that name's own pause, regardless of the global one. */
  isPaused(group?: string): boolean {
    stringArg('group', group, true);
    if (group === undefined) return this.paused;
    return this.table.limits.get(group)?.paused ?? false;
  }

  /**
   * Sets the cap of a name — a group or a pool (an integer ≥ 0 or `Infinity`; 0 blocks it) — or
   * removes it with `undefined`. Lowering a cap below the running count only holds back new
   * admissions. Throws `INVALID_ARGUMENT` (field `cap`) for any other value.
   */
  setGroupCap(group: string, cap: number | undefined): void {
    stringArg('group', group);
    if (cap !== undefined && !isCount(cap, 0)) {
      throw new InvalidArgumentError('cap', `must be an integer ≥ 0 or Infinity, got ${describeValue(cap)}`);
    }
    const limit = this.table.limit(group);
    this.change(limit, (l) => {
      l.cap = cap ?? Infinity;
    });
    this.table.forgetLimit(limit);
  }

  /** The cap of a name (`Infinity` when it has none). */
  groupCap(group: string): number {
    stringArg('group', group);
    return this.table.limits.get(group)?.cap ?? Infinity;
  }

  /** Whether the id is queued, delayed or running. */
  has(id: string): boolean {
    return this.nodes.has(id);
  }

  counts(): SchedulerCounts {
    this.promoteDue();
    return { queued: this.readyCount, delayed: this.delayed.size, running: this.runningTotal };
  }

  /** Running entries overall, or of one name (entries whose group or pool it is). */
  runningCount(group?: string): number {
    stringArg('group', group, true);
    if (group === undefined) return this.runningTotal;
    return this.table.limits.get(group)?.running ?? 0;
  }

  private enqueue(node: Node): void {
    node.delayed = false;
    node.lane.heap.push(node);
    this.readyCount++;
    this.refresh(node.lane);
  }

  private promoteDue(): void {
    const delayed = this.delayed;
    if (delayed.size === 0) return;
    const now = this.clock.now();
    for (let node = delayed.peek(); node !== undefined && node.runAt <= now; node = delayed.peek()) {
      delayed.pop();
      node.lane.delayedCount--;
      this.enqueue(node);
    }
  }

  // Counts an admission (+1) or a release (-1) against a lane and its names.
  private count(lane: Lane, delta: 1 | -1): void {
    lane.running += delta;
    // change() inlined: twice per task, and a closure per call.
    for (const limit of lane.limits) {
      const before = isOpen(limit);
      limit.running += delta;
      if (isOpen(limit) !== before) for (const other of limit.lanes) this.refresh(other);
    }
    this.refresh(lane);
  }

  // Applies a change to a name; only when it opens or closes do its lanes change admissibility.
  private change(limit: Limit, apply: (l: Limit) => void): void {
    const before = isOpen(limit);
    apply(limit);
    if (isOpen(limit) !== before) for (const lane of limit.lanes) this.refresh(lane);
  }

  // Keeps the invariant: a lane is in `admissible` iff it is non-empty and all its names are open.
  private refresh(lane: Lane): void {
    let ok = lane.heap.size > 0;
    for (const limit of lane.limits) ok &&= isOpen(limit);
    if (!ok) this.admissible.remove(lane);
    else if (!this.admissible.update(lane)) this.admissible.push(lane);
  }
}
