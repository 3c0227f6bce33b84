import { LaneQueue } from './lane-queue.js';
import type { SchedulerEntry } from './types.js';

// The two-dimensional caps of PriorityScheduler. An entry is limited by up to two *names*: its
// `group` and its `pool` (the transport it runs on). Names share one namespace: the cap and the
// pause of name X apply wherever X appears, as a group or as a pool. Entries with the same
// (group, pool) pair wait in one *lane*: a heap ordered by priority. A lane may admit when it is
// non-empty and each of its names is *open* (not paused, running below its cap). Only a name
// that opens or closes changes the admissibility of lanes, so only then are its lanes looked at.

/** A queued, delayed or running entry. */
export interface Node {
  readonly entry: SchedulerEntry;
  readonly priority: number;
  readonly order: number;
  readonly seq: number;
  readonly runAt: number;
  readonly lane: Lane;
  delayed: boolean;
  /** Whether it waits in its lane's queue now (kept by the queue). */
  queued: boolean;
  /** Admitted (by `next()` or `markRunning()`) and not released yet. */
  running: boolean;
  /** Position in the delayed heap (-1 when not in it). */
  heapIndex: number;
}

/** Cap, pause and running count of one name (a group or a pool). */
export interface Limit {
  readonly name: string;
  cap: number;
  paused: boolean;
  running: number;
  /** Lanes whose entries this name limits. */
  readonly lanes: Set<Lane>;
}

/** Entries that share a (group, pool) pair. */
export interface Lane {
  readonly key: string;
  /** The distinct names limiting this lane (0, 1 or 2). */
  readonly limits: readonly Limit[];
  readonly heap: LaneQueue<Node>;
  /** Its entries waiting in the delayed heap. */
  delayedCount: number;
  /** Its entries counted as running. */
  running: number;
  /** Position in the scheduler's heap of admissible lanes (-1 when not admissible). */
  heapIndex: number;
}

/** Higher priority, then lower order, then earlier insertion. */
export function byPriority(a: Node, b: Node): number {
  return b.priority - a.priority || a.order - b.order || a.seq - b.seq;
}

/** Earlier runAt first, then {@link byPriority}. */
export function byRunAt(a: Node, b: Node): number {
  return a.runAt - b.runAt || byPriority(a, b);
}

/** Lanes by their best entries; empty lanes last. */
export function byHead(a: Lane, b: Lane): number {
  const x = a.heap.peek();
  const y = b.heap.peek();
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  return byPriority(x, y);
}

/** Whether a name lets entries through now. */
export function isOpen(limit: Limit): boolean {
  return !limit.paused && limit.running < limit.cap;
}

/**
 * The names and lanes of a scheduler, created on demand and dropped once they hold nothing
 * worth remembering (so one-off group names do not accumulate).
 */
export class LaneTable {
  readonly limits = new Map<string, Limit>();
  private readonly lanes = new Map<string, Lane>();

  /** The limit of `name`, created with no cap if unknown. */
  limit(name: string): Limit {
    let limit = this.limits.get(name);
    if (limit === undefined) {
      limit = { name, cap: Infinity, paused: false, running: 0, lanes: new Set() };
      this.limits.set(name, limit);
    }
    return limit;
  }

  /** The lane of a (group, pool) pair, created if unknown. */
  lane(group: string | undefined, pool: string | undefined): Lane {
    // Distinct prefixes keep `undefined` apart from any string, the empty one included.
    const key = `${group === undefined ? '-' : `g${group}`}\u0000${pool === undefined ? '-' : `p${pool}`}`;
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      const limits: Limit[] = [];
      if (group !== undefined) limits.push(this.limit(group));
      if (pool !== undefined && pool !== group) limits.push(this.limit(pool));
      lane = { key, limits, heap: new LaneQueue<Node>(), delayedCount: 0, running: 0, heapIndex: -1 };
      for (const l of limits) l.lanes.add(lane);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Drops a lane that holds nothing, then its names if they hold nothing either. */
  forgetLane(lane: Lane): void {
    if (lane.heap.size > 0 || lane.delayedCount > 0 || lane.running > 0) return;
    if (this.lanes.get(lane.key) !== lane) return;
    this.lanes.delete(lane.key);
    for (const l of lane.limits) {
      l.lanes.delete(lane);
      this.forgetLimit(l);
    }
  }

  /** Drops a name with no lanes, nothing running, no pause and no cap. */
  forgetLimit(limit: Limit): void {
    if (limit.lanes.size > 0 || limit.running > 0 || limit.paused || limit.cap !== Infinity) return;
    if (this.limits.get(limit.name) === limit) this.limits.delete(limit.name);
  }
}
