import type { ErrorInfo } from './errors.js';

/** Every status a task can be in. */
export type TaskStatus =
  | 'queued'
  | 'waiting'
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timed_out'
  | 'lost';

/** Statuses after which a task never changes again. */
export type TerminalStatus = 'completed' | 'failed' | 'cancelled' | 'timed_out' | 'lost';

/** Statuses a retry policy may react to (a cancelled task is never retried). */
export type RetryableStatus = 'failed' | 'timed_out' | 'lost';

export const TASK_STATUSES: readonly TaskStatus[] = [
  'queued', 'waiting', 'running', 'completed', 'failed', 'cancelled', 'timed_out', 'lost',
];

export const TERMINAL_STATUSES: readonly TerminalStatus[] = ['completed', 'failed', 'cancelled', 'timed_out', 'lost'];

const TERMINAL = new Set<TaskStatus>(TERMINAL_STATUSES);

/** True for a status after which a task never changes again. */
export function isTerminal(status: TaskStatus): status is TerminalStatus {
  return TERMINAL.has(status);
}

// The only transitions the executor may make. Retries go running → waiting/queued.
const TRANSITIONS: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ['running', 'waiting', 'cancelled', 'failed'],
  waiting: ['queued', 'cancelled'],
  running: ['completed', 'failed', 'cancelled', 'timed_out', 'lost', 'waiting', 'queued'],
  completed: [],
  failed: [],
  cancelled: [],
  timed_out: [],
  lost: [],
};

/** Whether the state machine allows `from → to`. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Backoff description; a function gets the attempt that just failed (1-based) and returns a delay in ms. */
export type BackoffSpec =
  | { type: 'fixed'; delayMs: number; jitter?: number | boolean }
  | { type: 'exponential'; delayMs: number; maxDelayMs?: number; jitter?: number | boolean }
  | ((attempt: number) => number);

/** Retry policy. `attempts` counts every attempt including the first (BullMQ's meaning). */
export interface RetryPolicy {
  attempts: number;
  backoff?: BackoffSpec;
  /** Which outcomes are retried; default `['failed']`. Cancellation is never retried. */
  retryOn?: readonly RetryableStatus[] | ((record: TaskRecord) => boolean);
}

/** What to run and how. Only `command` is required. */
export interface TaskSpec {
  /** Shell command line run by `/bin/sh -c`, or the program when `args` is given. */
  command: string;
  /** Arguments; when present, `command` is executed directly without a shell. */
  args?: readonly string[];
  cwd?: string;
  /** Extra environment variables, merged over the executor's environment. */
  env?: Readonly<Record<string, string>>;
  /**
   * Environment variables whose values are secret: they reach the process but are never written
   * to the store, run directories, events, errors or logs (only their names are kept). They live
   * in memory only, so a task recovered after a restart without them fails with reason
   * `secrets_unavailable` instead of running without them.
   */
  secretEnv?: Readonly<Record<string, string>>;
  /** Key of the executor's `transports` record; default `local`. */
  transport?: string;
  /** Higher runs first; default 0. */
  priority?: number;
  /** Concurrency group (capped by the scheduler's `groups`). */
  group?: string;
  /** Kill the attempt (whole process tree) after this many ms. */
  timeoutMs?: number;
  /** Delay between SIGTERM and SIGKILL when killing; default 5000. */
  graceMs?: number;
  retry?: RetryPolicy;
  /** Do not start before this many ms after submission. */
  delayMs?: number;
  /** Survives `shutdown({ mode: 'detach' })` and the death of the Node process. */
  detached?: boolean;
  /** Owner scope (agent session, tenant); filters list/completions. */
  session?: string;
  tags?: readonly string[];
  /** JSON-safe user data carried in the record. */
  metadata?: Readonly<Record<string, unknown>>;
  /** Submitting the same key again returns the existing task instead of a new one. */
  idempotencyKey?: string;
  /** Per-stream cap; past it the attempt is killed with reason `output_limit`. Default 1 GiB. */
  maxOutputBytes?: number;
  /** Aborting cancels the task. Not persisted. */
  signal?: AbortSignal;
}

/**
 * The JSON-safe part of a spec kept in a record: no AbortSignal, and a retry policy whose
 * function-valued `backoff`/`retryOn` are kept only in memory (they cannot be persisted).
 */
export type StoredSpec = Omit<TaskSpec, 'signal' | 'retry' | 'secretEnv'> & {
  /** Names (never values) of the task's secret environment variables. */
  secretEnvKeys?: readonly string[];
  retry?: {
    attempts: number;
    backoff?: Exclude<BackoffSpec, (attempt: number) => number>;
    retryOn?: readonly RetryableStatus[];
  };
};

/** Per-attempt summary kept in the record's history. */
export interface AttemptInfo {
  attempt: number;
  status: TerminalStatus;
  startedAt: number;
  endedAt: number;
  exitCode: number | null;
  signal: string | null;
  reason?: string;
  error?: ErrorInfo;
  /** Handle of that attempt (its output stays readable until cleanup). */
  handle?: TransportHandle;
}

/** Opaque, JSON-serializable description of a running attempt, owned by its transport. */
export interface TransportHandle {
  /** Kind of the transport that produced it (`local`, `ssh`, `fake`, …). */
  kind: string;
  taskId: string;
  attempt: number;
  runDir?: string;
  pid?: number;
  pgid?: number;
  bootId?: string;
  detached?: boolean;
  startedAt: number;
  [key: string]: unknown;
}

/** A snapshot of a task. Records handed out are copies; mutating them changes nothing. */
export interface TaskRecord {
  /** Record schema version (for durable stores). */
  version: number;
  id: string;
  spec: StoredSpec;
  status: TaskStatus;
  /** Attempt currently running or last run (0 before the first start). */
  attempt: number;
  /** Submission order, used for FIFO among equal priorities across restarts. */
  order: number;
  createdAt: number;
  /** When the task may next start (delay or backoff), if it is `waiting`. */
  runAt?: number;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number | null;
  /** Signal that ended the last attempt, if any (e.g. `SIGTERM`). */
  signal?: string | null;
  /** Why a task ended other than by its own exit: `timeout`, `cancelled`, `output_limit`, `executor_restart`, … */
  reason?: string;
  error?: ErrorInfo;
  /** Transport handle of the running (or last) attempt. */
  handle?: TransportHandle;
  /** Set while the attempt's host cannot be reached (e.g. `unreachable: connection refused`). */
  note?: string;
  /** Byte counts of the last attempt's output as last observed. */
  stdoutBytes: number;
  stderrBytes: number;
  history: AttemptInfo[];
  /** Terminal notice delivered and acknowledged via `ack()`. */
  acked: boolean;
}

/** Current schema version of {@link TaskRecord}. */
export const RECORD_VERSION = 1;

/** Filter for `list()`. Arrays match any of their values; tags match when a task has all of them. */
export interface TaskFilter {
  status?: TaskStatus | readonly TaskStatus[];
  group?: string;
  session?: string;
  transport?: string;
  tags?: readonly string[];
  limit?: number;
  offset?: number;
}

/**
 * Copy of a record for handing out. Nested objects (spec, handle, history entries, error) are
 * frozen when the executor stores them and replaced rather than mutated, so a shallow copy
 * plus a copy of the history array is a true snapshot, and cheap on the hot path.
 */
export function snapshot(record: TaskRecord): TaskRecord {
  return { ...record, history: record.history.slice() };
}

/** Recursively freezes a JSON-like value in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
