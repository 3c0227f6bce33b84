import type { TransportHandle } from '../task.js';

/** Output stream of an attempt. */
export type OutputStream = 'stdout' | 'stderr';

/** What a transport needs to start one attempt. Values are already validated. */
export interface LaunchRequest {
  taskId: string;
  attempt: number;
  /** Shell command line (run by `/bin/sh -c`) or, with `args`, the program to execute. */
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** Extra variables only; the transport adds its own base environment and `BGEXEC_TASK_ID`. */
  env?: Readonly<Record<string, string>>;
  /** Must survive the death of the Node process that started it. */
  detached: boolean;
}

/** How an attempt ended, as far as the transport can tell. */
export interface ExitInfo {
  /** `exited`: it ended and its status is known; `lost`: it vanished without an exit status. */
  state: 'exited' | 'lost';
  /** Exit code, or null when killed by a signal or lost. */
  exitCode: number | null;
  /** Terminating signal name (`SIGTERM`, `SIGKILL`, …), or null. */
  signal: string | null;
  /** Machine-readable detail: `cwd_missing`, `no_exit_marker`, `boot_id_changed`, `spawn_interrupted`, … */
  reason?: string;
  endedAt: number;
}

/** One look at an attempt: its state and how much output it has written so far. */
export interface PollResult {
  state: 'running' | 'exited' | 'lost';
  /** Present when `state` is not `running`. */
  exit?: ExitInfo;
  stdoutBytes: number;
  stderrBytes: number;
  /**
   * Set while the host cannot be reached: the attempt is still considered running (a transport
   * fault is not a task failure), sizes are the last known ones, and this says why.
   */
  unreachable?: string;
}

/** Bytes read from an output stream, with that stream's size at the time of the read. */
export interface ReadResult {
  data: Buffer;
  totalBytes: number;
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
  /** Reads up to `length` bytes of a stream from byte `offset`. */
  read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult>;
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
  /** Releases connections and watchers. Does not kill detached attempts. */
  close(): Promise<void>;
}
