import type { TimerHandle } from '../clock.js';
import type { TaskRecord, TransportHandle } from '../task.js';
import type { Transport } from '../transports/types.js';
import type { StdinChannel } from './stdin-channel.js';

/** Why the executor is ending an attempt itself. */
export type KillReason = 'cancelled' | 'timeout' | 'output_limit' | 'shutdown' | 'executor_restart';

/**
 * What only this process knows about a running attempt. One class with every field set in the
 * constructor, so all attempts share one object shape; the `ended` promise is made only when
 * someone awaits it (cancel, shutdown), not for each of the many attempts nobody waits on.
 */
export class Live {
  transport: Transport;
  handle: TransportHandle | undefined;
  killReason: KillReason | undefined = undefined;
  graceMs: number | undefined = undefined;
  killing: Promise<void> | undefined = undefined;
  timeoutTimer: TimerHandle | undefined = undefined;
  /** Submitted to a queueing transport and not yet running (see `Transport.whenRunning`). */
  pending = false;
  /** The input side of a `stdin: 'pipe'` attempt, made on its first write. */
  stdin: StdinChannel | undefined = undefined;
  /** Polls in a row that found the attempt waiting for input (see `applySizes`). */
  inputWantedPolls = 0;
  done = false;
  #ended: Promise<void> | undefined = undefined;
  #resolveEnded: (() => void) | undefined = undefined;
  #markedEnded = false;

  constructor(transport: Transport, handle?: TransportHandle) {
    this.transport = transport;
    this.handle = handle;
  }

  /** Settles once the attempt's end has been fully processed. */
  get ended(): Promise<void> {
    if (this.#ended === undefined) {
      if (this.#markedEnded) this.#ended = Promise.resolve();
      else this.#ended = new Promise<void>((resolve) => (this.#resolveEnded = resolve));
    }
    return this.#ended;
  }

  /** Marks the end as processed, settling `ended`. */
  markEnded(): void {
    this.#markedEnded = true;
    this.#resolveEnded?.();
  }
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

/** The in-memory state of a new attempt (or of one re-attached by its handle). */
export function createLive(transport: Transport, handle?: TransportHandle): Live {
  return new Live(transport, handle);
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

/**
 * Calls a transport method so that a synchronous throw becomes a rejection (a bad handle must not
 * break dispatch). The method and its arguments are passed rather than a closure: this runs
 * several times per attempt.
 */
export function callTransport<A, T>(transport: Transport, method: (a: A) => Promise<T>, a: A): Promise<T>;
export function callTransport<A, B, T>(transport: Transport, method: (a: A, b: B) => Promise<T>, a: A, b: B): Promise<T>;
export function callTransport(transport: Transport, method: (a: unknown, b?: unknown) => Promise<unknown>, a: unknown, b?: unknown): Promise<unknown> {
  try {
    return b === undefined ? method.call(transport, a) : method.call(transport, a, b);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The note of a pending attempt: what its transport says about it (e.g. Slurm's job id). */
export function pendingNote(handle: TransportHandle): string {
  const note = handle['pendingNote'];
  return typeof note === 'string' && note !== '' ? note : 'pending: submitted, waiting to run';
}
