import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Stream } from 'node:stream';

// `maxOutputBytes` is enforced where the bytes are written, not by watching file sizes: a
// writer like `yes` puts hundreds of megabytes on disk between two size polls. Both places
// that write an attempt's `out`/`err` copy them through a counted pipe and stop at the limit:
//
// * attached local attempts: the child's stdout/stderr are pipes read by this module, which
//   appends to the files with synchronous writes and cuts at the limit; past HANDOFF_BYTES a
//   stream's copy goes to a `head -c` process, so bulk output does not cost Node CPU per byte;
// * detached and remote attempts: the wrapper's capped copiers (`head -c`, CAP_FUNCTIONS).
//
// In both, a stream that goes past the limit is cut at exactly `maxOutputBytes` bytes, the
// `limit` marker file of the run directory gets a line, and the pipe's read end is closed, so
// the writer's next write fails (SIGPIPE, or EPIPE if it ignores SIGPIPE). The executor, which
// sees the marker through `poll()`, then kills the tree with reason `output_limit`.

/** Marker file of a run directory: non-empty once a stream went past `maxOutputBytes`. */
export const LIMIT_FILE = 'limit';

/** True when the run directory's `limit` marker says a stream was cut. */
export function limitReachedIn(runDir: string): boolean {
  try {
    return statSync(join(runDir, LIMIT_FILE)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Bytes of a stream that Node copies itself before handing the rest of the copy to a `head`
 * process: most attempts write less and cost no extra process, while a bulk writer is copied
 * at the speed of `head` (pipe to file in C) instead of one JS callback per 64 KiB chunk.
 */
export const HANDOFF_BYTES = 4 * 1024 * 1024;

// The bulk copier: `$1` bytes (the room left) to stdout (the output file), then one more byte,
// if any, into the `limit` marker `$2`. Without a cap, `cat`.
// `stdbuf -o0` where there is one: see `_bgx_open` below.
const HANDOFF_CAPPED = 'umask 077; _bgx_sb=; command -v stdbuf >/dev/null 2>&1 && _bgx_sb="stdbuf -o0"; $_bgx_sb head -c "$1"; exec head -c 1 >>"$2"';
const HANDOFF_UNCAPPED = 'exec cat';

/** Output of a child being copied into its run directory. */
export interface CapturedOutput {
  /**
   * Resolves once every bulk copier has exited, at most `boundMs` from now: one still held open
   * past that (a writer that outlived its attempt) is killed, so its stream ends there.
   */
  finish(boundMs: number): Promise<void>;
}

/**
 * Copies a child's piped stdout/stderr into `outFd`/`errFd` (the run directory's `out`/`err`,
 * opened for appending; this takes them over and closes them), at most `limit` bytes per
 * stream. Call it right after `spawn(…, { stdio: ['ignore', 'pipe', 'pipe'] })`, before any
 * I/O callback can run. Once the child's `close` event has fired and {@link CapturedOutput.finish}
 * has resolved, the files hold every byte they ever will.
 */
export function captureOutput(child: ChildProcess, runDir: string, outFd: number, errFd: number, limit: number): CapturedOutput {
  const copiers: ChildProcess[] = [];
  let cut = false;
  // The `limit` marker is what poll() reports, for this process and any other.
  const onLimit = (): void => {
    if (cut) return;
    cut = true;
    try {
      writeFileSync(join(runDir, LIMIT_FILE), 'limit\n', { mode: 0o600, flag: 'a' });
    } catch {
      // The run directory is gone or the disk full: the stream is cut all the same, and an
      // exit that the writer's SIGPIPE causes is then an ordinary failure.
    }
  };
  const handOff = (stream: Readable, fd: number, room: number): boolean => {
    const script = Number.isFinite(room) ? HANDOFF_CAPPED : HANDOFF_UNCAPPED;
    let copier: ChildProcess;
    try {
      copier = spawn('/bin/sh', ['-c', script, 'bgexec-copy', String(room), join(runDir, LIMIT_FILE)], {
        // The copier reads the child's pipe and writes the file through its own copies of both.
        stdio: [stream as unknown as Stream, fd, 'ignore'],
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      });
    } catch {
      return false;
    }
    if (copier.pid === undefined) {
      copier.on('error', () => {});
      return false;
    }
    copier.on('error', () => {});
    copiers.push(copier);
    return true;
  };
  copy(child.stdout, outFd, limit, onLimit, handOff);
  copy(child.stderr, errFd, limit, onLimit, handOff);
  return { finish: (boundMs) => finishCopiers(copiers, boundMs) };
}

function finishCopiers(copiers: readonly ChildProcess[], boundMs: number): Promise<void> {
  const live = copiers.filter((c) => c.exitCode === null && c.signalCode === null);
  if (live.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = live.length;
    const timer = setTimeout(() => {
      for (const c of live) c.kill('SIGKILL');
    }, boundMs);
    for (const c of live) {
      c.once('close', () => {
        if (--left > 0) return;
        clearTimeout(timer);
        resolve();
      });
    }
  });
}

type HandOff = (stream: Readable, fd: number, room: number) => boolean;

function copy(stream: Readable | null, fileFd: number, limit: number, onLimit: () => void, handOff: HandOff): void {
  let fd: number | undefined = fileFd;
  const release = (): void => {
    if (fd === undefined) return;
    closeSync(fd);
    fd = undefined;
  };
  if (stream === null) {
    release();
    return;
  }
  let written = 0;
  let handOffTried = false;
  // Appends what fits under the limit; false once the stream is done with (cut or failed).
  const write = (chunk: Buffer): boolean => {
    if (fd === undefined) return false;
    const room = limit - written;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    try {
      // A regular file takes the whole chunk in one write; the loop covers a short write.
      for (let off = 0, n = 1; off < part.length && n > 0; off += n) n = writeSync(fd, part, off, part.length - off);
      written += part.length;
    } catch {
      // Disk full or the file removed: what follows is dropped, as a writer of the file
      // itself would have lost it; the attempt goes on.
      release();
      return false;
    }
    if (part.length < chunk.length) {
      onLimit();
      release();
      // Closing the read end makes the writer's next write fail instead of blocking it.
      stream.destroy();
      return false;
    }
    return true;
  };
  stream.on('data', (chunk: Buffer) => {
    if (!write(chunk) || handOffTried || written < HANDOFF_BYTES) return;
    handOffTried = true;
    stream.pause();
    // What Node has already read goes first, in order: read() hands it to this same 'data'
    // listener (which only writes now). Then the copier takes the pipe.
    for (let i = 0; i < 1024 && fd !== undefined && stream.read() !== null; i++);
    if (fd === undefined) return;
    if (handOff(stream, fd, limit - written)) {
      release();
      stream.destroy();
    } else {
      stream.resume();
    }
  });
  stream.once('close', release);
  stream.on('error', release);
}

/**
 * Environment variable through which the detached wrapper gets `maxOutputBytes` (digits; empty
 * or absent: no cap). The wrapper removes it from the command's environment.
 */
export const MAX_OUTPUT_ENV = 'BGEXEC_MAX_OUTPUT';

/**
 * Shell functions of the detached wrapper (see wrapper.ts) that cap its output. They use
 * `$_bgx_d` (run directory), `$_bgx_lim` (the cap, digits or empty) and set `$_bgx_cp` (the
 * copiers' pids).
 *
 * - `_bgx_open` opens fd 3 and fd 4 for the command's stdout and stderr. With a cap, each is
 *   the write end of a FIFO whose reader, `_bgx_cap`, copies at most `$_bgx_lim` bytes into
 *   `out`/`err` with `head -c` and then reads one more byte into `limit`: a non-empty `limit`
 *   means the stream had more, and once that copier has exited the writer's next write fails
 *   (SIGPIPE/EPIPE). The FIFOs are removed as soon as both ends are open (the open of a write
 *   end waits for its reader; the err copier removes both), so nothing that scans the run
 *   directory can block on one. The command's own exit status is untouched: the copiers run
 *   beside it, not in a pipeline (dash has no `pipefail`). Without a cap, or where `mkfifo`
 *   fails, fd 3 and 4 are the files themselves (then only the executor's size polls enforce it).
 * - Copiers ignore TERM, INT and HUP so that a kill of the attempt's group does not lose the
 *   bytes still in the pipes: they end when the last writer has closed its end.
 * - `_bgx_drain` waits for the copiers, so that the `exit` marker is written only once every
 *   byte is in the files. A signal the wrapper traps (a kill) ends that wait early; the
 *   copiers are then killed.
 *
 * GNU `head -c N` reads no more than N bytes from a pipe; a `head` that reads ahead (BSD
 * stdio) may consume bytes past N: the cut stays exact, but an excess can go unnoticed if the
 * command then ends by itself.
 */
// Seconds the wrapper's copiers may go on after the reap (the attached path's drain is 1 s too).
const DRAIN_S = 1;

export const CAP_FUNCTIONS: readonly string[] = [
  '_bgx_cap() {',
  "  trap '' TERM INT HUP",
  // Its `head`s carry no task markers, so the wrapper's reap and the executor's sweeps never
  // take them for leftovers; the reap skips the copier itself by pid ($_bgx_cp).
  '  unset BGEXEC_TASK_ID BGEXEC_ATTEMPT',
  '  umask 077',
  // The err copier's FIFO is opened (for writing) last: once this open has returned, both FIFOs
  // are open at both ends and can go, off the start's critical path.
  '  [ -z "$2" ] || rm -f "$_bgx_d/out.p" "$_bgx_d/err.p"',
  '  $_bgx_sb head -c "$_bgx_lim" >>"$_bgx_d/$1"',
  '  exec head -c 1 >>"$_bgx_d/limit"',
  '}',
  '_bgx_open() {',
  "  case $_bgx_lim in ''|*[!0-9]*) _bgx_lim= ;; esac",
  // `head` buffers what it writes to a file (output would show up in 4 KiB blocks, or only at
  // the end); `stdbuf -o0` (GNU coreutils) makes it write every chunk as it reads it.
  '  _bgx_sb=; [ -z "$_bgx_lim" ] || ! command -v stdbuf >/dev/null 2>&1 || _bgx_sb="stdbuf -o0"',
  '  if [ -n "$_bgx_lim" ] && mkfifo -m 600 "$_bgx_d/out.p" "$_bgx_d/err.p" 2>/dev/null; then',
  '    _bgx_cap out <"$_bgx_d/out.p" >/dev/null 2>&1 &',
  '    _bgx_cp=$!',
  '    _bgx_cap err rm <"$_bgx_d/err.p" >/dev/null 2>&1 &',
  '    _bgx_cp="$_bgx_cp $!"',
  '    exec 3>"$_bgx_d/out.p" 4>"$_bgx_d/err.p"',
  '  else',
  '    [ -z "$_bgx_lim" ] || rm -f "$_bgx_d/out.p" "$_bgx_d/err.p" 2>/dev/null',
  '    exec 3>>"$_bgx_d/out" 4>>"$_bgx_d/err"',
  '  fi',
  '}',
  '_bgx_drain() {',
  '  [ -n "$_bgx_cp" ] || return 0',
  // A process that outlives the reap (kept with `orphans: 'keep'`, or one that left the tree
  // and cleared its environment) may hold the pipes open for ever: the copiers get DRAIN_S
  // more, then are killed, so such a process never holds back the exit marker. The timer's
  // own `sleep` is ended with it, so no process is left behind by the drain itself.
  `  ( trap 'kill $_bgx_s 2>/dev/null; exit 0' TERM; sleep ${DRAIN_S} & _bgx_s=$!; wait $_bgx_s; kill -KILL $_bgx_cp ) 2>/dev/null &`,
  '  _bgx_t=$!',
  '  wait $_bgx_cp; _bgx_w=$?',
  '  kill $_bgx_t 2>/dev/null; wait $_bgx_t 2>/dev/null',
  // Their `head`s end by themselves once the writers, being killed, are gone.
  '  [ $_bgx_w -le 128 ] || { kill -KILL $_bgx_cp 2>/dev/null; wait $_bgx_cp 2>/dev/null; }',
  '  return 0',
  '}',
];
