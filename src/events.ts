import type { BgexecError } from './errors.js';
import type { OutputStream } from './transports/types.js';
import type { TaskRecord } from './task.js';

/** Fields every task event carries. */
export interface TaskEventBase {
  /** The task the event is about. */
  taskId: string;
  /** The attempt concerned (1 for the first run; 0 before any start, e.g. on `task:queued`). */
  attempt: number;
  /** Strictly increasing across all events of one executor. */
  seq: number;
  /** Clock time of the event (ms). */
  at: number;
  /** Snapshot of the record after the change. */
  record: TaskRecord;
}

/** A task ended (possibly to be retried); `exitCode`/`signal` of the attempt. */
export interface TaskEndEvent extends TaskEventBase {
  /** Exit code of the attempt; null when a signal ended it or it never ran. */
  exitCode: number | null;
  /** Signal that ended the attempt (e.g. `SIGTERM`), or null. */
  signal: string | null;
  /** Why it ended other than by its own exit: `timeout`, `cancelled`, `output_limit`, … */
  reason?: string;
}

/** Output grew since the last notice. */
export interface TaskOutputEvent extends TaskEventBase {
  /** The stream that grew. */
  stream: OutputStream;
  /** Bytes added since the previous notice for this stream. */
  bytes: number;
  /** Total bytes of the stream so far. */
  totalBytes: number;
}

/** An attempt ended and another will follow. */
export interface TaskRetryingEvent extends TaskEndEvent {
  /** Attempt that will run next. */
  nextAttempt: number;
  /** Backoff before that attempt starts (ms). */
  delayMs: number;
}

/** Executor-level problem (listener failure, store fault, quarantined record). */
export interface ExecutorErrorEvent {
  /** Strictly increasing across all events of one executor. */
  seq: number;
  /** Clock time of the event (ms). */
  at: number;
  /** What went wrong; its `code` says what kind of problem it is. */
  error: BgexecError;
  /** The task concerned, when there is one. */
  taskId?: string;
}

/** The executor has nothing queued, waiting or running. */
export interface IdleEvent {
  /** Strictly increasing across all events of one executor. */
  seq: number;
  /** Clock time of the event (ms). */
  at: number;
}

/**
 * The typed event map of {@link BackgroundExecutor}: one payload object per event.
 * `task:settled` fires once per task, after retries, for any terminal status.
 */
export interface ExecutorEvents {
  /** A task was accepted and is durably queued (also after a retry's backoff or a delay). */
  'task:queued': (event: TaskEventBase) => void;
  /**
   * An attempt was submitted to a transport that queues it (Slurm) and waits there: the task is
   * `running` with a `note` saying it is pending; `task:started` follows once it really runs.
   */
  'task:pending': (event: TaskEventBase) => void;
  /** An attempt started running. */
  'task:started': (event: TaskEventBase) => void;
  /**
   * A running attempt seems to wait for input: all its processes block reading stdin (or the
   * terminal) and it printed nothing since the last look (`record.awaitingInput` is true until
   * output grows, input is written, or it ends). Only on transports that can tell (Linux hosts).
   */
  'task:input_wanted': (event: TaskEventBase) => void;
  /** An attempt's output grew (coalesced: one event per poll, not per write). */
  'task:output': (event: TaskOutputEvent) => void;
  /** An attempt ended and another will follow after `delayMs`. */
  'task:retrying': (event: TaskRetryingEvent) => void;
  /** A task exited with code 0 (final). */
  'task:completed': (event: TaskEndEvent) => void;
  /** A task failed for good: non-zero exit, spawn failure, output limit, … (final). */
  'task:failed': (event: TaskEndEvent) => void;
  /** A task was cancelled by `cancel()`, its `signal`, or shutdown (final). */
  'task:cancelled': (event: TaskEndEvent) => void;
  /** A task's last attempt was killed by its `timeoutMs` (final). */
  'task:timed_out': (event: TaskEndEvent) => void;
  /** A task's process can no longer be accounted for, e.g. after a reboot (final). */
  'task:lost': (event: TaskEndEvent) => void;
  /** A task reached a terminal status, whichever it is; fires once per task, after the specific event. */
  'task:settled': (event: TaskEndEvent) => void;
  /** Nothing is queued, waiting or running any more. */
  idle: (event: IdleEvent) => void;
  /** An executor-level problem no caller could be told about directly. */
  error: (event: ExecutorErrorEvent) => void;
}

/** Name of an executor event. */
export type ExecutorEventName = keyof ExecutorEvents;
