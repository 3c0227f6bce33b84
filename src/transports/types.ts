import type { StoredSpec, TaskResources, TransportHandle, TtySize } from '../task.js';
import type { StdinError } from '../errors.js';

/** Output stream of an attempt. */
export type OutputStream = 'stdout' | 'stderr';

/** What a transport needs to start one attempt. Values are already validated. */
export interface LaunchRequest {
  /** The task the attempt belongs to. */
  taskId: string;
  /** Attempt number (1-based); `(taskId, attempt)` names the attempt's run directory. */
  attempt: number;
  /** Shell command line (run by `/bin/sh -c`) or, with `args`, the program to execute. */
  command: string;
  /** Arguments; when present, `command` is executed directly without a shell. */
  args?: readonly string[];
  /** Working directory; a missing one makes the attempt fail with reason `cwd_missing`. */
  cwd?: string;
  /** Extra variables only; the transport adds its own base environment and `BGEXEC_TASK_ID`. */
  env?: Readonly<Record<string, string>>;
  /** Must survive the death of the Node process that started it. */
  detached: boolean;
  /**
   * `false` when nothing will ever look for this attempt after the process that started it is
   * gone: the executor's store is not durable (`MemoryStore`), so no later executor can recover
   * it. A transport may then skip what only recovery reads (pid file, exit marker, a run
   * directory with nothing in it). Absent or `true`: keep everything recovery needs.
   */
  recoverable?: boolean;
  /**
   * Processes the command leaves behind when its main process exits: `kill` (default) ends them
   * before the attempt counts as ended, `keep` leaves them running.
   */
  orphans?: 'kill' | 'keep';
  /** With `orphans: 'kill'`: how long leftovers may run on before SIGTERM; default 0. */
  lingerMs?: number;
  /** With `orphans: 'kill'`: delay between SIGTERM and SIGKILL of leftovers; default 5000. */
  graceMs?: number;
  /**
   * Per-stream cap on the bytes written to `out`/`err`. A transport that supports it stops
   * copying a stream at exactly this many bytes, reports {@link PollResult.limitReached} and
   * closes the stream (later writes fail with `EPIPE`/SIGPIPE). Undefined: no cap.
   */
  maxOutputBytes?: number;
  /** What the attempt asks of a cluster scheduler; transports on a fixed host ignore it. */
  resources?: TaskResources;
  /** Names of the `env` entries that came from `secretEnv` (their values are in `env`). */
  secretEnvKeys?: readonly string[];
  /**
   * Standard input: absent for `/dev/null`; `pipe` for input written later through
   * {@link Transport.writeStdin} (end-of-file only after {@link Transport.closeStdin} or the attempt's
   * end, never between writes, also when the starting process dies for a detached attempt);
   * bytes for input given up front, then end-of-file. Only sent to transports whose
   * `capabilities.stdin` is true.
   */
  stdin?: 'pipe' | Uint8Array;
  /**
   * Run the command on a pseudo-terminal of this size (stdout and stderr merge into `out`).
   * Only sent to transports whose `capabilities.tty` is true.
   */
  tty?: TtySize;
}

/** Optional features of a transport; absent ones are refused at submit with `INVALID_SPEC`. */
export interface TransportCapabilities {
  /** `stdin: 'pipe'` and input given up front; requires `writeStdin()` and `closeStdin()`. */
  stdin?: boolean;
  /** `tty`: the command runs on a pseudo-terminal. */
  tty?: boolean;
  /**
   * `probe()`, called by any later process, finds every attempt whose start got far enough to
   * run anything (it is claimed on a local disk before it runs), and cannot fail for want of a
   * host. The executor then writes a task's `running` record once, with its handle, when the
   * start resolves; otherwise it writes it before the start too, since after a crash only that
   * record would tell recovery that the attempt may have begun. `LocalTransport` with a `root`
   * says so; default false.
   */
  findsEveryStart?: boolean;
}

