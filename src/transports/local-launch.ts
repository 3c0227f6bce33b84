import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { SpawnError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import { ERR_FILE, IN_FILE, OUT_FILE, PID_FILE, formatExitCode, formatPidFile, lostExit, signalName } from './job-protocol/markers.js';
import { MAX_OUTPUT_ENV, captureOutput } from './job-protocol/output-cap.js';
import { killRequested, markFailure, readExitInfo, writeExitMarker } from './job-protocol/run-dir.js';
import { REAP_ENV, formatReapSetting, launchWrapper } from './job-protocol/wrapper.js';
import { leftoverPolicy, reapLeftovers } from './leftovers.js';
import { HelperStartError, findOnPath, type HelperAttempt, type HelperEnd, type SpawnHelper } from './spawn-helper/client.js';
import type { HelperLaunch } from './spawn-helper/protocol.js';
import { startDirectHolder, ttyLaunch, type DirectHolder } from './local-stdin.js';
import type { ExitInfo, LaunchRequest } from './types.js';

// The three ways LocalTransport starts an attempt (directly from Node, under the wrapper, through
// the spawn helper) and what they share; the transport keeps the bookkeeping of attempts.

/** An attempt this instance spawned and is still watching. */
export interface OwnAttempt {
  /** The spawned process (absent for attempts the spawn helper started). */
  child?: ChildProcess;
  detached: boolean;
  done: Promise<ExitInfo>;
  /** The leader has exited (its pid may be reused): only its group and markers still count. */
  leaderExited?: boolean;
  /**
   * Started through the spawn helper for a request nobody will recover (`recoverable: false`):
   * no pid file, no exit marker, and the run directory exists only once a file went into it.
   */
  volatile?: boolean;
  /** This instance asked for a kill (known here even where no `killreq` file was written). */
  killRequested?: boolean;
}

/** What a start path needs of its LocalTransport. */
export interface LaunchContext {
  /** Boot id of this machine, recorded in a detached attempt's metadata. */
  readonly bootId: string;
  /** Attempts the transport spawned and still watches, by run directory. */
  readonly own: Map<string, OwnAttempt>;
  /** Records an attempt's end (with the helper's output count when the helper ran it). */
  settle(runDir: string, info: ExitInfo, end?: HelperEnd): void;
  /** Watches an attempt whose starter is gone, by its markers. */
  adoptOrphan(handle: TransportHandle, runDir: string): Promise<ExitInfo>;
  /** The environment every task starts from (`SHELL` and `TERM` of a terminal come from it). */
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
  /** util-linux `script`, which runs attempts with `tty`; undefined where it is not installed. */
  readonly scriptPath: string | undefined;
}

/** The `script` launch of a request with `tty` (see {@link ttyLaunch}). */
function ttyOf(ctx: LaunchContext, req: LaunchRequest): { argv: string[]; env: Record<string, string> } {
  if (ctx.scriptPath === undefined) throw new SpawnError('tty: util-linux `script` is not installed', { taskId: req.taskId });
  const pick = (k: string): string | undefined => (req.env !== undefined && Object.hasOwn(req.env, k) ? req.env[k] : ctx.baseEnv[k]);
  return ttyLaunch(req, ctx.scriptPath, { SHELL: pick('SHELL'), TERM: pick('TERM') });
}

const noop = (): void => {};

// Once the leftovers are reaped, output still in the pipes drains within this; past it (a writer
// that kept them open: one kept on purpose, or one that escaped the sweep) the pipes are
// closed from this end so that the attempt can end.
const DRAIN_MS = 1_000;

function closeStreamsAfter(child: ChildProcess, ms: number): void {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null && !s.destroyed);
  if (streams.length === 0) return;
  const timer = setTimeout(() => {
    for (const s of streams) s!.destroy();
  }, ms);
  child.once('close', () => clearTimeout(timer));
}

