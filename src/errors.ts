/**
 * Stable machine-readable error codes. A code never changes meaning once released.
 * `CALLBACK_FAILED`: a function of a spec (`retry.backoff`, `retry.retryOn`) threw or returned
 * an unusable value (reported on `error`; the task is not retried). `CALLBACK_UNAVAILABLE`: a
 * task recovered after a restart had such a function, which could not be stored.
 * `TASK_NOT_RUNNING`, `STDIN_NOT_PIPED`, `STDIN_CLOSED`, `STDIN_FULL`: a write to a task's
 * stdin was refused (see {@link StdinError}).
 */
export type ErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'QUEUE_FULL'
  | 'SPAWN_FAILED'
  | 'TRANSPORT_UNREACHABLE'
  | 'TRANSPORT_FAILED'
  | 'STORE_CORRUPT'
  | 'STORE_FAILED'
  | 'STORE_LOCKED'
  | 'WAIT_TIMEOUT'
  | 'ABORTED'
  | 'SHUTTING_DOWN'
  | 'NOT_STARTED'
  | 'OUTPUT_GONE'
  | 'LISTENER_FAILED'
  | 'CALLBACK_FAILED'
  | 'CALLBACK_UNAVAILABLE'
  | 'TASK_NOT_RUNNING'
  | 'STDIN_NOT_PIPED'
  | 'STDIN_CLOSED'
  | 'STDIN_FULL';

/** Options accepted by every {@link BgexecError} constructor. */
export interface BgexecErrorOptions {
  /** The underlying error, kept as the standard `Error.cause`. */
  cause?: unknown;
  /** Task the error is about, when there is one. */
  taskId?: string;
  /** Offending field of a spec or option object, for INVALID_* errors. */
  field?: string;
}

/**
 * Base class of every error bgexec throws or reports. Check `code`, not the class or message.
 */
export class BgexecError extends Error {
  /** Stable machine-readable code; branch on this. */
  readonly code: ErrorCode;
  /** Task the error is about, when there is one. */
  readonly taskId: string | undefined;
  /** Offending field of a spec, option object or argument (`INVALID_*` errors). */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: BgexecErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.taskId = options.taskId;
    this.field = options.field;
  }

  /** A plain JSON-safe summary, as kept in task records and event payloads. */
  toJSON(): {
    /** The class name (`InvalidSpecError`, …; `AbortError` for {@link AbortedError}). */
    name: string;
    /** The stable {@link ErrorCode}. */
    code: ErrorCode;
    /** The human-readable message. */
    message: string;
    /** The offending field, for `INVALID_*` errors. */
    field?: string;
  } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
    };
  }
}

/** A task spec or option object failed validation; `field` names the offending field. */
export class InvalidSpecError extends BgexecError {
  constructor(field: string, message: string, options: Omit<BgexecErrorOptions, 'field'> = {}) {
    super('INVALID_SPEC', `${field}: ${message}`, { ...options, field });
  }
}

/** A method argument (not a spec) is malformed: bad cursor, bad limit, bad id. */
export class InvalidArgumentError extends BgexecError {
  constructor(field: string, message: string, options: Omit<BgexecErrorOptions, 'field'> = {}) {
    super('INVALID_ARGUMENT', `${field}: ${message}`, { ...options, field });
  }
}

/** No task with that id is known (never submitted, or removed by cleanup). */
export class NotFoundError extends BgexecError {
  constructor(taskId: string) {
    super('NOT_FOUND', `no task with id ${JSON.stringify(taskId)}`, { taskId });
  }
}

/** The scheduler's `maxQueueSize` is reached; the submission was not accepted. */
export class QueueFullError extends BgexecError {
  constructor(max: number) {
    super('QUEUE_FULL', `queue is full (maxQueueSize ${max})`);
  }
}

/**
 * The transport could not start an attempt (missing cwd, missing binary, fork failure). `reason`
 * (when known: `cwd_missing`, …) becomes the attempt's reason in the task record; without one
 * the attempt's reason is `spawn_failed`.
 */
export class SpawnError extends BgexecError {
  /** Why, as a snake_case word a program can branch on (`cwd_missing`), when known. */
  readonly reason: string | undefined;
  constructor(message: string, options: BgexecErrorOptions & { reason?: string } = {}) {
    const { reason, ...rest } = options;
    super('SPAWN_FAILED', message, rest);
    this.reason = reason;
  }
}

