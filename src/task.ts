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

/** Every {@link TaskStatus}, in lifecycle order. */
export const TASK_STATUSES: readonly TaskStatus[] = [
  'queued', 'waiting', 'running', 'completed', 'failed', 'cancelled', 'timed_out', 'lost',
];

/** Every {@link TerminalStatus}. */
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

/**
 * Backoff description; a function gets the attempt that just failed (1-based) and returns a delay
 * in ms, clamped to at most 2^31−1. A function that throws or returns anything but a finite
 * number ≥ 0 (`NaN`, `Infinity`, a string…) means the task is not retried: it settles with the
 * attempt's outcome and the executor reports `CALLBACK_FAILED`. Functions are not stored, so
 * after a restart they are gone (see `StoredSpec`); the object forms are stored.
 */
export type BackoffSpec =
  | {
      /** The same delay before every retry. */
      type: 'fixed';
      /** Delay before each retry (ms). */
      delayMs: number;
      /** Random reduction: the delay `d` is drawn from `[d × (1 − jitter), d]`; a fraction in [0, 1], `true` = 1; default 0. */
      jitter?: number | boolean;
    }
  | {
      /** `delayMs`, then twice that, four times, … up to `maxDelayMs`. */
      type: 'exponential';
      /** Delay before the first retry (ms). */
      delayMs: number;
      /** Upper bound of the delay (ms); default unbounded. */
      maxDelayMs?: number;
      /** Random reduction: the delay `d` is drawn from `[d × (1 − jitter), d]`; a fraction in [0, 1], `true` = 1; default 0. */
      jitter?: number | boolean;
    }
  | ((attempt: number) => number);

/** Retry policy. `attempts` counts every attempt including the first (BullMQ's meaning). */
export interface RetryPolicy {
  /** Most attempts in all, the first included (1 = no retry). */
  attempts: number;
  /** Delay before each retry; default none. */
  backoff?: BackoffSpec;
  /**
   * Which outcomes are retried; default `['failed']`. Cancellation is never retried. A function
   * that throws means "no" and is reported as `CALLBACK_FAILED`. Only the list form is stored.
   */
  retryOn?: readonly RetryableStatus[] | ((record: TaskRecord) => boolean);
}

/**
 * What an attempt asks of a cluster scheduler (the Slurm transport turns these into `sbatch`
 * options; transports that run on a fixed host ignore them).
 */
export interface TaskResources {
  /** CPUs for the task (`--cpus-per-task`); an integer ≥ 1. */
  cpus?: number;
  /** Memory in MiB (`--mem=<n>M`); an integer ≥ 1. */
  memoryMb?: number;
  /** GPUs (`--gpus=<n>`); an integer ≥ 1. */
  gpus?: number;
  /** The scheduler's own time limit in minutes (`--time=<n>`); an integer ≥ 1. */
  timeLimitMinutes?: number;
  /**
   * Further scheduler options, one argument each, every one starting with `-` (for example
   * `['--constraint=avx2', '--hold']`). Options the transport sets itself or that break its
   * guarantees (output files, job name, working directory, environment, arrays, requeue,
   * `--wrap`, `--signal`, `--wait`, …) are refused at submit (`INVALID_SPEC` naming the entry),
   * also abbreviated (`--job-n=x`) or short (`-Jx`); a value goes in the same argument
   * (`--comment=x`). See docs/transports.md, "Slurm".
   */
  extraArgs?: readonly string[];
}

/**
 * Input given up front, as stored in a record: text (`utf8`) or bytes (`base64`). Also accepted
 * in a spec, so that a stored spec can be submitted again as is, and to send text that reads
 * `pipe` or `ignore`.
 */
export interface StdinData {
  /** The input, encoded as `encoding` says. */
  data: string;
  /** `utf8`: `data` is the text itself; `base64`: `data` holds bytes in base64. Default `utf8`. */
  encoding?: 'utf8' | 'base64';
}

/** Size of the pseudo-terminal a `tty` task runs on. */
export interface TtySize {
  /** Columns, 1–4096; default 80. */
  cols: number;
  /** Rows, 1–4096; default 24. */
  rows: number;
}

