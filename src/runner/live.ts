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
  /** Submitted to a queueing transport and not yet running (see `Transport.whenRunning`). */
  pending?: boolean;
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
  /** Consecutive starts the transport refused before anything ran (reset by a start that succeeds). */
  refusedStarts?: number;
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

/**
 * Whether a failed `transport.start()` ran nothing at all: the transport could not even reach
 * its host (`TRANSPORT_UNREACHABLE` with `refused: true`, as the SSH transports report a refused
 * or unresolvable connection). Such an attempt can be made again without any risk of running
 * the command twice.
 */
export function isRefusedStart(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; refused?: unknown };
  return e.code === 'TRANSPORT_UNREACHABLE' && e.refused === true;
}

/** Calls a transport method so that a synchronous throw becomes a rejection (a bad handle must not break dispatch). */
export function callTransport<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The note of a pending attempt: what its transport says about it (e.g. Slurm's job id). */
export function pendingNote(handle: TransportHandle): string {
  const note = handle['pendingNote'];
  return typeof note === 'string' && note !== '' ? note : 'pending: submitted, waiting to run';
}
