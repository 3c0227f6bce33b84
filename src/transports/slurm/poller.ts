import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_FILE, KILLREQ_FILE, formatExitCode, lostExit } from '../job-protocol/markers.js';
import { killRequested, readExitInfo, readPidMarker, writeExitMarker } from '../job-protocol/run-dir.js';
import { RoundPoller } from '../round-poller.js';
import type { ExitInfo } from '../types.js';
import type { SlurmAttempt } from './attempt.js';
import type { SlurmCli } from './cli.js';
import { JOB_ID_FILE, jobNameOf } from './job-script.js';
import { findJobsByName, isEnded, isQueued, queryJobs, type JobState } from './states.js';

/**
 * Slurm's reasons (`%r`) for a pending job that can never run as the cluster is configured: it
 * asks for more than any node of the partition has (`PartitionConfig`: e.g. more CPUs), or for
 * constraints no node meets (`BadConstraints`). Such an attempt fails (reason `slurm_partitionconfig`,
 * `slurm_badconstraints`) and its job is cancelled, rather than the task pending forever.
 */
export const NEVER_RUNS: ReadonlySet<string> = new Set(['PartitionConfig', 'BadConstraints']);

/** How long a round's Slurm query may take before the attempts' note says Slurm does not answer. */
export const SLOW_ANSWER_MS = 5_000;

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

/**
 * The record's note for a job not yet running: its id and, once seen, why Slurm keeps it
 * waiting (`%r`: `Priority`, `Resources`, `JobHeldUser`, `Dependency`, …), or that the job is
 * starting (Slurm runs it, its command has not started yet).
 */
export function pendingNoteOf(job: string, st: JobState | undefined): string {
  if (st !== undefined && !isQueued(st) && !isEnded(st)) return `pending: Slurm job ${job} is starting (${printable(st.state)})`;
  const reason = st === undefined || st.reason === '' || st.reason === 'None' ? undefined : printable(st.reason);
  return `pending: Slurm job ${job} waits in the queue${reason === undefined ? '' : ` (reason: ${reason})`}`;
}

// Slurm's words as they come, bounded and without control characters.
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
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

  // The exit marker, when present, ends the attempt (after a last look at `pid`). Without a
  // `killreq` the wrapper wrote it with no kill of ours sent (kill() writes `killreq` before its
  // first signal): a kill asked for meanwhile came too late.
  private byMarker(a: SlurmAttempt): boolean {
    const exit = readExitInfo(a.runDir);
    if (exit === undefined) return false;
    if (readPidMarker(a.runDir) !== undefined) this.markRan(a);
    this.finalize(a, killRequested(a.runDir) ? exit : { ...exit, endedBeforeKill: true });
    return true;
  }

  /**
   * For kill(), before any signal is sent: true (and the attempt ended) when its exit marker is
   * already there, so the command's own end stands. `withdraw`: the `killreq` just written is
   * removed first, since no signal of ours can have caused that end.
   */
  endedByItself(a: SlurmAttempt, withdraw: boolean): boolean {
    if (a.final) return true;
    if (!existsSync(join(a.runDir, EXIT_FILE))) return false;
    if (withdraw) rmSync(join(a.runDir, KILLREQ_FILE), { force: true });
    return this.byMarker(a);
  }

  /** The note of an attempt that waits in Slurm's queue, with Slurm's reason (`%r`) once a round has seen it. */
  pendingNote(a: SlurmAttempt): string | undefined {
    if (a.ran || a.final) return undefined;
    return pendingNoteOf(a.jobId ?? jobNameOf(a.handle.taskId, a.handle.attempt), a.slurm);
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
      states = await this.filesWhileWaiting(withId, queryJobs(this.cli, new Map(withId.map((a) => [a.jobId!, jobNameOf(a.handle.taskId, a.handle.attempt)]))));
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
      if (a.final) continue;
      const st = states.get(a.jobId!);
      if (st !== undefined) a.slurm = st;
      if (st !== undefined && !a.ran && !a.killing && isQueued(st) && NEVER_RUNS.has(st.reason)) {
        await this.giveUp(a, st);
        continue;
      }
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

  /**
   * Resolves as `query` does. Meanwhile, every `pollMs`, the run directories are looked at again:
   * with slurmctld away, its clients retry the connection for many seconds (`squeue` about 18 s on
   * the test cluster) before they fail, and an attempt that ended or started in that time is told
   * by its files alone. After {@link SLOW_ANSWER_MS} the note says that Slurm does not answer.
   */
  private async filesWhileWaiting<T>(open: SlurmAttempt[], query: Promise<T>): Promise<T> {
    let answered = false;
    const done = query.then(() => undefined, () => undefined).finally(() => (answered = true));
    const since = Date.now();
    for (let i = 0; !answered && i < 1_000_000; i++) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((r) => (timer = setTimeout(r, this.pollMs)))]);
      clearTimeout(timer);
      if (answered) break;
      for (const a of open) {
        if (a.final || this.byMarker(a)) continue;
        if (!a.ran && readPidMarker(a.runDir) !== undefined) this.markRan(a);
      }
      const waited = Date.now() - since;
      if (waited >= SLOW_ANSWER_MS) this.unreachable = `Slurm controller not answering: squeue has waited ${Math.round(waited / 1000)} s`;
    }
    return query;
  }

  // A job Slurm keeps pending for a reason that no wait cures (it asks for more than the
  // partition has): cancelled, and the attempt fails with Slurm's reason instead of pending forever.
  private async giveUp(a: SlurmAttempt, st: JobState): Promise<void> {
    await this.cli.run('scancel', [a.jobId!], 10_000).catch(() => undefined);
    // It began after all (the cluster changed meanwhile): its own end will tell.
    if (readPidMarker(a.runDir) !== undefined || a.final) return;
    this.finalize(a, { state: 'exited', exitCode: null, signal: null, reason: `slurm_${st.reason.toLowerCase().replace(/[^a-z0-9_]/g, '')}`, endedAt: Date.now() });
  }

  // How an attempt ended whose wrapper left no exit marker (killed by SIGKILL, by Slurm, or never ran).
  private endWithoutMarker(a: SlurmAttempt, st: JobState | undefined, killed: boolean, now: number): ExitInfo {
    // Slurm no longer knowing the job under its name says nothing of how it ended: `unknown`.
    const state = st?.state.toLowerCase() ?? 'unknown';
    // Cancelled while it waited in the queue: no process ever ran, so no signal ended one.
    if (killed && !a.ran) return { state: 'exited', exitCode: null, signal: null, reason: 'cancelled_before_start', endedAt: now };
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