/** Spawns a non-detached attempt from Node (no wrapper), its output copied into the run directory. */
export async function startDirect(ctx: LaunchContext, req: LaunchRequest, runDir: string, cwd: string | undefined, env: NodeJS.ProcessEnv, base: TransportHandle): Promise<TransportHandle> {
  const outFd = openSync(join(runDir, OUT_FILE), 'a', 0o600);
  const errFd = openSync(join(runDir, ERR_FILE), 'a', 0o600);
  let input: DirectInput | undefined;
  if (req.stdin !== undefined || req.tty !== undefined) {
    try {
      input = await directInput(ctx, req, runDir, cwd, env);
    } catch (err) {
      closeSync(outFd);
      closeSync(errFd);
      throw err;
    }
  }
  let child: ChildProcess;
  try {
    // Output comes through pipes that captureOutput copies into out/err, cut at
    // maxOutputBytes: only the writer of the files can bound them (see output-cap.ts).
    if (input === undefined) {
      const opts = { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
      child = req.args ? spawn(req.command, req.args, opts) : spawn('/bin/sh', ['-c', req.command], opts);
    } else {
      child = spawn(input.argv[0]!, input.argv.slice(1), { cwd, env: input.env, detached: true, stdio: [input.stdin, 'pipe', 'pipe'] });
    }
  } catch (err) {
    closeSync(outFd);
    closeSync(errFd);
    input?.abort();
    throw spawnFailure(err as NodeJS.ErrnoException, req, runDir, cwd);
  } finally {
    input?.spawned();
  }
  const capture = captureOutput(child, runDir, outFd, errFd, req.maxOutputBytes ?? Infinity);
  const pid = child.pid;
  if (pid === undefined) {
    input?.abort();
    throw spawnFailure(await new Promise((r) => child.once('error', r)), req, runDir, cwd);
  }
  input?.attach(pid);
  try {
    writeFileSync(join(runDir, PID_FILE), formatPidFile(pid, pid), { mode: 0o600 });
  } catch {
    // Disk full (or the run directory removed): the process exists and runs, so it is tracked
    // in memory like any other attempt — failing the start here would leave it running
    // untracked and let a retry run the command a second time. Only a crash-recovery hint is
    // missing; recovery finds the process by its markers and labels a dead one
    // `spawn_unconfirmed` (it may have run), never `spawn_interrupted`.
  }
  child.on('error', noop);
  const own: OwnAttempt = { child, detached: false, done: undefined as unknown as Promise<ExitInfo> };
  // When the leader exits, what it left behind is reaped (see leftovers.ts) before the attempt
  // ends; the end also waits for 'close' below, which the reap makes come promptly.
  let reaped: Promise<unknown> = Promise.resolve();
  child.once('exit', () => {
    own.leaderExited = true;
    // The input ends with the leader (the holder would also notice, within a second).
    input?.abort();
    const target = { taskId: req.taskId, attempt: req.attempt, pgid: pid, startedAt: base.startedAt };
    reaped = reapLeftovers(target, leftoverPolicy(req)).then(() => closeStreamsAfter(child, DRAIN_MS));
  });
  own.done = new Promise<ExitInfo>((resolve) => {
    // 'close', not 'exit': the attempt ends once its output pipes are closed too (every
    // process holding them is gone and every byte is in the files), so the exit marker
    // really means that no more output can come.
    // A bulk writer's output is copied by a `head` process (output-cap.ts): waited for too.
    child.once('close', (rawCode, rawSignal) => void reaped.then(() => capture.finish(DRAIN_MS)).then(() => {
      const { code, signal } = req.tty === undefined ? { code: rawCode, signal: rawSignal } : ttyStatus(own.killRequested === true || killRequested(runDir), rawCode, rawSignal);
      const info: ExitInfo = { state: 'exited', exitCode: signal === null ? code : null, signal, endedAt: Date.now() };
      try {
        // The pid file's inode becomes the marker (one inode creation less per attempt); once
        // the marker exists, nobody needs the pid.
        writeExitMarker(runDir, formatExitCode(code, signal), PID_FILE);
      } catch {
        // The run directory was removed under a running attempt; nobody can read a marker then.
      }
      ctx.settle(runDir, info);
      resolve(info);
    }));
  });
  ctx.own.set(runDir, own);
  await new Promise((r) => child.once('spawn', r));
  return { ...base, pid, pgid: pid };
}

/** What a directly spawned attempt with input or a terminal runs, and its input's lifecycle. */
interface DirectInput {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** The child's stdin: a descriptor of the data file, or nothing (the FIFO is opened by the child). */
  stdin: number | 'ignore';
  /** Called once the spawn was tried: closes this process's descriptor of the data file. */
  spawned(): void;
  /** Tells the holder the leader's pid and writes `in.pid`. */
  attach(pid: number): void;
  /** Ends the holder (the spawn failed, or the leader exited). */
  abort(): void;
}

/**
 * Prepares the input of a directly spawned attempt: the data file `in` (input given up front),
 * or the FIFO `in` and its holder (`stdin: 'pipe'`), and the `script` launch of a terminal.
 * The FIFO's read end is opened here, without waiting, and given to the leader as its stdin, so
 * the task holds its input before a write or a close can reach it. A program that cannot be
 * found is looked up first, so that no holder is started for a start that fails.
 */
async function directInput(ctx: LaunchContext, req: LaunchRequest, runDir: string, cwd: string | undefined, env: NodeJS.ProcessEnv): Promise<DirectInput> {
  let argv = req.args ? [req.command, ...req.args] : ['/bin/sh', '-c', req.command];
  let childEnv = env;
  if (req.tty !== undefined) {
    const tty = ttyOf(ctx, req);
    argv = tty.argv;
    childEnv = { ...env, ...tty.env };
  }
  let stdin: number | 'ignore' = 'ignore';
  let holder: DirectHolder | undefined;
  if (req.stdin instanceof Uint8Array) {
    const path = join(runDir, IN_FILE);
    try {
      writeFileSync(path, req.stdin, { mode: 0o600, flag: 'wx' });
      stdin = openSync(path, 'r');
    } catch (err) {
      markFailure(runDir, 'spawn_failed', 'STDIN');
      throw new SpawnError(`cannot write the input of ${req.taskId}-${req.attempt}`, { taskId: req.taskId, cause: err });
    }
  } else if (req.stdin === 'pipe') {
    if (req.tty === undefined && req.args && !programExists(req.command, cwd, env['PATH'])) {
      throw spawnFailure(Object.assign(new Error(`${req.command}: not found`), { code: 'ENOENT' }), req, runDir, cwd);
    }
    try {
      holder = await startDirectHolder(runDir, env);
    } catch (err) {
      markFailure(runDir, 'spawn_failed', 'STDIN');
      throw new SpawnError(`cannot set up the input pipe of ${req.taskId}-${req.attempt}: ${(err as Error).message}`, { taskId: req.taskId, cause: err });
    }
    try {
      // The read end is opened here, before the leader exists, and given to it as its stdin: a
      // close (the holder's end) can then never come before the task's open, which would
      // block that open forever and drop what was written. Non-blocking, this open never
      // waits; libuv puts the child's stdin back in blocking mode.
      stdin = openSync(join(runDir, IN_FILE), fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      holder.end();
      markFailure(runDir, 'spawn_failed', 'STDIN');
      throw new SpawnError(`cannot open the input pipe of ${req.taskId}-${req.attempt}`, { taskId: req.taskId, cause: err });
    }
  }
  const fd = stdin;
  return {
    argv,
    env: childEnv,
    stdin,
    spawned: () => {
      if (typeof fd === 'number') closeSync(fd);
    },
    attach: (pid) => holder?.attach(pid),
    abort: () => holder?.end(),
  };
}

// Whether `program` would be found by an exec with a PATH search (`/` in it: that path, from cwd).
function programExists(program: string, cwd: string | undefined, path: string | undefined): boolean {
  if (!program.includes('/')) return findOnPath(program, path) !== undefined;
  try {
    accessSync(resolvePath(cwd ?? '.', program), fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts a detached attempt under the job-protocol wrapper, so that its status outlives this process. */
export async function startDetached(ctx: LaunchContext, req: LaunchRequest, runDir: string, cwd: string | undefined, env: NodeJS.ProcessEnv, base: TransportHandle): Promise<TransportHandle> {
  const meta = { bootId: ctx.bootId, startedAt: base.startedAt, detached: true };
  const wrapperEnv: NodeJS.ProcessEnv = { ...env, [REAP_ENV]: formatReapSetting(leftoverPolicy(req)) };
  // The wrapper's output copiers cut each stream there (output-cap.ts).
  if (req.maxOutputBytes !== undefined) wrapperEnv[MAX_OUTPUT_ENV] = String(req.maxOutputBytes);
  // Input and terminal are the wrapper's (job-protocol/input.ts): the FIFO, its holder and `script`
  // are processes of the attempt, so they outlive this process like the command does.
  const params = { runDir, cwd, command: req.command, args: req.args, stdin: req.stdin, tty: req.tty };
  const { child, pid, pgid, exited } = await launchWrapper(params, req.taskId, wrapperEnv, meta);
  const policy = leftoverPolicy(req);
  const done = exited.then(async (endedAt) => {
    // The wrapper reaps leftovers itself before its exit marker (so that holds with no
    // executor running); this second sweep, by the same markers, catches a process forked at
    // the very moment of a kill, so none outlives the attempt's end (lingering already done).
    if (policy.orphans !== 'keep') {
      await reapLeftovers({ taskId: req.taskId, attempt: req.attempt, pgid, startedAt: base.startedAt }, { ...policy, lingerMs: 0 }).catch(noop);
    }
    const info = readExitInfo(runDir) ?? (killRequested(runDir)
      ? { state: 'exited' as const, exitCode: null, signal: 'SIGKILL', endedAt }
      : lostExit('no_exit_marker', endedAt));
    ctx.settle(runDir, info);
    return info;
  });
  ctx.own.set(runDir, { child, detached: true, done });
  return { ...base, pid, pgid };
}

/**
 * Starts a non-detached attempt through the spawn helper, which claims the run directory,
 * creates `out`/`err`, forks and execs the task in its own session and copies its output
 * (cut at `maxOutputBytes`), so that this thread does no file-system call and no fork for it.
 * Undefined when the helper did nothing (unusable, or out of descriptors or processes): the
 * caller then spawns directly.
 */
export async function startViaHelper(ctx: LaunchContext, helper: SpawnHelper, req: LaunchRequest, runDir: string, base: TransportHandle): Promise<TransportHandle | undefined> {
  const { taskId, attempt } = req;
  const env: Record<string, string> = { ...req.env, BGEXEC_TASK_ID: taskId, BGEXEC_ATTEMPT: String(attempt) };
  const argv = req.args ? [req.command, ...req.args] : ['/bin/sh', '-c', req.command];
  const cwd = req.cwd === undefined ? undefined : resolvePath(req.cwd);
  // Nobody recovers the attempt of a store that dies with the process: the helper then writes
  // neither pid file nor exit marker, and makes the run directory only for a file that needs it.
  const volatile = req.recoverable === false;
  const launch: HelperLaunch = { runDir, cwd, maxOutputBytes: req.maxOutputBytes, env, argv };
  if (volatile) launch.volatile = true;
  if (req.tty !== undefined) {
    const tty = ttyOf(ctx, req);
    launch.argv = tty.argv;
    Object.assign(env, tty.env);
  }
  if (req.stdin !== undefined) launch.input = req.stdin;
  let started: HelperAttempt;
  try {
    started = await helper.start(launch);
  } catch (err) {
    if (!(err instanceof HelperStartError)) throw err;
    const cause = Object.assign(new Error(err.message), { code: err.errno });
    switch (err.reason) {
      case 'unavailable':
      case 'busy':
        return undefined;
      case 'exists':
        throw new SpawnError(`attempt ${taskId}-${attempt} was already started`, { taskId, cause });
      case 'mkdir':
        throw new SpawnError(`cannot create ${runDir}`, { taskId, cause });
      case 'cwd_missing':
        if (!volatile) markFailure(runDir, 'cwd_missing');
        throw new SpawnError(`cwd_missing: working directory ${JSON.stringify(req.cwd)} does not exist or is not a directory`, { reason: 'cwd_missing', taskId, cause });
      case 'spawn_failed':
        if (!volatile) markFailure(runDir, 'spawn_failed', err.errno);
        throw new SpawnError(`cannot execute ${JSON.stringify(req.command)}: ${err.errno ?? 'exec failed'}`, { taskId, cause });
      default: {
        // The helper died with this launch in flight: the task may be running. It is watched
        // like an attempt of an executor that died: by its markers in /proc, `lost` once none
        // is left (`spawn_unconfirmed`, or `spawn_interrupted` if nothing was created).
        void ctx.adoptOrphan(base, runDir);
        return base;
      }
    }
  }
  const { pid } = started;
  const handle: TransportHandle = { ...base, pid, pgid: pid };
  const own: OwnAttempt = { detached: false, done: undefined as unknown as Promise<ExitInfo> };
  if (volatile) own.volatile = true;
  own.done = started.exited.then(
    async (exit) => {
      const { alone } = exit;
      const { code: exitCode, signal } = req.tty === undefined
        ? { code: exit.exitCode, signal: exit.signal }
        : ttyStatus(own.killRequested === true || killRequested(runDir), exit.exitCode, exit.signal);
      own.leaderExited = true;
      // As on the direct path: what the leader left behind is reaped before the end, then
      // the output pipes get DRAIN_MS to empty, then the helper writes the exit marker. The
      // /proc scan is skipped when the helper knows that no task left any process behind.
      if (!alone) await reapLeftovers({ taskId, attempt, pgid: pid, startedAt: base.startedAt }, leftoverPolicy(req));
      const end = await started.release(formatExitCode(exitCode, signal), DRAIN_MS);
      const info: ExitInfo = { state: 'exited', exitCode, signal, endedAt: Date.now() };
      ctx.settle(runDir, info, end);
      return info;
    },
  ).catch(() => {
    // The helper died: nobody can report this attempt's status any more.
    ctx.own.delete(runDir);
    return ctx.adoptOrphan(handle, runDir);
  });
  ctx.own.set(runDir, own);
  return handle;
}

/**
 * The status of a `tty` attempt: `script` passes a program's death by signal n on as exit code
 * 128+n, which reads as that signal once a kill of the attempt was asked for (`killed`, as for
 * the wrapper's markers); otherwise 128+n stays an exit code.
 */
function ttyStatus(killed: boolean, code: number | null, signal: string | null): { code: number | null; signal: string | null } {
  if (signal !== null || code === null || code <= 128 || !killed) return { code, signal };
  const name = signalName(code - 128);
  return name === undefined ? { code, signal } : { code: null, signal: name };
}

function spawnFailure(err: NodeJS.ErrnoException, req: LaunchRequest, runDir: string, cwd: string | undefined): SpawnError {
  const cwdGone = cwd !== undefined && !isDirectory(cwd);
  markFailure(runDir, cwdGone ? 'cwd_missing' : 'spawn_failed', cwdGone ? undefined : err.code);
  const what = cwdGone ? `cwd_missing: working directory ${JSON.stringify(req.cwd)} vanished` : `cannot execute ${JSON.stringify(req.command)}: ${err.code ?? err.message}`;
  return new SpawnError(what, { taskId: req.taskId, cause: err, ...(cwdGone ? { reason: 'cwd_missing' } : {}) });
}

/** True when `path` is an existing directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
