import type { BgexecError } from './errors.js';
import type { OutputStream } from './transports/types.js';
import type { TaskRecord } from './task.js';

/** Fields every task event carries. */
export interface TaskEventBase {
  taskId: string;
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
  exitCode: number | null;
  signal: string | null;
  reason?: string;
}

/** Output grew since the last notice. */
export interface TaskOutputEvent extends TaskEventBase {
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
  delayMs: number;
}

/** Executor-level problem (listener failure, store fault, quarantined record). */
export interface ExecutorErrorEvent {
  seq: number;
  at: number;
  error: BgexecError;
  taskId?: string;
}

/** The executor has nothing queued, waiting or running. */
export interface IdleEvent {
  seq: number;
  at: number;
}

/**
 * The typed event map of {@link BackgroundExecutor}: one payload object per event.
 * `task:settled` fires once per task, after retries, for any terminal status.
 */
export interface ExecutorEvents {
  'task:queued': (event: TaskEventBase) => void;
  'task:started': (event: TaskEventBase) => void;
  'task:output': (event: TaskOutputEvent) => void;
  'task:retrying': (event: TaskRetryingEvent) => void;
  'task:completed': (event: TaskEndEvent) => void;
  'task:failed': (event: TaskEndEvent) => void;
  'task:cancelled': (event: TaskEndEvent) => void;
  'task:timed_out': (event: TaskEndEvent) => void;
  'task:lost': (event: TaskEndEvent) => void;
  'task:settled': (event: TaskEndEvent) => void;
  idle: (event: IdleEvent) => void;
  error: (event: ExecutorErrorEvent) => void;
}

/** Name of an executor event. */
export type ExecutorEventName = keyof ExecutorEvents;
