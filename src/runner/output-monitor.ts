import type { Clock, TimerHandle } from '../clock.js';
import type { TaskRecord } from '../task.js';
import type { PollResult } from '../transports/types.js';
import { callTransport, type Live } from './live.js';

/**
 * One timer for all running attempts: polls their output sizes every `intervalMs` (for
 * `task:output`, followers and output limits). It runs only while attempts are running,
 * and never affects dispatch, which is event-driven.
 */
export class OutputMonitor {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #running: () => Iterable<[TaskRecord, Live]>;
  readonly #onSizes: (record: TaskRecord, live: Live, sizes: PollResult) => void;
  #timer: TimerHandle | undefined;
  #ticking = false;
  #stopped = false;

  constructor(
    clock: Clock,
    intervalMs: number,
    running: () => Iterable<[TaskRecord, Live]>,
    onSizes: (record: TaskRecord, live: Live, sizes: PollResult) => void,
  ) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#running = running;
    this.#onSizes = onSizes;
  }

  /** Arms the timer if something runs and it is not armed. Cheap to call often. */
  ensure(): void {
    if (this.#stopped || this.#timer !== undefined || this.#ticking) return;
    const first = this.#running()[Symbol.iterator]().next();
    if (first.done) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, this.#intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      const polls: Promise<void>[] = [];
      for (const [record, live] of this.#running()) {
        const handle = live.handle;
        if (!handle || live.done) continue;
        polls.push(
          callTransport(live.transport, live.transport.poll, handle).then(
            (sizes) => {
              if (!live.done) this.#onSizes(record, live, sizes);
            },
            // A failed poll is retried on the next tick; the attempt's end comes from wait().
            () => undefined,
          ),
        );
      }
      await Promise.all(polls);
    } finally {
      this.#ticking = false;
    }
    this.ensure();
  }
}