/** What to run and how. Only `command` is required. */
export interface TaskSpec {
  /** Shell command line run by `/bin/sh -c`, or the program when `args` is given. */
  command: string;
  /** Arguments; when present, `command` is executed directly without a shell. */
  args?: readonly string[];
  /**
   * Working directory; default the executor's (SSH and Vagrant: the login directory; Slurm: the
   * attempt's run directory `<sharedRoot>/jobs/<taskId>-<attempt>`).
   */
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
  /**
   * Where `timeoutMs` is counted from on a transport that queues attempts (Slurm): `start`
   * (default) from the moment the attempt really runs, so time spent pending in the cluster's
   * queue does not count; `submit` from its submission, pending time included.
   */
  timeoutFrom?: 'start' | 'submit';
  /** Resources a cluster transport asks its scheduler for (cpus, memory, gpus, time limit, extra options). */
  resources?: TaskResources;
  /** Delay between SIGTERM and SIGKILL when killing; default 5000. */
  graceMs?: number;
  /** Run it again when an attempt fails (or times out, or is lost, per `retryOn`). */
  retry?: RetryPolicy;
  /** Do not start before this many ms after submission (at most 2147483647, about 24.8 days). */
  delayMs?: number;
  /** Survives `shutdown({ mode: 'detach' })` and the death of the Node process. */
  detached?: boolean;
  /** Owner scope (agent session, tenant); filters list/completions. */
  session?: string;
  /** Labels for `list({ tags })`; a task matches when it has all the tags asked for. */
  tags?: readonly string[];
  /** JSON-safe user data carried in the record. */
  metadata?: Readonly<Record<string, unknown>>;
  /** Submitting the same key again returns the existing task instead of a new one. */
  idempotencyKey?: string;
  /**
   * Processes the command leaves behind when its main process exits (`cmd &`, `setsid cmd &`):
   * `kill` (default) gives them `lingerMs`, then SIGTERM, then SIGKILL after `graceMs`, and the
   * attempt ends only once none is left (so its output is final); `keep` leaves them running
   * after the task has ended (a task that starts a daemon on purpose; it should redirect the
   * daemon's output, see docs/reliability.md).
   */
  orphans?: 'kill' | 'keep';
  /** With `orphans: 'kill'`: how long leftovers may run on after the main process exited; default 0. */
  lingerMs?: number;
  /**
   * Per-stream cap on the output kept on disk; default 1 GiB. It is enforced where the bytes
   * are written: `out` and `err` never hold more than this many bytes (no slack), for attached
   * and detached local attempts and on SSH/Vagrant hosts. A stream that has more is cut at
   * exactly this size and closed (the writer's next write fails with SIGPIPE/EPIPE), and the
   * attempt is killed with reason `output_limit` (status `failed`), also when the command ends
   * by itself first. Output of exactly this size is allowed. Only stdout and stderr are capped,
   * never other files the command writes. See docs/reliability.md, "Output limit".
   */
  maxOutputBytes?: number;
  /** Aborting cancels the task. Not persisted. */
  signal?: AbortSignal;
  /**
   * The task's standard input. `ignore` (default): `/dev/null`. `pipe`: the caller writes with
   * `executor.write()` and ends it with `executor.closeStdin()`; the task sees end-of-file only
   * then (or when it ends), not between writes. A string (UTF-8), a `Uint8Array`, or a
   * {@link StdinData}: that input, given up front (at most 1 MiB; it is kept in the record, so each
   * attempt, a retry too, reads it from the start), then end-of-file. The transport must support
   * input (`Transport.capabilities.stdin`), else submit refuses the task with `INVALID_SPEC`.
   */
  stdin?: 'ignore' | 'pipe' | string | Uint8Array | StdinData;
  /**
   * Run the command on a pseudo-terminal (`true`: 80×24), so that programs that check
   * `isatty()` behave as in a terminal (prompts, REPLs, colours, progress bars). On a terminal,
   * stdout and stderr are one stream: everything is in stdout and stderr stays empty. The
   * transport must support it (`Transport.capabilities.tty`).
   */
  tty?: boolean | Partial<TtySize>;
}

/**
 * The JSON-safe part of a spec kept in a record: no AbortSignal, and a retry policy whose
 * function-valued `backoff`/`retryOn` are kept only in memory (they cannot be persisted).
 */
export type StoredSpec = Omit<TaskSpec, 'signal' | 'retry' | 'secretEnv' | 'stdin' | 'tty'> & {
  /** `pipe`, or the input given up front; absent for `ignore`. */
  stdin?: 'pipe' | Required<StdinData>;
  /** The terminal's size, when the task runs on one. */
  tty?: TtySize;
  /** Names (never values) of the task's secret environment variables. */
  secretEnvKeys?: readonly string[];
  /** The retry policy, with what can be stored. */
  retry?: {
    /** Most attempts in all, the first included. */
    attempts: number;
    /** The backoff, when it is not a function. */
    backoff?: Exclude<BackoffSpec, (attempt: number) => number>;
    /** The statuses retried, when not a function. */
    retryOn?: readonly RetryableStatus[];
    /**
     * Which options were given as functions (kept in memory only). After a restart those fall
     * back to their defaults, and the executor reports `CALLBACK_UNAVAILABLE` for the task.
     */
    functions?: readonly ('backoff' | 'retryOn')[];
  };
};

