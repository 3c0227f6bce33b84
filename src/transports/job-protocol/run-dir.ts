import { existsSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import type { TransportHandle } from '../../task.js';
import { findAttemptProcesses, isAttemptProcess } from '../process-tree.js';
import type { ExitInfo, ReadContext, ReadResult } from '../types.js';
import { readKept } from './kept-file.js';
import {
  ERR_FILE, EXIT_FILE, EXIT_PENDING_FILE, KILLREQ_FILE, META_FILE, OUT_FILE, PID_FILE, exitInfoFromMarker,
  formatExitFailure, lostExit, parseExitFile, parseMetaFile, parsePidFile, type ExitFailureReason, type ExitMarker, type RunMeta,
} from './markers.js';

// Readers of a run directory's marker files. Sync on purpose: the files are a few bytes and a
// sync read is cheaper than a round trip through the libuv threadpool.

function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** The parsed `exit` file of `runDir` with its mtime, or undefined when absent or incomplete. */
export function readExitMarker(runDir: string): { marker: ExitMarker; mtimeMs: number } | undefined {
  const path = join(runDir, EXIT_FILE);
  const text = readSmall(path);
  if (text === undefined) return undefined;
  const marker = parseExitFile(text);
  if (!marker) return undefined;
  let mtimeMs = Date.now();
  try {
    mtimeMs = Math.floor(statSync(path).mtimeMs);
  } catch {
    // Removed between the two calls; the read content still stands.
  }
  return { marker, mtimeMs };
}

/** The parsed `pid` file of `runDir`, or undefined when absent or incomplete. */
export function readPidMarker(runDir: string): { pid: number; pgid: number } | undefined {
  const text = readSmall(join(runDir, PID_FILE));
  return text === undefined ? undefined : parsePidFile(text);
}

/** The parsed `meta` file of `runDir`, or undefined. */
export function readMetaMarker(runDir: string): RunMeta | undefined {
  const text = readSmall(join(runDir, META_FILE));
  return text === undefined ? undefined : parseMetaFile(text);
}

/**
 * Records that we are killing the attempt of `runDir` (`killreq`: signal and time), so that
 * its status 128+n reads as signal n. Best effort: a removed run directory is ignored.
 */
export function writeKillRequest(runDir: string, signal: string): void {
  try {
    writeFileSync(join(runDir, KILLREQ_FILE), `${signal} ${Date.now()}\n`, { mode: 0o600 });
  } catch {
    // The run directory is gone; the signals still apply.
  }
}

/** Whether a kill was requested for the attempt of `runDir` (a `killreq` file exists). */
export function killRequested(runDir: string): boolean {
  return existsSync(join(runDir, KILLREQ_FILE));
}

/**
 * Installs an `exit` marker atomically: writes `exit.pending`, renames it to `exit`. With
 * `reuse` (a file of the run directory, e.g. `pid`), that file is first renamed to
 * `exit.pending` so its inode carries the marker: on file systems where allocating an inode
 * is the expensive part (journal-less ext4 under create/delete churn spends ~1 ms of CPU per
 * creation) this saves one creation per attempt. Throws on failure (e.g. the run directory
 * was removed).
 */
export function writeExitMarker(runDir: string, content: string, reuse?: string): void {
  const pending = join(runDir, EXIT_PENDING_FILE);
  if (reuse !== undefined) {
    try {
      renameSync(join(runDir, reuse), pending);
    } catch {
      // Nothing to reuse; writeFileSync creates the file.
    }
  }
  writeFileSync(pending, content, { mode: 0o600 });
  renameSync(pending, join(runDir, EXIT_FILE));
}

/** The end of an attempt as recorded in `runDir` (its `exit` file and `killreq`), if any. */
export function readExitInfo(runDir: string): ExitInfo | undefined {
  const found = readExitMarker(runDir);
  return found && exitInfoFromMarker(found.marker, killRequested(runDir), found.mtimeMs);
}

/** Best-effort `exit` marker for an attempt that never ran its command. */
export function markFailure(runDir: string, reason: ExitFailureReason, errno?: string): void {
  try {
    writeExitMarker(runDir, formatExitFailure(reason, errno && /^[A-Z0-9_]+$/.test(errno) ? errno : undefined));
  } catch {
    // Recovery without a marker treats a pid-less run directory as spawn_interrupted anyway.
  }
}

/** Current sizes of `out` and `err` in `runDir` (0 for a missing file). */
export function outputSizes(runDir: string): { stdoutBytes: number; stderrBytes: number } {
  return { stdoutBytes: sizeOf(join(runDir, OUT_FILE)), stderrBytes: sizeOf(join(runDir, ERR_FILE)) };
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Removes an ended attempt's run directory whose files are known (`files`: names that may
 * exist, a missing one is fine) with one `unlink` each and one `rmdir`, instead of the listing,
 * `lstat`s and retries of a recursive removal. False when anything else is in it (or another
 * error): the caller then removes it recursively. True when the directory is gone.
 */
export function removeKnownRunDir(runDir: string, files: readonly string[]): boolean {
  for (const name of files) {
    try {
      unlinkSync(join(runDir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
  }
  try {
    rmdirSync(runDir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Checks the `offset` and `length` of a read: non-negative safe integers, else INVALID_ARGUMENT. */
export function checkReadRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError('offset', 'must be a non-negative integer');
  if (!Number.isSafeInteger(length) || length < 0) throw new InvalidArgumentError('length', 'must be a non-negative integer');
}

/**
 * Reads up to `length` bytes from byte `offset` of a file, with the file's size at the time.
 * Rejects with the fs error (ENOENT included) when the file cannot be opened. With a
 * `context`, the file stays open between reads and `data` is a view of the context's buffer
 * (see {@link ReadContext}).
 */
export async function readRange(path: string, offset: number, length: number, context?: ReadContext): Promise<ReadResult> {
  if (context) return readKept(path, offset, length, context);
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const want = Math.max(0, Math.min(length, size - offset));
    const data = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(data, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { data: data.subarray(0, got), totalBytes: size };
  } finally {
    await fh.close();
  }
}

/** A running {@link watchRunDir}. */
export interface RunDirWatch<T> {
  /** Settles with the first defined result of `check`, or rejects through `stop`. */
  promise: Promise<T>;
  /** Checks now and restarts the backoff at its minimum (e.g. right after a kill). */
  kick(): void;
  /** Ends the watch, rejecting `promise` with `err` if it has not settled. */
  stop(err: Error): void;
}

/**
 * Calls `check` until it returns a value: whenever `exit` appears in `runDir` (fs.watch, which
 * sees the wrapper's rename) and on a backup poll whose delay doubles from `minMs` to `maxMs`
 * (the poll also notices a process that died without writing a marker).
 */
export function watchRunDir<T>(runDir: string, check: () => T | undefined, minMs = 50, maxMs = 1_000): RunDirWatch<T> {
  let delay = minMs;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let finished = false;
  let resolveFn: (value: T) => void = () => {};
  let rejectFn: (err: Error) => void = () => {};
  const promise = new Promise<T>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  const end = (): void => {
    finished = true;
    clearTimeout(timer);
    watcher?.close();
  };
  const probe = (): void => {
    if (finished) return;
    const value = check();
    if (value === undefined) return;
    end();
    resolveFn(value);
  };
  const schedule = (): void => {
    clearTimeout(timer);
    if (finished) return;
    timer = setTimeout(() => {
      probe();
      delay = Math.min(delay * 2, maxMs);
      schedule();
    }, delay);
  };
  try {
    watcher = watch(runDir, (_event, name) => {
      if (name === EXIT_FILE) probe();
    });
    watcher.on('error', () => {});
  } catch {
    // The directory is gone or cannot be watched; the poll still decides.
  }
  probe();
  schedule();
  return {
    promise,
    kick: () => {
      delay = minMs;
      probe();
      schedule();
    },
    stop: (err) => {
      if (finished) return;
      end();
      rejectFn(err);
    },
  };
}

/**
 * Decides from its run directory and /proc how an attempt started elsewhere stands: its
 * `exit` marker if present; `lost`/`boot_id_changed` after a reboot; undefined while its
 * process is alive; else the marker written meanwhile, SIGKILL if we asked for a kill
 * (the wrapper was killed before it could write), or `lost` (`no_exit_marker`; without a
 * recorded pid `spawn_interrupted` when it cannot have run, else `spawn_unconfirmed`).
 */
export function inspectRunDir(handle: TransportHandle, runDir: string, bootId: string): ExitInfo | undefined {
  const fromFiles = readExitInfo(runDir);
  if (fromFiles) return fromFiles;
  if (handle.bootId !== undefined && handle.bootId !== bootId) return lostExit('boot_id_changed');
  const { taskId, attempt } = handle;
  const pid = handle.pid ?? readPidMarker(runDir)?.pid;
  const anyMarked = (): boolean => findAttemptProcesses({ taskId, attempt, verified: false, startedAt: handle.startedAt }).length > 0;
  // A non-detached attempt without its exit marker was not reaped (its executor died first): it
  // is running while any process carrying its markers is, leader or not, so that recovery kills
  // what it left behind instead of declaring it ended. (A detached attempt's wrapper reaps.)
  const alive = pid === undefined ? anyMarked() : isAttemptProcess(pid, taskId, attempt, handle.startedAt) || (handle.detached !== true && anyMarked());
  if (alive) return undefined;
  // It may have written its marker between our two looks.
  const late = readExitInfo(runDir);
  if (late) return late;
  if (killRequested(runDir)) return { state: 'exited', exitCode: null, signal: 'SIGKILL', endedAt: Date.now() };
  if (pid !== undefined) return lostExit('no_exit_marker');
  return lostExit(neverRan(handle, runDir) ? 'spawn_interrupted' : 'spawn_unconfirmed');
}

/**
 * Whether an attempt without a recorded pid certainly never ran its command. A detached
 * attempt's wrapper writes `pid` before it runs anything, so no pid means nothing ran. A
 * non-detached attempt's pid is recorded just after the spawn: the command may have run in
 * between. What exists before the spawn says so: `out` (created by Node before a direct
 * spawn()) or an empty `pid` file (created by the spawn helper before its fork, which creates
 * `out` only on the first byte). Without either nothing was spawned; with one, whether the
 * command ran is unknown (`spawn_unconfirmed`, never labelled as an attempt that did not run).
 */
function neverRan(handle: TransportHandle, runDir: string): boolean {
  return handle.detached === true || !(existsSync(join(runDir, OUT_FILE)) || existsSync(join(runDir, PID_FILE)));
}

/** Handle fields recovered by {@link probeRunDir}. */
export interface ProbedRunDir {
  runDir: string;
  pid?: number;
  pgid?: number;
  bootId: string;
  detached: boolean;
  startedAt: number;
}

/**
 * What a run directory tells about an attempt whose handle may never have been recorded:
 * undefined when the directory does not exist, else its pid/pgid (absent if the pid file was
 * never written, or — non-detached attempts — once the `exit` marker has taken its place: a
 * pid-less handle is `spawn_interrupted` only when there is no marker) and its `meta` (boot id, start time; falling back to `bootId` and the
 * directory's birth time for attempts that have no `meta`).
 */
export function probeRunDir(runDir: string, bootId: string): ProbedRunDir | undefined {
  // Recovery probes every unfinished task; most have no run directory, and an ENOENT
  // exception per probe would cost more than the stat itself.
  const st = statSync(runDir, { throwIfNoEntry: false });
  if (!st) return undefined;
  const birth = st.birthtimeMs || st.mtimeMs;
  const meta = readMetaMarker(runDir);
  const ids = readPidMarker(runDir);
  return {
    runDir,
    ...(ids ? { pid: ids.pid, pgid: ids.pgid } : {}),
    bootId: meta?.bootId ?? bootId,
    detached: meta?.detached ?? false,
    startedAt: meta?.startedAt ?? birth,
  };
}
