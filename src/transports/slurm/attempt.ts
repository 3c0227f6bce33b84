import type { TransportHandle } from '../../task.js';
import { deferred } from '../deferred.js';
import { newWatchedAttempt, type WatchedAttempt } from '../round-poller.js';
import type { JobState } from './states.js';

/** What this process knows about one Slurm attempt it watches. */
export interface SlurmAttempt extends WatchedAttempt {
  /** The Slurm job id, once known (from the handle, the `jobid` file, or a lookup by name). */
  jobId: string | undefined;
  /** Slurm's last word on the job. */
  slurm?: JobState;
  /** The job's wrapper ran (its `pid` file exists). */
  ran: boolean;
  /** When Slurm was first seen reporting the job ended while its exit marker was still absent. */
  endSeenAt?: number;
  /** Resolves true once the job runs, false when it ended without running. */
  readonly running: Promise<boolean>;
  resolveRunning(ran: boolean): void;
}

/** A fresh record for an attempt, not yet seen by any poll. */
export function newSlurmAttempt(handle: TransportHandle, runDir: string, leaf: string): SlurmAttempt {
  const { promise: running, resolve: resolveRunning } = deferred<boolean>();
  const jobId = typeof handle['jobId'] === 'string' && /^\d+$/.test(handle['jobId']) ? handle['jobId'] : undefined;
  return { ...newWatchedAttempt(handle, runDir, leaf), jobId, ran: false, running, resolveRunning };
}
