/**
 * Time source and timer factory. The scheduler and executor take one so tests can drive
 * delays, backoff and timeouts without waiting (see `ManualClock` in `bgexec/testing`).
 */
export interface Clock {
  /** Current time in ms (an epoch time for the system clock). */
  now(): number;
  /** Calls `fn` once, `ms` from now; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/** The real clock: `Date.now()` and Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
