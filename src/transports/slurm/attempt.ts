import type { TransportHandle } from '../../task.js';
import type { ExitInfo } from '../types.js';
import type { JobState } from './states.js';

/** What this process knows about one Slurm attempt it watches. */
export interface SlurmAttempt {
  readonly leaf: string;
  readonly runDir: string;
  readonly handle: TransportHandle;
  /** The Slurm job id, once known (from the handle, the `jobid` file, or a lookup by name). */
  jobId: string | undefined;
  /** Slurm's last word on the job. */
  slurm?: JobState;
  /** At least one poll round has looked at it (or start() created it). */
  seen: boolean;
  /** The job's wrapper ran (its `pid` file exists). */
  ran: boolean;
  /** When Slurm was first seen reporting the job ended while its exit marker was still absent. */
  endSeenAt?: number;
  /** Its end, set once. */
  final?: ExitInfo;
  /** A kill is in progress. */
  killing: boolean;
  readonly done: Promise<ExitInfo>;
  resolve(info: ExitInfo): void;
  reject(err: Error): void;
  /** Resolves true once the job runs, false when it ended without running. */
  readonly running: Promise<boolean>;
  resolveRunning(ran: boolean): void;
}

/** A fresh record for an attempt, not yet seen by any poll. */
export function newSlurmAttempt(handle: TransportHandle, runDir: string, leaf: string): SlurmAttempt {
  let resolve!: (info: ExitInfo) => void;
  let reject!: (err: Error) => void;
  const done = new Promise<ExitInfo>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits (close() with no waiter) must not become an unhandled one.
  done.catch(() => {});
  let resolveRunning!: (ran: boolean) => void;
  const running = new Promise<boolean>((res) => (resolveRunning = res));
  const jobId = typeof handle['jobId'] === 'string' && /^\d+$/.test(handle['jobId']) ? handle['jobId'] : undefined;
  return { leaf, runDir, handle, jobId, seen: false, ran: false, killing: false, done, resolve, reject, running, resolveRunning };
}
