import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BgexecError, InvalidArgumentError, InvalidSpecError, SpawnError, TransportError } from '../../errors.js';
import type { StoredSpec, TransportHandle } from '../../task.js';
import { ERR_FILE, EXIT_PENDING_FILE, EXIT_PLACEHOLDER, META_FILE, OUT_FILE, PID_FILE, formatMetaFile } from '../job-protocol/markers.js';
import { limitReachedIn } from '../job-protocol/output-cap.js';
import { findLaunchProblem, isValidAttempt, isValidId } from '../job-protocol/quote.js';
import { checkReadRange, outputSizes, readMetaMarker, readPidMarker, readRange, writeKillRequest } from '../job-protocol/run-dir.js';
import { formatReapSetting } from '../job-protocol/wrapper.js';
import { leftoverPolicy } from '../leftovers.js';
import { endedOrAfter } from '../round-poller.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from '../types.js';
import { newSlurmAttempt, type SlurmAttempt } from './attempt.js';
import { SlurmCli, controllerUnreachable } from './cli.js';
import { JOB_SCRIPT_FILE, buildJobScript, jobNameOf, sbatchArgv } from './job-script.js';
import { resolveSlurmOptions, type ResolvedSlurmOptions, type SlurmTransportOptions } from './options.js';
import { SlurmPoller, pendingNoteOf, readJobIdFile, writeJobIdFile } from './poller.js';
import { isQueued } from './states.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Slurm keeps what a job is given (its script, its exported environment) in slurmctld's state
// and spool, readable by the cluster's admins and outliving the task: secrets cannot travel that way.
function secretEnvRefused(keys: readonly string[], taskId?: string): InvalidSpecError {
  return new InvalidSpecError('secretEnv', `is not supported by the slurm transport (values would be stored in Slurm's job records); got ${keys.join(', ')}`, taskId === undefined ? {} : { taskId });
}

/**
 * Runs each attempt as a Slurm batch job, from a login node (this host runs `sbatch`, `squeue`,
 * `scancel` and `sacct`). The batch script is the job protocol's wrapper, so the run directory
 * under `sharedRoot` (seen by this host and every node) holds the same `pid`, `out`, `err` and
 * `exit` files as a local detached attempt; the wrapper's exit marker is the source of truth for
 * the exit code. `start()` resolves once Slurm has accepted the job, with a handle marked
 * `pending`; {@link SlurmTransport.whenRunning} resolves once the job runs. Jobs survive this
 * process; a restarted executor re-attaches to them (by job id, or by job name when the id was
 * never recorded). See docs/transports.md, "Slurm".
 */
export class SlurmTransport implements Transport {
  readonly kind = 'slurm';
  /** The shared directory holding `jobs/<taskId>-<attempt>/`. */
  readonly sharedRoot: string;
  private readonly o: ResolvedSlurmOptions;
  private readonly cli: SlurmCli;
  private readonly poller: SlurmPoller;
  private closed = false;

  constructor(options: SlurmTransportOptions) {
    this.o = resolveSlurmOptions(options);
    this.sharedRoot = this.o.sharedRoot;
    this.cli = new SlurmCli(this.o);
    this.poller = new SlurmPoller(this.cli, this.o.pollMs, this.o.markerGraceMs);
  }