/** Per-attempt summary kept in the record's history. */
export interface AttemptInfo {
  /** Attempt number (1-based). */
  attempt: number;
  /** How the attempt ended (`failed` for an attempt that was retried after failing). */
  status: TerminalStatus;
  /**
   * Clock time it started (ms). One that never ran (it ended while it still waited in a
   * cluster's queue, e.g. reason `cancelled_before_start`) has its end time here: it ran for 0 ms.
   */
  startedAt: number;
  /** Clock time it ended (ms). */
  endedAt: number;
  /**
   * Its exit code; null when a signal ended it or it never ran. On attempts run through the job
   * protocol's wrapper (detached local, SSH, Vagrant, Slurm), a command killed by a signal that
   * bgexec did not send shows as `128+N` here (e.g. 137 for `kill -KILL $$`), `signal` null.
   */
  exitCode: number | null;
  /**
   * Signal that ended it, or null. On wrapper-run attempts (detached local, SSH, Vagrant, Slurm)
   * only a signal bgexec sent (cancel, timeout, shutdown) is recorded here; one the command got
   * otherwise is exit code `128+N`, since the wrapper's shell cannot tell the two apart.
   */
  signal: string | null;
  /** Why it ended other than by its own exit (`timeout`, `output_limit`, …). */
  reason?: string;
  /** The error behind a failure to start or run, if any. */
  error?: ErrorInfo;
  /** Handle of that attempt (its output stays readable until cleanup). */
  handle?: TransportHandle;
}

/** Opaque, JSON-serializable description of a running attempt, owned by its transport. */
export interface TransportHandle {
  /** Kind of the transport that produced it (`local`, `ssh`, `fake`, …). */
  kind: string;
  /** The task the attempt belongs to. */
  taskId: string;
  /** Attempt number (1-based). */
  attempt: number;
  /** The attempt's run directory (job protocol: pid, out, err, exit files). */
  runDir?: string;
  /** Process id of the attempt's leader. */
  pid?: number;
  /** Its process group id (the leader starts a new session, so usually equal to `pid`). */
  pgid?: number;
  /** Boot id of the host when it started: a different boot means the process is gone. */
  bootId?: string;
  /** The attempt is detached (`spec.detached`): locally, it runs under the wrapper and survives the Node process. */
  detached?: boolean;
  /**
   * It runs on and reports its own end without this process whatever `detached` says (SSH and
   * Vagrant attempts run under the wrapper on their host): an executor that restarts re-attaches
   * it instead of killing it as a non-detached attempt.
   */
  outlivesExecutor?: boolean;
  /** Clock time it started (ms). */
  startedAt: number;
  /** Further transport-specific fields. */
  [key: string]: unknown;
}

