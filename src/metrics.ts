import type { TaskStatus, TerminalStatus } from './task.js';
import { TASK_STATUSES } from './task.js';

/** Executor statistics returned by `metrics()`. */
export interface ExecutorMetrics {
  /** Tasks currently known, by status. */
  counts: Record<TaskStatus, number>;
  /** Tasks running now. */
  running: number;
  /** Queued plus waiting (delay or backoff). */
  queued: number;
  /** Mean wall time of ended attempts, in ms (0 before any). */
  avgRunMs: number;
  /** completed / settled, over the executor's lifetime (0 before any). */
  successRate: number;
  /** Settled tasks per second over the last minute (or since start, if shorter). */
  throughputPerSec: number;
  /** Totals since this executor started. */
  totals: {
    /** Tasks accepted by `submit()`. */
    submitted: number;
    /** Tasks that reached a terminal status. */
    settled: number;
    /** Tasks that ended `completed`. */
    completed: number;
    /** Retries scheduled (attempts that ended and were followed by another). */
    retried: number;
    /** Attempts that ended, retried or not. */
    attempts: number;
  };
}

const WINDOW_S = 60;

/** Incremental counters; O(1) per change so metrics() is cheap at any backlog size. */
export class MetricsTracker {
  readonly counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  submitted = 0;
  settled = 0;
  completed = 0;
  retried = 0;
  attempts = 0;
  #runMsTotal = 0;
  #runCount = 0;
  // Settled counts per second, in a ring covering the last minute.
  readonly #buckets = new Array<number>(WINDOW_S).fill(0);
  readonly #bucketSecond = new Array<number>(WINDOW_S).fill(-1);
  readonly #startedAt: number;

  constructor(now: number) {
    this.#startedAt = now;
  }

  move(from: TaskStatus | undefined, to: TaskStatus | undefined): void {
    if (from) this.counts[from]--;
    if (to) this.counts[to]++;
  }

  attemptEnded(runMs: number): void {
    this.attempts++;
    this.#runMsTotal += Math.max(0, runMs);
    this.#runCount++;
  }

  settledAs(status: TerminalStatus, now: number): void {
    this.settled++;
    if (status === 'completed') this.completed++;
    const second = Math.floor(now / 1000);
    const slot = second % WINDOW_S;
    if (this.#bucketSecond[slot] !== second) {
      this.#bucketSecond[slot] = second;
      this.#buckets[slot] = 0;
    }
    this.#buckets[slot] = (this.#buckets[slot] ?? 0) + 1;
  }

  snapshot(now: number): ExecutorMetrics {
    const second = Math.floor(now / 1000);
    let recent = 0;
    for (let i = 0; i < WINDOW_S; i++) {
      const s = this.#bucketSecond[i] ?? -1;
      if (s > second - WINDOW_S && s <= second) recent += this.#buckets[i] ?? 0;
    }
    const windowS = Math.min(WINDOW_S, Math.max(0.001, (now - this.#startedAt) / 1000));
    return {
      counts: { ...this.counts },
      running: this.counts.running,
      queued: this.counts.queued + this.counts.waiting,
      avgRunMs: this.#runCount === 0 ? 0 : this.#runMsTotal / this.#runCount,
      successRate: this.settled === 0 ? 0 : this.completed / this.settled,
      throughputPerSec: recent / windowS,
      totals: {
        submitted: this.submitted,
        settled: this.settled,
        completed: this.completed,
        retried: this.retried,
        attempts: this.attempts,
      },
    };
  }
}