  async start(req: LaunchRequest): Promise<TransportHandle> {
    const { taskId, attempt } = req;
    if (this.closed) throw new SpawnError('slurm transport is closed', { taskId });
    // Refused at submit already (validate); this covers a caller of the transport itself.
    if (req.secretEnvKeys !== undefined && req.secretEnvKeys.length > 0) throw secretEnvRefused(req.secretEnvKeys, taskId);
    const problem = findLaunchProblem(req) ?? Object.keys(req.env ?? {}).find((k) => !ENV_NAME.test(k));
    if (problem !== undefined) {
      throw new SpawnError(req.env && problem in req.env ? `env name ${JSON.stringify(problem)} is not a shell identifier` : problem, { taskId });
    }
    const leaf = `${taskId}-${attempt}`;
    const jobs = join(this.sharedRoot, 'jobs');
    const runDir = join(jobs, leaf);
    mkdirSync(jobs, { recursive: true, mode: 0o700 });
    try {
      // Not recursive: the run directory claims the attempt, so it can never be submitted twice.
      mkdirSync(runDir, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SpawnError(code === 'EEXIST' ? `attempt ${leaf} was already started` : `cannot create ${runDir}: ${String(err)}`, { taskId, cause: err });
    }
    const startedAt = Date.now();
    const cwd = req.cwd === undefined || req.cwd === '' ? undefined : resolve(req.cwd);
    writeFileSync(join(runDir, META_FILE), formatMetaFile({ bootId: 'slurm', startedAt, detached: true }), { mode: 0o600 });
    writeFileSync(join(runDir, EXIT_PENDING_FILE), EXIT_PLACEHOLDER, { mode: 0o600 });
    for (const f of [PID_FILE, OUT_FILE, ERR_FILE]) writeFileSync(join(runDir, f), '', { mode: 0o600, flag: 'a' });
    if (cwd !== undefined && this.o.checkCwd && !existsSync(cwd)) {
      // Nothing was submitted; the error is on the task's record, the directory would only linger.
      rmSync(runDir, { recursive: true, force: true });
      throw new SpawnError(`cwd_missing: working directory ${JSON.stringify(cwd)} does not exist`, { reason: 'cwd_missing', taskId });
    }
    const script = buildJobScript({
      runDir, taskId, attempt, command: req.command, args: req.args, cwd, env: req.env ?? {},
      reap: formatReapSetting(leftoverPolicy(req)), maxOutputBytes: req.maxOutputBytes,
    });
    writeFileSync(join(runDir, JOB_SCRIPT_FILE), script, { mode: 0o700 });
    const r = await this.cli.run('sbatch', sbatchArgv(runDir, taskId, attempt, this.o.jobArgs, req.resources)).catch((err: unknown) => {
      // sbatch could not even be run (not installed here): nothing was submitted, and never will be.
      rmSync(runDir, { recursive: true, force: true });
      throw err;
    });
    const jobId = /^(\d+)(;.*)?$/.exec(r.stdout.trim())?.[1];
    if (r.code !== 0 || jobId === undefined) {
      const why = (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.code)}`).slice(0, 500);
      if (controllerUnreachable(r)) {
        // Nothing reached slurmctld: give the attempt back (same number) for a later start.
        rmSync(runDir, { recursive: true, force: true });
        const err = new TransportError('TRANSPORT_UNREACHABLE', `sbatch: ${why}`, { taskId });
        (err as TransportError & { refused?: boolean }).refused = true;
        throw err;
      }
      await this.abandon(runDir, jobNameOf(taskId, attempt));
      throw new SpawnError(`sbatch refused the job: ${why}`, { taskId });
    }
    writeJobIdFile(runDir, jobId);
    const handle: TransportHandle = {
      kind: this.kind, taskId, attempt, runDir, jobId, jobName: jobNameOf(taskId, attempt), detached: true, startedAt,
      pending: true, pendingNote: pendingNoteOf(jobId, undefined),
    };
    const a = this.track(handle);
    a.seen = true;
    return handle;
  }

  // After a failed sbatch: a job may exist all the same (Slurm records an impossible request as a
  // FAILED job, and an sbatch that timed out may have been heard), so any job of the attempt's
  // name is cancelled, and the run directory goes (a job that still starts then cannot even
  // write its pid file, so it runs nothing). The attempt's number is never used again.
  private async abandon(runDir: string, jobName: string): Promise<void> {
    await this.cli.run('scancel', ['--name', jobName], Math.min(this.o.commandTimeoutMs, 10_000)).catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  }

  wait(handle: TransportHandle): Promise<ExitInfo> {
    try {
      return this.poller.outcome(this.track(handle));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Resolves true once the attempt's job runs, false when it ended without running. */
  whenRunning(handle: TransportHandle): Promise<boolean> {
    try {
      return this.track(handle).running;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * When the attempt's command began: the time the wrapper wrote its `pid` file on the node (the
   * file's mtime, as the shared file system keeps it), or undefined while the job has not begun.
   */
  runningSince(handle: TransportHandle): number | undefined {
    const { runDir } = this.runDirOf(handle);
    if (readPidMarker(runDir) === undefined) return undefined;
    try {
      return Math.floor(statSync(join(runDir, PID_FILE)).mtimeMs);
    } catch {
      return undefined;
    }
  }

  async poll(handle: TransportHandle): Promise<PollResult> {
    const a = await this.poller.seen(this.track(handle));
    const result = this.poller.pollResult(a, { ...outputSizes(a.runDir), ...(limitReachedIn(a.runDir) ? { limitReached: true } : {}) });
    const note = result.state === 'running' ? this.poller.pendingNote(a) : undefined;
    return note === undefined ? result : { ...result, pendingNote: note };
  }

  /**
   * Refuses at submit what a Slurm job can never be given: `secretEnv` (`INVALID_SPEC`, field
   * `secretEnv`), since Slurm stores a job's script and exported environment in slurmctld's
   * state and spool.
   */
  validate(spec: Readonly<StoredSpec>): void {
    if (spec.secretEnvKeys !== undefined && spec.secretEnvKeys.length > 0) throw secretEnvRefused(spec.secretEnvKeys);
  }

  async read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    checkReadRange(offset, length);
    const { runDir } = this.runDirOf(handle);
    try {
      return await readRange(join(runDir, stream === 'stdout' ? OUT_FILE : ERR_FILE), offset, length);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BgexecError('OUTPUT_GONE', `output of ${handle.taskId}-${handle.attempt} was removed`, { taskId: handle.taskId });
      throw err;
    }
  }

  /**
   * `scancel --full --signal=TERM` (the batch script and all its children, not only job steps),
   * then, after `graceMs`, `scancel --full --signal=KILL` and a plain `scancel`. A job still
   * pending gets a plain `scancel` (signalling a pending job blocks until it starts) and ends
   * with reason `cancelled_before_start`. An attempt whose exit marker is already there sends
   * nothing: it ended by itself, and its end says so (`endedBeforeKill`).
   */
  async kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    const a = await this.poller.seen(this.track(handle));
    const first = (options.signal ?? 'SIGTERM').replace(/^SIG/, '');
    if (!/^[A-Z0-9]+$/.test(first)) throw new InvalidArgumentError('signal', `unknown signal ${JSON.stringify(options.signal)}`);
    // A command that ended by itself before any signal was sent keeps its own end (the last
    // round may not have seen its exit marker yet), before and right after the kill request.
    if (this.poller.endedByItself(a, false)) return;
    writeKillRequest(a.runDir, `SIG${first}`);
    if (this.poller.endedByItself(a, true)) return;
    if (a.jobId === undefined) await this.poller.nextRound();
    const id = a.jobId;
    if (id === undefined || a.final) return;
    a.killing = true;
    const pending = !a.ran && readPidMarker(a.runDir) === undefined && (a.slurm === undefined || isQueued(a.slurm));
    if (pending) {
      await this.scancel([id]);
      this.poller.kick();
      return;
    }
    await this.scancel(['-f', '-s', first, id]);
    this.poller.kick();
    if (first === 'KILL') {
      await this.scancel([id]);
      this.poller.kick();
      return;
    }
    await endedOrAfter(a, options.graceMs);
    if (a.final) return;
    await this.scancel(['-f', '-s', 'KILL', id]);
    await this.scancel([id]);
    this.poller.kick();
  }

  private async scancel(args: string[]): Promise<void> {
    // Bounded: scancel waits for a job it cannot signal yet; the poll reports the real end.
    const r = await this.cli.run('scancel', args, Math.min(this.o.commandTimeoutMs, 10_000));
    if (r.code !== 0 && !r.timedOut && !/already completing or completed|Invalid job id/i.test(r.stderr)) {
      throw new TransportError('TRANSPORT_FAILED', `scancel ${args.join(' ')}: ${r.stderr.trim().slice(0, 300)}`);
    }
  }

  async cleanup(handle: TransportHandle): Promise<void> {
    const { runDir, leaf } = this.runDirOf(handle);
    this.poller.drop(leaf);
    rmSync(runDir, { recursive: true, force: true });
  }

  async probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    if (!isValidId(taskId) || !isValidAttempt(attempt)) throw new InvalidArgumentError('taskId', 'invalid task id or attempt');
    const runDir = join(this.sharedRoot, 'jobs', `${taskId}-${attempt}`);
    if (!existsSync(runDir)) return undefined;
    const meta = readMetaMarker(runDir);
    const jobId = readJobIdFile(runDir);
    const ran = readPidMarker(runDir) !== undefined;
    return {
      kind: this.kind, taskId, attempt, runDir, ...(jobId === undefined ? {} : { jobId }), jobName: jobNameOf(taskId, attempt),
      detached: true, startedAt: meta?.startedAt ?? Date.now(),
      ...(ran ? {} : { pending: true, pendingNote: pendingNoteOf(jobId ?? jobNameOf(taskId, attempt), undefined) }),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.poller.close('slurm transport closed');
  }

  private track(handle: TransportHandle): SlurmAttempt {
    const { runDir, leaf } = this.runDirOf(handle);
    return this.poller.watch(leaf, () => {
      if (this.closed) throw new BgexecError('SHUTTING_DOWN', 'slurm transport is closed');
      return newSlurmAttempt(handle, runDir, leaf);
    });
  }

  // A handle of this kind whose run directory is `<sharedRoot>/jobs/<taskId>-<attempt>` (cleanup removes it).
  private runDirOf(handle: TransportHandle): { runDir: string; leaf: string } {
    if (handle === null || typeof handle !== 'object' || handle.kind !== this.kind) {
      throw new InvalidArgumentError('handle', `not a slurm handle (kind ${String((handle as { kind?: unknown } | null)?.kind)})`);
    }
    if (!isValidId(handle.taskId) || !isValidAttempt(handle.attempt)) throw new InvalidArgumentError('handle', 'invalid task id or attempt');
    const leaf = `${handle.taskId}-${handle.attempt}`;
    const runDir = join(this.sharedRoot, 'jobs', leaf);
    if (handle.runDir !== runDir) throw new InvalidArgumentError('handle', `runDir ${JSON.stringify(handle.runDir)} is not ${runDir}`);
    return { runDir, leaf };
  }
}
