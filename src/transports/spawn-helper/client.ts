import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import type { Socket } from 'node:net';
import { delimiter, isAbsolute, join } from 'node:path';
import { deferred, type Deferred } from '../deferred.js';
import { baseEnvFrame, decodeWaitStatus, encodeFrame, parseEvent, startFrame, type HelperEvent, type HelperLaunch } from './protocol.js';
import { HELPER_SCRIPT } from './script.js';

// Node's spawn() forks the whole Node process and waits for the exec on the main thread (about
// 1 ms per task on a small VM, more with a big heap). The spawn helper is one small long-lived
// process per LocalTransport (with its forker, forker.ts) that forks and execs the tasks, creates
// their files and copies their output, so Node only writes a request and reads a few event lines
// per attempt. See script.ts for the protocol and docs/architecture.md for how it fits the job
// protocol.

/** Why the helper did not start a launch. */
export type HelperFailure =
  /** The run directory already existed: this attempt was started before. */
  | 'exists'
  /** The run directory could not be created. */
  | 'mkdir'
  /** Out of file descriptors or processes: nothing ran and the run directory was removed. */
  | 'busy'
  /** The working directory is missing or not a directory (nothing ran). */
  | 'cwd_missing'
  /** The program could not be executed (nothing ran). */
  | 'spawn_failed'
  /** The helper is not usable (no `perl`, or it failed to start): nothing was done. */
  | 'unavailable'
  /** The helper died with the launch in flight: whether the task runs is unknown. */
  | 'helper_died';

/** A launch the helper refused or could not report on; `reason` says which case. */
export class HelperStartError extends Error {
  constructor(
    readonly reason: HelperFailure,
    /** Errno name (`ENOENT`, …) where the helper gave one. */
    readonly errno: string | undefined,
  ) {
    super(`spawn helper: ${reason}${errno ? ` (${errno})` : ''}`);
    this.name = 'HelperStartError';
  }
}

/** How an attempt's output ended, as the helper counted it. */
export interface HelperEnd {
  /** The `exit` marker is in place. */
  markerWritten: boolean;
  /** The run directory exists (false only for a volatile launch that never needed it). */
  runDirCreated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  /** A stream was cut at `maxOutputBytes` (the `limit` marker was written). */
  limitReached: boolean;
}

/** A task leader's end, as the helper reaped it. */
export interface HelperExit {
  exitCode: number | null;
  signal: string | null;
  /**
   * No process any task left behind exists (the helper, a child subreaper, has no child but
   * live task leaders): the attempt has no leftovers to look for. False when unknown.
   */
  alone: boolean;
}

/** A task the helper started. */
export interface HelperAttempt {
  /** The task's pid (also its process group and session id). */
  readonly pid: number;
  /** Resolves when the helper has reaped the task's leader; rejects if the helper dies first. */
  readonly exited: Promise<HelperExit>;
  /**
   * To call once after `exited`, when what the leader left behind is gone: the helper writes
   * `marker` as the run directory's `exit` marker once both output pipes are closed, closing them
   * itself after `drainMs`. Resolves then; rejects if the helper dies first.
   */
  release(marker: string, drainMs: number): Promise<HelperEnd>;
}

interface Slot {
  started: Deferred<HelperAttempt>;
  exited: Deferred<HelperExit>;
  ended: Deferred<HelperEnd>;
  drainTimer?: NodeJS.Timeout;
}

/** Options of {@link SpawnHelper}. */
export interface SpawnHelperOptions {
  /** Environment every task starts from (the transport's snapshot of `process.env`). */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** The interpreter; default: `perl` found on the base environment's PATH. */
  perl?: string;
}

// Starts that died before the helper said READY: after this many in a row it is not tried again.
const MAX_BOOT_FAILURES = 2;

/**
 * One long-lived spawn helper process, started on first use and again after it died. While it is
 * unusable, {@link start} rejects with reason `unavailable` and the caller spawns directly.
 */
export class SpawnHelper {
  private readonly baseEnv: Readonly<Record<string, string | undefined>>;
  private readonly perl: string | undefined;
  private proc: ChildProcess | undefined;
  private ready = false;
  private bootFailures = 0;
  private serial = 0;
  private readonly slots = new Map<number, Slot>();
  private buffered = '';
  private closing = false;
  /** Pid of the running helper, for tests and diagnostics. */
  helperPid: number | undefined;
  /** Pid of the running helper's forker (the tasks' parent), for tests and diagnostics. */
  forkerPid: number | undefined;

  constructor(options: SpawnHelperOptions) {
    this.baseEnv = options.baseEnv;
    this.perl = options.perl ?? findOnPath('perl', options.baseEnv['PATH']);
  }

  /** False once the helper cannot be used (no interpreter, or it keeps failing to start). */
  get usable(): boolean {
    return this.perl !== undefined && this.bootFailures < MAX_BOOT_FAILURES && !this.closing;
  }

