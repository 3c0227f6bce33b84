import type { TimerHandle } from '../clock.js';
import type { TaskRecord, TransportHandle } from '../task.js';
import type { Transport } from '../transports/types.js';

/** Why the executor is ending an attempt itself. */
export type KillReason = 'cancelled' | 'timeout' | 'output_limit' | 'shutdown' | 'executor_restart';

/** What only this process knows about a running attempt. */
export interface Live {
  transport: Transport;
  handle?: TransportHandle;
  killReason?: KillReason;
  graceMs?: number;
  killing?: Promise<void>;
  timeoutTimer?: TimerHandle;
  done: boolean;
  /** Settles once the attempt's end has been fully processed. */
  ended: Promise<void>;
  markEnded: () => void;
}

/** In-memory-only parts of a task's spec (functions and signals cannot be persisted). */
export interface Extras {
  backoffFn?: (attempt: number) => number;
  retryOnFn?: (record: TaskRecord) => boolean;
  detachSignal?: () => void;
  /** Secret environment values: held here only, never in the record or the store. */
  secretEnv?: Readonly<Record<string, string>>;
}

/** How an attempt ended, as recorded. */
export interface AttemptEnd {
  exitCode: number | null;
  signal: string | null;
  reason?: string;
  endedAt: number;
}

export function createLive(transport: Transport, handle?: TransportHandle): Live {
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  return { transport, ...(handle ? { handle } : {}), done: false, ended, markEnded };
}

/** Calls a transport method so that a synchronous throw becomes a rejection (a bad handle must not break dispatch). */
export function callTransport<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