/** A snapshot of a task. Records handed out are copies; mutating them changes nothing. */
export interface TaskRecord {
  /** Record schema version (for durable stores). */
  version: number;
  /** The task id (URL-safe, unique per executor). */
  id: string;
  /** What was submitted, without the parts that cannot be stored. */
  spec: StoredSpec;
  /** Where it is in its lifecycle. */
  status: TaskStatus;
  /** Attempt currently running or last run (0 before the first start). */
  attempt: number;
  /** Submission order, used for FIFO among equal priorities across restarts. */
  order: number;
  /** Clock time of submission (ms). */
  createdAt: number;
  /** When the task may next start (delay or backoff), if it is `waiting`. */
  runAt?: number;
  /**
   * Clock time the current or last attempt started (ms). While an attempt waits in a cluster's
   * queue (Slurm, `note` "pending: …") it is the submission time, replaced by the real start
   * (the wrapper's start on the node) once it runs. Absent once an attempt ended without ever
   * running (cancelled while it waited in a cluster's queue, or refused by it).
   */
  startedAt?: number;
  /** Clock time the task ended (ms), once terminal. */
  endedAt?: number;
  /**
   * Exit code of the last attempt; null when a signal ended it or it never ran. On wrapper-run
   * attempts (detached local, SSH, Vagrant, Slurm) a command killed by a signal bgexec did not
   * send shows as `128+N` (e.g. 137 for `kill -KILL $$`), with `signal` null.
   */
  exitCode?: number | null;
  /**
   * Signal that ended the last attempt, if any (e.g. `SIGTERM`). On wrapper-run attempts
   * (detached local, SSH, Vagrant, Slurm) only a signal bgexec sent (cancel, timeout, shutdown).
   */
  signal?: string | null;
  /** Why a task ended other than by its own exit: `timeout`, `cancelled`, `output_limit`, `executor_restart`, … */
  reason?: string;
  /** The error behind a failure (spawn, transport, store), if any. */
  error?: ErrorInfo;
  /** Who asked for the cancellation, when `cancel()` was given a `by` (e.g. a control request of the `bgexec` command). */
  cancelledBy?: string;
  /** Transport handle of the running (or last) attempt. */
  handle?: TransportHandle;
  /**
   * Set while the attempt's host cannot be reached (e.g. `unreachable: connection refused`), and
   * while an attempt of a queueing transport waits in the queue (Slurm: "pending: Slurm job N
   * waits in the queue (reason: Priority)", with Slurm's current reason; event `task:pending`).
   * Removed once the attempt runs or the task ends.
   */
  note?: string;
  /**
   * True while the running attempt seems to wait for input: every process of it is blocked
   * reading its stdin (or terminal) and it has printed nothing since the last look. Set by
   * transports that can tell (Linux hosts); cleared when output grows, input is written, or the
   * attempt ends. `task:input_wanted` fires when it becomes true.
   */
  awaitingInput?: boolean;
  /** Byte counts of the last attempt's output as last observed. */
  stdoutBytes: number;
  /** Like `stdoutBytes`, for stderr. */
  stderrBytes: number;
  /** One entry per finished attempt, oldest first. */
  history: AttemptInfo[];
  /** Terminal notice delivered and acknowledged via `ack()`. */
  acked: boolean;
}

/** Current schema version of {@link TaskRecord}. */
export const RECORD_VERSION = 1;

/** Filter for `list()`. Arrays match any of their values; tags match when a task has all of them. */
export interface TaskFilter {
  /** Only tasks in this status (or any of these). */
  status?: TaskStatus | readonly TaskStatus[];
  /** Only tasks of this concurrency group. */
  group?: string;
  /** Only tasks of this session. */
  session?: string;
  /** Only tasks on this transport (a key of the executor's `transports`). */
  transport?: string;
  /** Only tasks carrying all of these tags. */
  tags?: readonly string[];
  /** At most this many records. */
  limit?: number;
  /** Skip this many matching records first (with `limit`, for paging). */
  offset?: number;
}

/**
 * Copy of a record for handing out. Nested objects (spec, handle, history entries, error) are
 * frozen when the executor stores them and replaced rather than mutated, so a shallow copy
 * plus a copy of the history array is a true snapshot, and cheap on the hot path.
 */
export function snapshot(record: TaskRecord): TaskRecord {
  // Sliced even when frozen: whoever gets a snapshot may change it (it changes nothing).
  return { ...record, history: record.history.slice() };
}

/**
 * Appends an ended attempt to a record's history. The executor never changes a history array
 * in place: it replaces it by a frozen array of the exact size (a push onto `[]` would reserve
 * 17 slots), so a store may keep the array it was given instead of copying it.
 */
export function appendHistory(record: TaskRecord, info: AttemptInfo): void {
  record.history = Object.freeze(record.history.concat(info)) as AttemptInfo[];
}

/**
 * A frozen copy of a plain object, with `extra` fields set on it. Built with `Object.assign`
 * onto a fresh literal, not with a spread: V8 gives an object made by `{ ...x }` and then
 * frozen a map of its own (≈ 250 bytes each, and slow to make), while a copy built by
 * assignment shares the frozen map of its shape.
 */
export function frozenCopy<T extends object>(value: T, extra?: Partial<T>): T {
  const copy = Object.assign({}, value);
  if (extra !== undefined) Object.assign(copy, extra);
  return deepFreeze(copy);
}

/** Whether a value and every object reachable through its own enumerable fields are frozen. */
export function isDeepFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (v !== null && typeof v === 'object' && !isDeepFrozen(v)) return false;
  }
  return true;
}

/** Recursively freezes a JSON-like value in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    // for…in rather than Object.values: no array allocated per object, on a per-attempt path.
    // JSON-like values have no enumerable inherited keys; hasOwn keeps it exact for others.
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue;
      const v = obj[k];
      if (v !== null && typeof v === 'object') deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}