/** How an attempt ended, as far as the transport can tell. */
export interface ExitInfo {
  /** `exited`: it ended and its status is known; `lost`: it vanished without an exit status. */
  state: 'exited' | 'lost';
  /**
   * Exit code, or null when killed by a signal or lost. A wrapper-run attempt (detached local,
   * SSH, Vagrant, Slurm) killed by a signal nobody asked bgexec to send reports `128+N` here.
   */
  exitCode: number | null;
  /**
   * Terminating signal name (`SIGTERM`, `SIGKILL`, …), or null. Wrapper-run attempts report it
   * only for a kill bgexec requested (their `killreq`); the wrapper's shell cannot tell a signal
   * death from an exit with code `128+N`.
   */
  signal: string | null;
  /** Machine-readable detail: `cwd_missing`, `no_exit_marker`, `boot_id_changed`, `spawn_interrupted` (never ran), `spawn_unconfirmed` (may have run), … */
  reason?: string;
  /** When it ended, as far as the transport knows (clock ms). */
  endedAt: number;
  /**
   * True when the transport knows the attempt ended by itself before any kill of its was sent
   * (its exit marker was there first). A cancel or timeout that raced that end changed nothing:
   * the executor records the attempt's own end, not the kill's reason (a cancelled task is still
   * not retried). Transports that cannot tell leave it undefined.
   */
  endedBeforeKill?: boolean;
}

/** One look at an attempt: its state and how much output it has written so far. */
export interface PollResult {
  /** Whether the attempt still runs, has ended with a known status, or vanished. */
  state: 'running' | 'exited' | 'lost';
  /** Present when `state` is not `running`. */
  exit?: ExitInfo;
  /** Bytes written to stdout so far. */
  stdoutBytes: number;
  /** Bytes written to stderr so far. */
  stderrBytes: number;
  /**
   * A stream had more output than the request's `maxOutputBytes`: it was cut at that size
   * and the task is to be killed with reason `output_limit`.
   */
  limitReached?: boolean;
  /**
   * The attempt seems to wait for input: all its processes are blocked reading their stdin or
   * terminal. Transports that cannot tell leave it undefined.
   */
  awaitingInput?: boolean;
  /**
   * Set while the host cannot be reached: the attempt is still considered running (a transport
   * fault is not a task failure), sizes are the last known ones, and this says why.
   */
  unreachable?: string;
  /**
   * For an attempt still waiting in a cluster's queue (see {@link Transport.whenRunning}): the
   * transport's current word on why it waits (e.g. Slurm's reason), which replaces the note of
   * the task's record. Transports without a queue leave it undefined.
   */
  pendingNote?: string;
}

/** Bytes read from an output stream, with that stream's size at the time of the read. */
export interface ReadResult {
  /** The bytes read (fewer than asked for at the end of the stream). */
  data: Buffer;
  /** Size of the stream when read. */
  totalBytes: number;
}

/**
 * State that one reader passes to each {@link Transport.read} of a series of reads made one
 * after the other (one `follow()`), so that a transport can reuse what it set up for the
 * previous read (a buffer, an open file) instead of setting it up again for every read.
 * Transports are free to ignore it; a transport that keeps something open sets {@link ReadContext.kept},
 * and the reader calls `kept.release()` once it is done with the context. Never pass one
 * context to two reads at the same time.
 */
export interface ReadContext {
  /**
   * A buffer the transport may read into, or replace with a larger one (at most the `length`
   * asked) that later reads reuse. When it is used, the returned `data` is a view of it: valid
   * only until the next read with this context, so decode or copy it before reading again.
   */
  buffer?: Buffer;
  /**
   * What the transport keeps between reads (e.g. an open file), opaque to the reader. A
   * transport releases it by itself when it goes unused for a while, so a reader that never
   * calls `release()` does not leak it for long.
   */
  kept?: {
    /** Closes what the transport kept open (idempotent). */
    release(): void;
  };
}

/** Options of {@link Transport.kill}. */
export interface KillOptions {
  /** Delay between the first signal and SIGKILL. */
  graceMs: number;
  /** First signal; default SIGTERM. */
  signal?: NodeJS.Signals;
}

/**
 * Runs attempts somewhere (this machine, an SSH host, a VM, or nowhere for the fake).
 * Every implementation passes the shared contract suite in `test/transports/_contract.ts`.
 *
 * A transport owns its processes and files; the executor only holds the serializable
 * {@link TransportHandle} it returns, and hands it back — possibly to a new transport
 * instance in a new Node process after a restart.
 */
