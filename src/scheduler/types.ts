import type { Clock } from '../clock.js';

/** What the scheduler knows about a task: enough to order and cap it, nothing more. */
export interface SchedulerEntry {
  /** The task id. */
  id: string;
  /** Higher runs first. */
  priority: number;
  /** Concurrency group; undefined means only the global cap applies. */
  group?: string;
  /**
   * Second concurrency dimension, normally the name of the transport the entry runs on. Caps
   * and pauses are per name and apply to groups and pools alike, so an entry is admitted only
   * while both its group and its pool are open.
   */
  pool?: string;
  /** Tie-breaker: lower runs first among equal priorities (FIFO). */
  order: number;
  /** Not admissible before this time (clock ms): a delay or retry backoff. */
  runAt?: number;
}

/** Options of {@link Scheduler.add}. */
export interface AddOptions {
  /** Accept even when the queue is full (retries and recovery of tasks already accepted). */
  force?: boolean;
}

/** Sizes of the scheduler's sets. */
export interface SchedulerCounts {
  /** Admissible now (ready), excluding delayed. */
  queued: number;
  /** Waiting for their `runAt`. */
  delayed: number;
  /** Counted as running (admitted by `next()` or `markRunning()`, not yet released). */
  running: number;
}

/**
 * Decides which queued task runs next and when. Pure logic over an injected clock: it never
 * starts anything or sets a timer; the executor asks `next()` whenever something changed and
 * sets one timer for `nextWakeAt()`.
 */
export interface Scheduler {
  /** The clock for `runAt` times; the executor runs all its timers on it too. */
  readonly clock: Clock;
  /** Global cap on running entries. */
  readonly concurrency: number;
  /** Most entries that may wait (queued + delayed) before `add` throws QUEUE_FULL. */
  readonly maxQueueSize: number;
  /**
   * Queues an entry (delayed when `runAt` is in the future). Throws `QUEUE_FULL` when
   * `maxQueueSize` entries are already waiting, unless `force`. Throws on a duplicate id.
   */
  add(entry: SchedulerEntry, options?: AddOptions): void;
  /** Drops a queued or delayed entry. Returns false if it was not queued (e.g. running). */
  remove(id: string): boolean;
  /** Pops the best admissible entry (priority, then FIFO, under the caps) and counts it as running. */
  next(): SchedulerEntry | undefined;
  /** Marks a running entry finished, freeing its slot. Unknown ids are ignored. */
  release(id: string): void;
  /** Counts an entry as running without it having been queued (recovery of re-attached attempts). */
  markRunning(entry: Pick<SchedulerEntry, 'id' | 'group' | 'pool'>): void;
  /** Earliest `runAt` among delayed entries, if any. */
  nextWakeAt(): number | undefined;
  /** Stops admitting entries globally, or of one name (the entries whose group or pool it is). */
  pause(group?: string): void;
  /** Undoes `pause()`: globally without a name, or for one name. */
  resume(group?: string): void;
  /** Whether admissions are paused globally (no name) or for that name. */
  isPaused(group?: string): boolean;
  /** Whether the id is queued, delayed or running here. */
  has(id: string): boolean;
  /** How many entries are queued, delayed and running. */
  counts(): SchedulerCounts;
  /** Running entries of a name — a group or a pool — (or overall without one). */
  runningCount(group?: string): number;
}