  /** Starts a task; rejects with {@link HelperStartError}. */
  start(launch: HelperLaunch): Promise<HelperAttempt> {
    const proc = this.usable ? this.ensure() : undefined;
    if (proc === undefined) return Promise.reject(new HelperStartError('unavailable', undefined));
    const serial = ++this.serial;
    const slot: Slot = { started: deferred(), exited: deferred(), ended: deferred() };
    this.slots.set(serial, slot);
    this.refresh();
    proc.stdin!.write(startFrame(serial, launch));
    return slot.started.promise;
  }

  /** Stops the helper once no task of it is in flight (tasks keep running either way). */
  close(): void {
    this.closing = true;
    if (this.slots.size === 0) this.proc?.stdin?.end();
  }

  private ensure(): ChildProcess | undefined {
    if (this.proc !== undefined) return this.proc;
    let proc: ChildProcess;
    try {
      // An empty environment: nothing of the caller's (PERL5OPT, PERL5LIB) can change the
      // helper; the tasks get the base environment through the `B` frame instead.
      proc = spawn(this.perl!, ['-e', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'], env: {}, detached: true });
    } catch {
      this.bootFailures++;
      return undefined;
    }
    this.proc = proc;
    this.ready = false;
    this.buffered = '';
    proc.on('error', () => this.onExit(proc));
    proc.once('exit', () => this.onExit(proc));
    proc.stdin!.on('error', () => {});
    proc.stdout!.setEncoding('latin1');
    proc.stdout!.on('data', (chunk: string) => this.onData(chunk));
    // Only tasks in flight keep the event loop alive (see refresh()), as their own child
    // processes would; an idle helper never does.
    proc.unref();
    (proc.stdin as Socket).unref();
    proc.stdin!.write(baseEnvFrame(this.baseEnv));
    this.helperPid = proc.pid;
    return proc;
  }

  private refresh(): void {
    const out = this.proc?.stdout as Socket | undefined;
    if (this.slots.size > 0) out?.ref();
    else {
      out?.unref();
      if (this.closing) this.proc?.stdin?.end();
    }
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const event = parseEvent(line);
      if (event) this.onEvent(event);
    }
  }

  private onEvent(e: HelperEvent): void {
    if (e.kind === 'ready') {
      this.ready = true;
      this.forkerPid = e.forkerPid;
      this.bootFailures = 0;
      return;
    }
    const slot = this.slots.get(e.serial);
    if (!slot) return;
    switch (e.kind) {
      case 'started':
        slot.started.resolve({ pid: e.pid, exited: slot.exited.promise, release: (marker, drainMs) => this.release(e.serial, marker, drainMs) });
        break;
      case 'failed':
        this.slots.delete(e.serial);
        slot.started.reject(new HelperStartError(e.reason as HelperFailure, e.errno));
        this.refresh();
        break;
      case 'exited':
        slot.exited.resolve({ ...decodeWaitStatus(e.status), alone: e.alone });
        break;
      case 'ended':
        clearTimeout(slot.drainTimer);
        this.slots.delete(e.serial);
        slot.ended.resolve({ markerWritten: e.markerWritten, runDirCreated: e.runDirCreated, stdoutBytes: e.stdoutBytes, stderrBytes: e.stderrBytes, limitReached: e.limitReached });
        this.refresh();
        break;
    }
  }

  private release(serial: number, marker: string, drainMs: number): Promise<HelperEnd> {
    const slot = this.slots.get(serial);
    if (!slot) return Promise.reject(new HelperStartError('helper_died', undefined));
    const proc = this.proc!;
    proc.stdin!.write(encodeFrame(['R', String(serial), marker]));
    // Output still in the pipes drains within this; a writer that kept them open (one kept on
    // purpose, or one that escaped the sweep) must not hold the attempt's end back.
    slot.drainTimer = setTimeout(() => {
      if (this.proc === proc) proc.stdin!.write(encodeFrame(['C', String(serial)]));
    }, drainMs);
    slot.drainTimer.unref();
    return slot.ended.promise;
  }

  private onExit(proc: ChildProcess): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.helperPid = undefined;
    this.forkerPid = undefined;
    // Before READY nothing was read from stdin, so nothing was started: those launches can go
    // another way. After it, a launch in flight may have forked.
    const reason: HelperFailure = this.ready ? 'helper_died' : 'unavailable';
    if (!this.ready) this.bootFailures++;
    const slots = [...this.slots.values()];
    this.slots.clear();
    for (const slot of slots) {
      clearTimeout(slot.drainTimer);
      const err = new HelperStartError(reason, undefined);
      slot.started.reject(err);
      slot.exited.reject(err);
      slot.ended.reject(err);
    }
  }
}

/** `name` on a PATH (absolute entries only), or undefined. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '/usr/bin:/bin').split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not there.
    }
  }
  return undefined;
}