export interface Transport {
  /** Kind written into handles (`local`, `ssh`, `fake`, …). */
  readonly kind: string;
  /** Optional features (stdin, tty); absent: none. */
  readonly capabilities?: TransportCapabilities;
  /**
   * Starts one attempt. Resolves once the process exists (pid known).
   * Rejects with a `SPAWN_FAILED` error when it cannot start (missing cwd or program).
   * Never starts the same `(taskId, attempt)` twice, even across processes.
   */
  start(request: LaunchRequest): Promise<TransportHandle>;
  /**
   * Resolves once, when the attempt ends. Repeated calls share one result. Works for
   * handles from an earlier process (re-attach after a restart) as well as its own.
   */
  wait(handle: TransportHandle): Promise<ExitInfo>;
  /** Current state and output sizes, decided in that order. */
  poll(handle: TransportHandle): Promise<PollResult>;
  /**
   * Reads up to `length` bytes of a stream from byte `offset`. `context` (optional, may be
   * ignored) lets a reader that reads one stream chunk after chunk have its buffer and open
   * file reused across reads: see `ReadContext`.
   */
  read(handle: TransportHandle, stream: OutputStream, offset: number, length: number, context?: ReadContext): Promise<ReadResult>;
  /**
   * Ends the attempt's whole process tree: first signal to the process group, SIGKILL after
   * `graceMs`, and a sweep of descendants that left the group. Resolves once the attempt
   * has ended or SIGKILL has been sent. Killing an ended attempt is a no-op.
   */
  kill(handle: TransportHandle, options: KillOptions): Promise<void>;
  /** Removes the attempt's files. Safe to call twice. */
  cleanup(handle: TransportHandle): Promise<void>;
  /**
   * Recovery: looks for an attempt that may have started without its handle being recorded
   * (a crash around spawn). Returns its handle, or undefined if it never started.
   */
  probe?(taskId: string, attempt: number): Promise<TransportHandle | undefined>;
  /**
   * For a transport that queues attempts (Slurm): `start()` may resolve with a handle marked
   * `pending: true` (submitted, waiting in the queue). This resolves once such an attempt really
   * runs, or with `false` when it ended without ever running (its end comes from `wait()`).
   */
  whenRunning?(handle: TransportHandle): Promise<boolean>;
  /**
   * For a transport that queues attempts: when the attempt's command really began (ms since the
   * epoch, e.g. the wrapper's start on the node), or undefined while it has not begun or the
   * transport cannot tell. The runner records it as the attempt's `startedAt` rather than the
   * moment it noticed the start (a poll interval later), and a re-attached attempt that already
   * began is not announced with `task:started` a second time.
   */
  runningSince?(handle: TransportHandle): number | undefined;
  /**
   * Refuses at `submit()` a task this transport can never run, by throwing an `InvalidSpecError`
   * (`INVALID_SPEC`, naming the field), so that nothing is accepted that would only fail at start
   * (e.g. Slurm and `secretEnv`). Called with the validated spec before it is stored; must be
   * synchronous and cheap (it is on the path of every submit). Absent: every valid spec is accepted.
   */
  validate?(spec: Readonly<StoredSpec>): void;
  /**
   * Writes bytes to the stdin of an attempt started with `stdin: 'pipe'`. Resolves once all of
   * them are in the attempt's input pipe (the task may not have read them yet); waits while the
   * pipe is full. The executor never calls it concurrently for one handle, so writes arrive in
   * order. Rejects with a {@link StdinError}: `STDIN_CLOSED` once the input was closed,
   * `TASK_NOT_RUNNING` once the attempt has ended; a `TransportError` when the host cannot be
   * reached.
   */
  writeStdin?(handle: TransportHandle, data: Uint8Array): Promise<void>;
  /**
   * Ends the input of an attempt started with `stdin: 'pipe'`: the task reads end-of-file once it
   * has read what was written. Idempotent; a no-op for an ended attempt.
   */
  closeStdin?(handle: TransportHandle): Promise<void>;
  /** Releases connections and watchers. Does not kill detached attempts. */
  close(): Promise<void>;
}
