import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_FILE, KILLREQ_FILE, formatExitCode, lostExit, signalNumber } from '../job-protocol/markers.js';
import { killRequested, readExitInfo, readPidMarker, writeExitMarker } from '../job-protocol/run-dir.js';
import { RoundPoller } from '../round-poller.js';
import type { ExitInfo } from '../types.js';
import type { SlurmAttempt } from './attempt.js';
import type { SlurmCli } from './cli.js';
import { JOB_ID_FILE, jobNameOf } from './job-script.js';
import { findJobsByName, isEnded, queryJobs, type JobState } from './states.js';

/** Reads the `jobid` file of a run directory. */
export function readJobIdFile(runDir: string): string | undefined {
  try {
    const text = readFileSync(join(runDir, JOB_ID_FILE), 'latin1');
    const m = /^(\d{1,20})\n$/.exec(text);
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

// The first signal of a kill request (`killreq`: "<SIGNAME> <ms>"), SIGTERM when unreadable.
function requestedSignal(runDir: string): string {
  try {
    const name = readFileSync(join(runDir, KILLREQ_FILE), 'latin1').split(' ')[0] ?? '';
    return /^SIG[A-Z0-9]+$/.test(name) && signalNumber(name) !== undefined ? name : 'SIGTERM';
  } catch {
    return 'SIGTERM';
  }
}

/** Writes the `jobid` file (best effort: the handle carries the id too). */
export function writeJobIdFile(runDir: string, jobId: string): void {
  try {
    writeFileSync(join(runDir, JOB_ID_FILE), `${jobId}\n`, { mode: 0o600 });
  } catch {
    // The run directory was removed; nothing to record.
  }
}

/**
 * Watches every attempt of one transport with ONE round per interval: first the files in the
 * shared root (an exit marker ends an attempt, the wrapper's `pid` file says it runs), then a
 * single `squeue` call (with `sacct` for jobs past `MinJobAge`) for the jobs still open. The
 * wrapper's exit marker is the source of truth for how an attempt ended; Slurm's state only
 * says whether it waits, runs, or ended without a marker (killed, node failure, time limit).
 */
export class SlurmPoller extends RoundPoller<SlurmAttempt> {
  constructor(
    private readonly cli: SlurmCli,
    private readonly pollMs: number,
    private readonly markerGraceMs: number,
  ) {
    super();
  }

  markRan(a: SlurmAttempt): void {
    if (a.ran) return;
    a.ran = true;
    a.resolveRunning(true);
  }

  // `whenRunning` is answered first, then `wait`.
  protected override settle(a: SlurmAttempt, info: ExitInfo): void {
    a.resolveRunning(a.ran);
    a.resolve(info);
  }

  protected idleDelay(): number {
    return this.pollMs;
  }

  protected async pass(targets: SlurmAttempt[]): Promise<void> {
    try {
      await this.look(targets);
    } catch (err) {
      this.unreachable = err instanceof Error ? err.message : String(err);
    }
  }

  protected nextDelay(_targets: SlurmAttempt[], again: boolean): number | undefined {
    if (again) return 0;
    return this.active().length > 0 ? this.pollMs : undefined;
  }

  // The exit marker, when present, ends the attempt (after a last look at `pid`).
  private byMarker(a: SlurmAttempt): boolean {
    const exit = readExitInfo(a.runDir);
    if (exit === undefined) return false;
    if (readPidMarker(a.runDir) !== undefined) this.markRan(a);
    this.finalize(a, exit);
    return true;
  }

  private async look(targets: SlurmAttempt[]): Promise<void> {
    const open: SlurmAttempt[] = [];
    for (const a of targets) {
      if (this.byMarker(a)) continue;
      if (!a.ran && readPidMarker(a.runDir) !== undefined) this.markRan(a);
      open.push(a);
    }
    // An attempt whose job id was never recorded (a crash between sbatch and the record): by name.
    for (const a of open) {
      if (a.jobId !== undefined) continue;
      a.jobId = readJobIdFile(a.runDir) ?? (await findJobsByName(this.cli, jobNameOf(a.handle.taskId, a.handle.attempt))).at(-1);
      if (a.jobId !== undefined) writeJobIdFile(a.runDir, a.jobId);
      else if (!existsSync(a.runDir)) this.finalize(a, lostExit('run_dir_removed'));
      else if (!this.byMarker(a)) this.finalize(a, a.ran ? lostExit('job_unknown') : lostExit('spawn_interrupted'));
    }
    const withId = open.filter((a) => a.final === undefined && a.jobId !== undefined);
    let states: Map<string, JobState>;
    try {
      states = await queryJobs(this.cli, withId.map((a) => a.jobId!));
      this.unreachable = undefined;
    } catch (err) {
      // slurmctld away: the attempts are still considered running (a cluster fault is not a task failure).
      this.unreachable = err instanceof Error ? err.message : String(err);
      for (const a of withId) a.seen = true;
      return;
    }
    const now = Date.now();
    for (const a of withId) {
      a.seen = true;
      const st = states.get(a.jobId!);
      if (st !== undefined) a.slurm = st;
      // Running for Slurm is not yet running for the task: the batch step may still be setting
      // up. The wrapper's `pid` file (looked at above) says when the command's shell runs.
      if (st !== undefined && !isEnded(st)) continue;
      // Ended for Slurm (or forgotten by it): the marker may have been written since the first look.
      if (this.byMarker(a)) continue;
      if (!a.ran && readPidMarker(a.runDir) !== undefined) this.markRan(a);
      const killed = killRequested(a.runDir);
      a.endSeenAt ??= now;
      // A job that ran without a kill of ours gets a moment for its marker to show on a shared file system.
      if (a.ran && !killed && now - a.endSeenAt < this.markerGraceMs) continue;
      this.finalize(a, this.endWithoutMarker(a, st, killed, now));
    }
  }

  // How an attempt ended whose wrapper left no exit marker (killed by SIGKILL, by Slurm, or never ran).
  private endWithoutMarker(a: SlurmAttempt, st: JobState | undefined, killed: boolean, now: number): ExitInfo {
    const state = (st ?? a.slurm)?.state.toLowerCase() ?? 'unknown';
    // Cancelled while it waited in the queue: it ends by the signal asked for, like a process that got it first thing.
    if (killed && !a.ran) return { state: 'exited', exitCode: null, signal: requestedSignal(a.runDir), reason: 'cancelled_before_start', endedAt: now };
    if (killed) {
      // Recorded like the wrapper would have, so a later look (another process, after a restart) agrees.
      try {
        if (!existsSync(join(a.runDir, EXIT_FILE))) writeExitMarker(a.runDir, formatExitCode(null, 'SIGKILL'));
      } catch {
        // The run directory is gone; the answer stands.
      }
      return { state: 'exited', exitCode: null, signal: 'SIGKILL', endedAt: now };
    }
    return lostExit(a.ran ? `slurm_${state}` : `slurm_${state}_before_start`, now);
  }
}
