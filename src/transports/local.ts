import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { BgexecError, InvalidArgumentError, SpawnError, StdinError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import { ERR_FILE, EXIT_FILE, IN_FILE, OUT_FILE } from './job-protocol/markers.js';
import { LIMIT_FILE, limitReachedIn } from './job-protocol/output-cap.js';
import {
  checkReadRange, inspectRunDir, markFailure, outputSizes, probeRunDir, readPidMarker, readRange, removeKnownRunDir, watchRunDir,
  writeKillRequest, type RunDirWatch,
} from './job-protocol/run-dir.js';
import { findLaunchProblem, isValidAttempt, isValidId } from './job-protocol/quote.js';
import { attemptTreeAlive, isAttemptProcess, isRunning, readBootId, signalAttemptTree, type AttemptTarget } from './process-tree.js';
import { awaitsInput } from './input-wait.js';
import { endInputHolder, findInputHolder, holderAlive, holderStarting, inputHandleFields, writeFifo, type InputHolder } from './local-stdin.js';
import { isDirectory, startDetached, startDirect, startViaHelper, type LaunchContext, type OwnAttempt } from './local-launch.js';
import { SpawnHelper, findOnPath, type HelperEnd } from './spawn-helper/client.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadContext, ReadResult, Transport, TransportCapabilities } from './types.js';

/** Options of {@link LocalTransport}. */
export interface LocalTransportOptions {
  /** Directory holding `jobs/<taskId>-<attempt>/`; default: a private temp dir created on first use. */
  root?: string;
  /**
   * Start non-detached attempts through the spawn helper, a long-lived process that forks the
   * tasks and writes their output (default true; it needs `perl` on the PATH and falls back to
   * direct spawn without it). `false`: every attempt is spawned by Node itself.
   */
  spawnHelper?: boolean;
}

const SETTLED_CACHE = 4096;
const LOST_CONFIRM_MS = 1_000;
const noop = (): void => {};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The files an attempt the spawn helper ended may have (any `killreq`, `in`, … make the caller fall back). */
function filesOf(end: HelperEnd): string[] {
  const files = end.markerWritten ? [EXIT_FILE] : [];
  if (end.stdoutBytes > 0 || end.limitReached) files.push(OUT_FILE);
  if (end.stderrBytes > 0 || end.limitReached) files.push(ERR_FILE);
  if (end.limitReached) files.push(LIMIT_FILE);
  return files;
}

/**
 * Runs attempts on this machine. Non-detached attempts are spawned directly (no wrapper) in
 * their own process group and observed through the child's `exit` event; detached attempts run
 * under the job-protocol wrapper so that their status outlives this Node process. Output always
 * goes to the run directory's `out`/`err` files, never through Node.
 */
export class LocalTransport implements Transport {
  readonly kind = 'local';
  // Snapshot taken once: process.env is backed by getenv() accessors, a plain copy spreads faster.
  private readonly baseEnv: Record<string, string | undefined> = { ...process.env };
  // util-linux `script` runs attempts on a terminal; without it `tty` is refused at submit.
  private readonly scriptPath = findOnPath('script', this.baseEnv['PATH']);
  /**
   * Input written later (`stdin: 'pipe'`) and input given up front, attached and detached alike;
   * a terminal (`tty`) where util-linux `script` is installed. With a `root`, `findsEveryStart`:
   * a run directory is claimed there before anything runs, and a later process probes it.
   */
  readonly capabilities: TransportCapabilities;
  private readonly bootId = readBootId();
  private readonly rootOption: string | undefined;
  private rootDir: string | undefined;
  private jobsDir: string | undefined;
  private closed = false;
  private readonly own = new Map<string, OwnAttempt>();
  private readonly settled = new Map<string, ExitInfo>();
  private readonly deadSince = new Map<string, number>();
  /** Waits on attempts started elsewhere (another instance or an earlier process). */
  private readonly foreign = new Map<string, RunDirWatch<ExitInfo>>();
  /** Output sizes at the end of attempts the spawn helper ran (answers poll() without stats). */
  private readonly endSizes = new Map<string, HelperEnd>();
  /**
   * Attempts of this instance that nobody will recover (`recoverable: false`, through the spawn
   * helper), until their cleanup: they have no exit marker to answer from, so their end stays
   * here (not in the bounded `settled`), and a missing run directory means "no output yet".
   */
  private readonly volatile = new Map<string, { info?: ExitInfo; end?: HelperEnd }>();
  /** Holders of input FIFOs, by run directory, as first verified (null: none found). */
  private readonly holders = new Map<string, InputHolder | null>();
  /** Run directories whose input this instance closed. */
  private readonly inputClosed = new Set<string>();
  private readonly helper: SpawnHelper | undefined;
  // What the start paths (local-launch.ts) report back to.
  private readonly launch: LaunchContext = {
    bootId: this.bootId,
    own: this.own,
    settle: (runDir, info, end) => this.settle(runDir, info, end),
    adoptOrphan: (handle, runDir) => this.adoptOrphan(handle, runDir),
    baseEnv: this.baseEnv,
    scriptPath: this.scriptPath,
  };

  constructor(options: LocalTransportOptions = {}) {
    const root: unknown = options?.root;
    if (root !== undefined && (typeof root !== 'string' || root === '' || root.includes('\0'))) {
      throw new InvalidArgumentError('root', 'must be a non-empty path without NUL bytes');
    }
    this.rootOption = root === undefined ? undefined : resolvePath(root);
    // Without a root each process has a fresh temporary one: a later process finds nothing there.
    this.capabilities = { stdin: true, tty: this.scriptPath !== undefined, findsEveryStart: this.rootOption !== undefined };
    const useHelper: unknown = options?.spawnHelper;
    if (useHelper !== undefined && typeof useHelper !== 'boolean') throw new InvalidArgumentError('spawnHelper', 'must be a boolean');
    this.helper = useHelper === false ? undefined : new SpawnHelper({ baseEnv: this.baseEnv });
  }

  /** The root directory in use, or undefined before the first start (default root). */
  get root(): string | undefined {
    return this.rootOption ?? this.rootDir;
  }

  async start(req: LaunchRequest): Promise<TransportHandle> {
    const { taskId, attempt } = req;
    if (this.closed) throw new SpawnError('local transport is closed', { taskId });
    const problem = findLaunchProblem(req);
    if (problem !== undefined) throw new SpawnError(problem, { taskId });
    const runDir = join(this.jobsDir ?? this.ensureRoot(), `${taskId}-${attempt}`);
    const startedAt = Date.now();
    const base: TransportHandle = { kind: this.kind, taskId, attempt, runDir, bootId: this.bootId, detached: req.detached, startedAt };
    if (req.stdin === 'pipe' || req.tty !== undefined) Object.assign(base, inputHandleFields(req));
    if (!req.detached && this.helper !== undefined && this.helper.usable) {
      const viaHelper = await startViaHelper(this.launch, this.helper, req, runDir, base);
      if (viaHelper !== undefined) {
        if (this.own.get(runDir)?.volatile === true) this.volatile.set(runDir, {});
        return viaHelper;
      }
    }
    try {
      // Not recursive: the leaf's creation is the claim that makes a second start fail.
      mkdirSync(runDir, { mode: 0o700 });
    } catch (err) {
      const dup = (err as NodeJS.ErrnoException).code === 'EEXIST';
      throw new SpawnError(dup ? `attempt ${taskId}-${attempt} was already started` : `cannot create ${runDir}`, { taskId, cause: err });
    }
    let cwd: string | undefined;
    if (req.cwd !== undefined) {
      cwd = resolvePath(req.cwd);
      if (!isDirectory(cwd)) {
        markFailure(runDir, 'cwd_missing');
        throw new SpawnError(`cwd_missing: working directory ${JSON.stringify(req.cwd)} does not exist or is not a directory`, { reason: 'cwd_missing', taskId });
      }
    }
    const env = { ...this.baseEnv, ...req.env, BGEXEC_TASK_ID: taskId, BGEXEC_ATTEMPT: String(attempt) };
    return req.detached ? startDetached(this.launch, req, runDir, cwd, env, base) : startDirect(this.launch, req, runDir, cwd, env, base);
  }

  /** Watches an attempt whose starter is gone (see {@link inspect}, `ownerGone`). */
  private adoptOrphan(handle: TransportHandle, runDir: string): Promise<ExitInfo> {
    const orphan = { ...handle, ownerGone: true };
    const w = watchRunDir(runDir, () => this.inspect(orphan, runDir));
    this.foreign.set(runDir, w);
    w.promise.then((info) => {
      this.foreign.delete(runDir);
      this.settle(runDir, info);
    }, () => this.foreign.delete(runDir));
    return w.promise;
  }

  wait(handle: TransportHandle): Promise<ExitInfo> {
    const runDir = this.runDirOf(handle);
    const done = this.settled.get(runDir) ?? this.volatile.get(runDir)?.info;
    if (done) return Promise.resolve(done);
    const pending = this.own.get(runDir)?.done ?? this.foreign.get(runDir)?.promise;
    if (pending) return pending;
    const w = watchRunDir(runDir, () => this.inspect(handle, runDir));
    this.foreign.set(runDir, w);
    w.promise.then((info) => {
      this.foreign.delete(runDir);
      this.settle(runDir, info);
    }, () => this.foreign.delete(runDir));
    return w.promise;
  }

  /**
   * {@link inspectRunDir}, except that a non-detached attempt found dead without a marker is
   * declared lost only after LOST_CONFIRM_MS: its owner (another process) writes the marker
   * just after the child's death, and must not lose that race to this observer — unless the
   * handle says that owner is gone (`ownerGone: true`, set by executor recovery on attempts of
   * an executor that died: nobody is left to write the marker, or the pid).
   */
  private inspect(handle: TransportHandle, runDir: string): ExitInfo | undefined {
    const info = inspectRunDir(handle, runDir, this.bootId);
    if (info?.state !== 'lost' || handle.detached === true || info.reason === 'boot_id_changed' || handle.ownerGone === true) {
      this.deadSince.delete(runDir);
      return info;
    }
    const first = this.deadSince.get(runDir) ?? Date.now();
    this.deadSince.set(runDir, first);
    return Date.now() - first < LOST_CONFIRM_MS ? undefined : info;
  }

  private settle(runDir: string, info: ExitInfo, end?: HelperEnd): void {
    const vol = this.own.get(runDir)?.volatile === true ? this.volatile.get(runDir) : undefined;
    this.own.delete(runDir);
    this.deadSince.delete(runDir);
    this.holders.delete(runDir);
    this.inputClosed.delete(runDir);
    if (vol !== undefined) {
      vol.info = info;
      vol.end = end;
      return;
    }
    this.settled.set(runDir, info);
    // Bounded: an evicted attempt is answered from its exit marker instead.
    const oldest = this.settled.size > SETTLED_CACHE ? this.settled.keys().next() : undefined;
    if (oldest?.done === false) {
      this.settled.delete(oldest.value);
      this.endSizes.delete(oldest.value);
    }
    if (end !== undefined) this.endSizes.set(runDir, end);
  }

  /** The attempt's end if known now, without waiting. */
  private endedNow(handle: TransportHandle, runDir: string): ExitInfo | undefined {
    return this.settled.get(runDir) ?? this.volatile.get(runDir)?.info ?? (this.own.has(runDir) ? undefined : this.inspect(handle, runDir));
  }

  async poll(handle: TransportHandle): Promise<PollResult> {
    const runDir = this.runDirOf(handle);
    const exit = this.endedNow(handle, runDir);
    // The helper counted every byte it wrote, so an ended attempt of it costs no stat.
    const end = exit && (this.endSizes.get(runDir) ?? this.volatile.get(runDir)?.end);
    if (exit && end) {
      return { state: exit.state, exit, stdoutBytes: end.stdoutBytes, stderrBytes: end.stderrBytes, ...(end.limitReached ? { limitReached: true } : {}) };
    }
    const sizes: Omit<PollResult, 'state'> = outputSizes(runDir);
    if (limitReachedIn(runDir)) sizes.limitReached = true;
    if (exit) return { state: exit.state, exit, ...sizes };
    // Only attempts with an input pipe or a terminal can wait for input: the others cost nothing.
    if (handle.stdin === 'pipe' || handle.tty === true) {
      const waiting = this.awaitingInput(handle, runDir);
      if (waiting !== undefined) sizes.awaitingInput = waiting;
    }
    return { state: 'running', ...sizes };
  }

  /** Whether the attempt's processes all wait for input (see input-wait.ts); undefined: cannot tell. */
  private awaitingInput(handle: TransportHandle, runDir: string): boolean | undefined {
    const root = handle.pid;
    if (root === undefined || this.own.get(runDir)?.leaderExited === true) return undefined;
    // A foreign root is trusted only once /proc says it is still this attempt's process.
    if (!this.own.has(runDir) && !isAttemptProcess(root, handle.taskId, handle.attempt, handle.startedAt)) return undefined;
    const holder = handle.stdin === 'pipe' ? this.holderOf(handle, runDir) : undefined;
    return awaitsInput({ root, exclude: typeof holder === 'object' ? [holder.pid] : [], skipScript: handle.tty === true });
  }

  /** The holder of the attempt's input FIFO, verified once and then remembered; see {@link findInputHolder}. */
  private holderOf(handle: TransportHandle, runDir: string): InputHolder | 'gone' | 'unknown' {
    const known = this.holders.get(runDir);
    if (known !== undefined) return known ?? 'gone';
    const found = findInputHolder(runDir, handle.taskId, handle.attempt);
    // `unknown` is not remembered: a detached attempt's wrapper may not have written `in.pid`
    // yet, and a holder between its fork and its exec does not carry the markers yet.
    if (found !== 'unknown') this.holders.set(runDir, found === 'gone' ? null : found);
    return found;
  }

  /**
   * The live holder, waiting for one that is not there or not verifiable yet (an attempt that
   * just started: `in.pid` not written, or its holder not exec'd yet) for as long as the attempt
   * runs, never a fixed time: a close that gave up early would be lost (the holder, left
   * running, keeps the task from ever reading end-of-file). Undefined once the input is closed
   * or the attempt ended, or when `in.pid` names a process that is not this attempt's holder.
   */
  private async liveHolder(handle: TransportHandle, runDir: string): Promise<InputHolder | undefined> {
    for (let step = 5; ; step = Math.min(step * 2, 100)) {
      const holder = this.holderOf(handle, runDir);
      if (holder === 'gone') return undefined;
      if (holder !== 'unknown') return holderAlive(holder) ? holder : undefined;
      if (this.inputClosed.has(runDir) || this.own.get(runDir)?.leaderExited === true || this.endedNow(handle, runDir) || !existsSync(join(runDir, IN_FILE))) return undefined;
      // Looked at again after holderStarting(): a holder that exec'd meanwhile is verified now.
      if (!holderStarting(runDir) && this.holderOf(handle, runDir) === 'unknown') return undefined;
      await sleep(step);
    }
  }

  // The error of a write that found no way into the task: its end, or its input closed.
  private stdinGone(handle: TransportHandle, runDir: string): StdinError {
    const { taskId } = handle;
    // The leader's end is the attempt's: its input is ended with it, whoever noticed first.
    const leaderGone = this.own.get(runDir)?.leaderExited === true || (handle.pid !== undefined && !isRunning(handle.pid));
    if (leaderGone || this.endedNow(handle, runDir)) return new StdinError('TASK_NOT_RUNNING', `task ${taskId} is not running`, { taskId });
    return new StdinError('STDIN_CLOSED', `the input of task ${taskId} was closed`, { taskId });
  }

  async writeStdin(handle: TransportHandle, data: Uint8Array): Promise<void> {
    const runDir = this.runDirOf(handle);
    const { taskId } = handle;
    if (this.endedNow(handle, runDir)) throw new StdinError('TASK_NOT_RUNNING', `task ${taskId} is not running`, { taskId });
    if (this.inputClosed.has(runDir)) throw new StdinError('STDIN_CLOSED', `the input of task ${taskId} was closed`, { taskId });
    // No live holder: the input was closed (here or by another process) or the attempt ends.
    if ((await this.liveHolder(handle, runDir)) === undefined) throw this.stdinGone(handle, runDir);
    if (data.byteLength === 0) return;
    const result = await writeFifo(join(runDir, IN_FILE), data);
    if (result !== 'ok') throw this.stdinGone(handle, runDir);
  }

  async closeStdin(handle: TransportHandle): Promise<void> {
    const runDir = this.runDirOf(handle);
    if (this.endedNow(handle, runDir) || this.inputClosed.has(runDir)) return;
    const holder = await this.liveHolder(handle, runDir);
    this.inputClosed.add(runDir);
    if (holder !== undefined) await endInputHolder(holder);
  }

  async read(handle: TransportHandle, stream: OutputStream, offset: number, length: number, context?: ReadContext): Promise<ReadResult> {
    const runDir = this.runDirOf(handle);
    checkReadRange(offset, length);
    try {
      return await readRange(join(runDir, stream === 'stdout' ? OUT_FILE : ERR_FILE), offset, length, context);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // A volatile attempt's run directory comes with its first byte of output.
      if (!existsSync(runDir) && !this.volatile.has(runDir)) throw new BgexecError('OUTPUT_GONE', `output of ${handle.taskId}-${handle.attempt} was removed`, { taskId: handle.taskId, cause: err });
      return { data: Buffer.alloc(0), totalBytes: 0 };
    }
  }

  async kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    const runDir = this.runDirOf(handle);
    if (this.endedNow(handle, runDir)) return;
    const mine = this.own.get(runDir);
    if (mine !== undefined) mine.killRequested = true;
    // A volatile attempt keeps the request in memory: nobody else reads it, and its run
    // directory may not exist.
    if (mine?.volatile !== true) writeKillRequest(runDir, options.signal ?? 'SIGTERM');
    const pid = handle.pid ?? readPidMarker(runDir)?.pid;
    // A foreign pid is signalled only once /proc confirms it is still this attempt's process.
    const verified = this.own.has(runDir) || (pid !== undefined && isAttemptProcess(pid, handle.taskId, handle.attempt, handle.startedAt));
    // A leader that has exited (its leftovers being reaped) is not signalled: its pid may be reused.
    const leaderPid = this.own.get(runDir)?.leaderExited === true ? undefined : pid;
    const target: AttemptTarget = { taskId: handle.taskId, attempt: handle.attempt, pid: leaderPid, pgid: handle.pgid ?? pid, verified, startedAt: handle.startedAt };
    let ended = false;
    const done = this.wait(handle).then(() => { ended = true; }, noop);
    if (handle.tty === true && !handle.detached && verified && leaderPid !== undefined) {
      // The leader is util-linux `script`: a TERM of its own makes it wait 2 s and exit 0. The
      // program on its terminal gets the signal instead; `script` then ends with the program's
      // status (re-raising its signal). SIGKILL below still reaches everything.
      signalAttemptTree({ ...target, pgid: undefined }, options.signal ?? 'SIGTERM', { spare: leaderPid });
    } else {
      signalAttemptTree(target, options.signal ?? 'SIGTERM');
    }
    this.foreign.get(runDir)?.kick();
    const deadline = Date.now() + options.graceMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => { timer = setTimeout(r, options.graceMs); })]);
    clearTimeout(timer);
    // Each look is a /proc scan, so back off (25 → 200 ms) while a tree ignores the signal.
    let alive = attemptTreeAlive(target);
    for (let step = 25; alive && Date.now() < deadline; step = Math.min(step * 2, 200)) {
      await sleep(Math.min(step, deadline - Date.now()));
      alive = attemptTreeAlive(target);
    }
    if (!ended || alive) signalAttemptTree(target, 'SIGKILL', { treeKill: true });
  }

  async cleanup(handle: TransportHandle): Promise<void> {
    const runDir = this.runDirOf(handle);
    const vol = this.volatile.get(runDir);
    const end = this.endSizes.get(runDir) ?? vol?.end;
    this.volatile.delete(runDir);
    this.settled.delete(runDir);
    this.endSizes.delete(runDir);
    this.deadSince.delete(runDir);
    this.holders.delete(runDir);
    this.inputClosed.delete(runDir);
    // An ended volatile attempt that never needed its run directory has nothing to remove.
    if (end?.runDirCreated === false) return;
    // The helper said which files an ended attempt has: two to four calls instead of a listing.
    if (end !== undefined && removeKnownRunDir(runDir, filesOf(end))) return;
    await rm(runDir, { recursive: true, force: true });
  }

  async probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    if (!isValidId(taskId) || !isValidAttempt(attempt)) throw new InvalidArgumentError('taskId', 'invalid task id or attempt');
    const root = this.root;
    if (root === undefined) return undefined;
    const found = probeRunDir(join(root, 'jobs', `${taskId}-${attempt}`), this.bootId);
    return found && { kind: this.kind, taskId, attempt, ...found };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.foreign.values()]) w.stop(new BgexecError('SHUTTING_DOWN', 'local transport closed'));
    for (const own of this.own.values()) if (own.detached) own.child?.unref();
    // It goes once its attempts in flight have ended (they run on, and it copies their output).
    this.helper?.close();
    // An auto-created root goes only when no attempt of ours still runs (detached ones go on;
    // non-detached ones the caller should have killed, and their files are kept for them too).
    if (this.rootOption === undefined && this.rootDir !== undefined && this.own.size === 0) {
      await rm(this.rootDir, { recursive: true, force: true });
    }
  }

  private ensureRoot(): string {
    if (this.jobsDir === undefined) {
      const root = this.rootOption ?? mkdtempSync(join(tmpdir(), 'bgexec-'));
      this.rootDir = root;
      mkdirSync(join(root, 'jobs'), { recursive: true, mode: 0o700 });
      this.jobsDir = join(root, 'jobs');
    }
    return this.jobsDir;
  }

  private runDirOf(handle: TransportHandle): string {
    if (handle.kind !== this.kind) throw new InvalidArgumentError('handle', `not a local handle (kind ${String(handle.kind)})`);
    if (!isValidId(handle.taskId) || !isValidAttempt(handle.attempt)) throw new InvalidArgumentError('handle', 'invalid task id or attempt');
    const leaf = `${handle.taskId}-${handle.attempt}`;
    // cleanup() removes this path recursively: accept only a run directory of this very attempt.
    if (typeof handle.runDir === 'string') {
      // With a known root only that root's run directory is accepted (cleanup deletes it recursively).
      const expected = this.rootOption === undefined ? undefined : join(this.rootOption, 'jobs', leaf);
      const shaped = isAbsolute(handle.runDir) && basename(handle.runDir) === leaf && basename(dirname(handle.runDir)) === 'jobs';
      if (shaped && (expected === undefined || resolvePath(handle.runDir) === expected)) return handle.runDir;
      throw new InvalidArgumentError('handle', `runDir ${JSON.stringify(handle.runDir)} is not a run directory of ${leaf}`);
    }
    if (this.root === undefined) throw new InvalidArgumentError('handle', 'handle has no runDir');
    return join(this.root, 'jobs', leaf);
  }
}