/** A transport could not reach its host; the task itself keeps its state. */
export class TransportError extends BgexecError {
  constructor(code: 'TRANSPORT_UNREACHABLE' | 'TRANSPORT_FAILED', message: string, options: BgexecErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A store could not read, write or lock its data. */
export class StoreError extends BgexecError {
  constructor(code: 'STORE_CORRUPT' | 'STORE_FAILED' | 'STORE_LOCKED', message: string, options: BgexecErrorOptions = {}) {
    super(code, message, options);
  }
}

/** `wait()` gave up after its `timeoutMs`; the task goes on. */
export class WaitTimeoutError extends BgexecError {
  constructor(taskId: string, timeoutMs: number) {
    super('WAIT_TIMEOUT', `task ${taskId} did not finish within ${timeoutMs} ms`, { taskId });
  }
}

/**
 * An operation was cancelled by the caller's AbortSignal. Its `name` is `AbortError`, like the
 * abort errors of Node and the DOM, so `err.name === 'AbortError'` checks hold; `code` stays
 * `ABORTED`.
 *
 * Methods taking a `signal` reject with `signal.reason` itself, as `fetch` and
 * `signal.throwIfAborted()` do; this class is what they use when the signal carries no reason.
 */
export class AbortedError extends BgexecError {
  constructor(message = 'operation aborted', options: BgexecErrorOptions = {}) {
    super('ABORTED', message, options);
    this.name = 'AbortError';
  }
}

/**
 * What an operation aborted by `signal` rejects with: the signal's `reason`, as `fetch`,
 * `signal.throwIfAborted()` and p-queue do. `AbortController.abort()` without an argument
 * makes that a `DOMException` named `AbortError`; a reason the caller chose (an Error of their
 * own, the `TimeoutError` of `AbortSignal.timeout()`) comes back unchanged, so
 * `err === signal.reason` identifies it. When there is no reason (`undefined` or `null`), an
 * {@link AbortedError} (name `AbortError`, code `ABORTED`) stands in.
 */
export function abortRejection(signal: AbortSignal, message = 'operation aborted', taskId?: string): unknown {
  const reason: unknown = signal.reason;
  if (reason !== undefined && reason !== null) return reason;
  return new AbortedError(message, taskId === undefined ? {} : { taskId });
}

/** A function given in a spec (`retry.backoff`, `retry.retryOn`) threw or returned a value bgexec cannot use. */
export class CallbackError extends BgexecError {
  constructor(field: string, message: string, options: Omit<BgexecErrorOptions, 'field'> = {}) {
    super('CALLBACK_FAILED', `${field}: ${message}`, { ...options, field });
  }
}

/** The executor is shutting down (or was never started) and refuses the call. */
export class ShuttingDownError extends BgexecError {
  constructor(message = 'executor is shutting down') {
    super('SHUTTING_DOWN', message);
  }
}

/**
 * A write to a task's standard input (`write()`, `closeStdin()`) was refused. Nothing of it was
 * delivered, except when the task ended while the write was under way (`TASK_NOT_RUNNING`, its
 * message says so): the task may have read part of it before it ended.
 * `TASK_NOT_RUNNING`: the task is not running (queued, waiting, pending in a
 * cluster's queue, or ended, also when it ended before a queued write got through);
 * `STDIN_NOT_PIPED`: it was not started with `stdin: 'pipe'`; `STDIN_CLOSED`: its input was
 * closed (by `closeStdin()`, or the attempt's input end is gone); `STDIN_FULL`: more bytes than the
 * in-flight cap would be waiting to be delivered — await earlier writes first.
 */
export class StdinError extends BgexecError {
  constructor(code: 'TASK_NOT_RUNNING' | 'STDIN_NOT_PIPED' | 'STDIN_CLOSED' | 'STDIN_FULL', message: string, options: BgexecErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Serialized form of an error kept in a task record. */
export interface ErrorInfo {
  /** Class name of the error (`SpawnError`, `Error`, …). */
  name: string;
  /** A bgexec {@link ErrorCode}, or the `code` of a foreign error (`ENOENT`, …). */
  code: string;
  /** The error's message. */
  message: string;
  /** The offending field, for `INVALID_*` errors. */
  field?: string;
  /**
   * Why it failed, for errors that say so beyond their code (a `VagrantError`'s
   * `machine_not_running`, a `SlurmError`'s `slurm_not_installed`, …); branch on it. Taken from
   * the error's own `reason` property, for any error that has one.
   */
  reason?: string;
  /** Further facts a transport error carries, as strings (a `VagrantError`'s `vagrantErrorType` and machine `state`). */
  details?: Readonly<Record<string, string>>;
}

// A reason a program can branch on: a short snake_case word, not prose.
const REASON = /^[a-z][a-z0-9_]{0,63}$/;

function reasonOf(err: object): string | undefined {
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === 'string' && REASON.test(reason) ? reason : undefined;
}

/** Turns anything thrown into an {@link ErrorInfo} without losing a bgexec code or the error's `reason` (a snake_case word). */
export function toErrorInfo(err: unknown, fallbackCode: ErrorCode = 'TRANSPORT_FAILED'): ErrorInfo {
  // Anything can be thrown at us, including values that `String()` or `instanceof` throw on.
  try {
    if (err instanceof BgexecError) {
      const info: ErrorInfo = err.toJSON();
      const reason = info.reason ?? reasonOf(err);
      return reason === undefined ? info : { ...info, reason };
    }
    if (err instanceof Error) {
      const { name, code, message } = err as { name: unknown; code?: unknown; message: unknown };
      const info: ErrorInfo = { name: typeof name === 'string' ? name : 'Error', code: typeof code === 'string' ? code : fallbackCode, message: typeof message === 'string' ? message : 'an error without a message' };
      const reason = reasonOf(err);
      if (reason !== undefined) info.reason = reason;
      return info;
    }
    if (typeof err !== 'object' && typeof err !== 'function') return { name: 'Error', code: fallbackCode, message: String(err) };
  } catch {
    // Fall through to the description below.
  }
  return { name: 'Error', code: fallbackCode, message: err === null ? 'null' : `a thrown ${typeof err} that is not an Error` };
}
