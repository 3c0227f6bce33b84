import type { Clock, TimerHandle } from '../clock.js';

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

// A macrotask turn: lets promise chains (and setImmediate work) that react to a timer run.
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A {@link Clock} whose time moves only when told to, for tests of delays, backoff and
 * timeouts without waiting.
 *
 * Timers fire only from {@link ManualClock.advance} or {@link ManualClock.runAll}, in time
 * order (ties in the order they were set), with `now()` set to each timer's due time while it
 * runs. Between timers the clock yields one macrotask turn so that code reacting to a timer
 * can set further timers, which fire in the same call if they fall due.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.setTimeout(() => console.log('fired at', clock.now()), 100);
 * await clock.advance(100); // fired at 100
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();

  /** @param start - initial value of `now()` (ms). */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The clock's current time (ms); it moves only through `advance()` and `runAll()`. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`; a negative or non-finite delay counts as 0. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + delay, fn });
    return id;
  }

  /** Cancels a timer; unknown, fired or foreign handles are ignored. */
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (including
   * timers set by those timers), then leaves `now()` at the old time plus `ms`.
   * A timer that throws rejects the returned promise; timers after it stay pending.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance: ms must be a finite number >= 0, got ${ms}`);
    const target = this.#now + ms;
    // Yield first too, so work already in flight can set its timers before we look.
    for (;;) {
      await yieldToEventLoop();
      const timer = this.#earliest(target);
      if (timer === undefined) break;
      this.#fire(timer);
    }
    this.#now = target;
  }

  /**
   * Fires every pending timer in time order, including timers they set, moving `now()` to
   * the last one's due time. Throws after `limit` timers, which catches a timer that keeps
   * re-arming itself.
   */
  async runAll(limit = 10_000): Promise<void> {
    for (let fired = 0; ; fired++) {
      await yieldToEventLoop();
      const timer = this.#earliest(Number.POSITIVE_INFINITY);
      if (timer === undefined) return;
      if (fired >= limit) throw new Error(`runAll: more than ${limit} timers fired; a timer probably re-arms itself`);
      this.#fire(timer);
    }
  }

  /** Number of timers set and neither fired nor cleared. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextTimerAt(): number | undefined {
    return this.#earliest(Number.POSITIVE_INFINITY)?.at;
  }

  // Linear scan: test clocks hold a handful of timers, and ids give insertion order for ties.
  #earliest(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > limit) continue;
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    }
    return best;
  }

  #fire(timer: ManualTimer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }
}
