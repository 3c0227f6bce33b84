import type { TimerHandle } from '../clock.js';
import type { ResolvedOptions } from '../executor-options.js';
import { MAX_TIMER_MS } from '../validate-spec.js';

/** What the dispatcher asks of the runner. */
export interface DispatchHooks {
  /** Whether the executor's state lets tasks start. */
  canDispatch(): boolean;
  /** Starts an attempt of a task the scheduler admitted. */
  start(id: string): void;
  /** Moves tasks whose delay or backoff has passed back to `queued`. */
  promoteDue(): void;
}

/**
 * When the runner dispatches: at most once per microtask however often it is asked, and again
 * at the scheduler's next due time (one timer).
 */
export class Dispatcher {
  readonly #o: ResolvedOptions;
  readonly #hooks: DispatchHooks;
  #queued = false;
  #wakeTimer: TimerHandle | undefined;
  #wakeAt: number | undefined;

  constructor(options: ResolvedOptions, hooks: DispatchHooks) {
    this.#o = options;
    this.#hooks = hooks;
  }

  /** Dispatches in a microtask (once, however many calls come before it runs). */
  schedule(): void {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.#dispatch();
    });
  }

  /** Cancels the wake timer. */
  clearWake(): void {
    if (this.#wakeTimer !== undefined) this.#o.clock.clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#wakeAt = undefined;
  }

  #dispatch(): void {
    if (!this.#hooks.canDispatch()) return;
    const { scheduler } = this.#o;
    for (let entry = scheduler.next(); entry; entry = scheduler.next()) this.#hooks.start(entry.id);
    this.#armWake();
  }

  #armWake(): void {
    const at = this.#o.scheduler.nextWakeAt();
    if (at === this.#wakeAt) return;
    this.clearWake();
    if (at === undefined) return;
    const { clock } = this.#o;
    this.#wakeAt = at;
    this.#wakeTimer = clock.setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeAt = undefined;
      this.#hooks.promoteDue();
      this.#dispatch();
    }, Math.min(Math.max(0, at - clock.now()), MAX_TIMER_MS));
  }
}
