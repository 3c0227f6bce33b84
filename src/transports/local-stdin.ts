import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, open, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { IN_FILE, IN_HOLDER_FILE } from './job-protocol/markers.js';
import { shQuote, shQuoteAll } from './job-protocol/quote.js';
import { attemptMarkers, environHasAll, readProcStat } from './process-tree.js';
import type { LaunchRequest } from './types.js';

// The input side of local attempts, after the run-directory protocol of markers.ts: `in` is a
// FIFO (stdin 'pipe') or a regular file (input given up front); `in.pid` names the process that
// holds the FIFO open for writing while the attempt runs, so that the task sees end-of-file
// only when that holder ends (closeStdin, or the attempt's end), never between two writes.
// The same protocol serves attached attempts (spawn helper, direct spawn) and detached ones
// (the wrapper), so the writer and closer here work for both.

/** What a write to an attempt's input FIFO came to. */
export type FifoWrite =
  /** Every byte is in the pipe (the task may not have read them yet). */
  | 'ok'
  /** The FIFO has no reader: neither the task nor a holder has it open. */
  | 'no_reader'
  /** There is no FIFO: the run directory is gone, or the input is not a pipe. */
  | 'missing'
  /** Every reader went away while bytes were still waiting (EPIPE). */
  | 'broken';

/**
 * Writes `data` to the FIFO at `path`: opened write-only and non-blocking (so a FIFO without
 * reader answers ENXIO at once instead of blocking a thread), written through a libuv pipe
 * handle that waits on the event loop while the pipe is full (the backpressure of a task that
 * reads slowly), then closed. Never blocks the event loop or a thread-pool thread.
 */
export function writeFifo(path: string, data: Uint8Array): Promise<FifoWrite> {
  return new Promise((resolve, reject) => {
    open(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK, (err, fd) => {
      if (err) {
        const code = err.code;
        if (code === 'ENXIO') resolve('no_reader');
        else if (code === 'ENOENT' || code === 'ENOTDIR') resolve('missing');
        else reject(err);
        return;
      }
      let sock: Socket;
      try {
        // A regular file (input given up front) is refused here: only a FIFO is a pipe handle.
        sock = new Socket({ fd, readable: false, writable: true });
      } catch {
        closeSync(fd);
        resolve('missing');
        return;
      }
      let settled = false;
      const finish = (result: FifoWrite | Error): void => {
        if (settled) return;
        settled = true;
        sock.destroy();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'EPIPE' ? 'broken' : e));
      sock.write(data, (e) => {
        if (!e) finish('ok');
      });
    });
  });
}

/** The process holding an attempt's input FIFO open, as first verified. */
export interface InputHolder {
  pid: number;
  /** Its start time in clock ticks: a later process with the same pid is not it. */
  startTicks: number;
}

const HOLDER_RE = /^([1-9][0-9]{0,9})\n$/;

/**
 * The holder named by the run directory's `in.pid`, when that process runs and its environment
 * carries the attempt's markers (so a reused pid is never taken for it). `gone` when the process
 * it names has ended; `unknown` when there is no complete `in.pid` (no input pipe, or not written
 * yet) or its process does not carry the markers (yet: a holder caught between its fork and its
 * exec has no environment; or never: not a holder of this attempt).
 */
export function findInputHolder(runDir: string, taskId: string, attempt: number): InputHolder | 'gone' | 'unknown' {
  let text: string;
  try {
    text = readFileSync(join(runDir, IN_HOLDER_FILE), 'latin1');
  } catch {
    return 'unknown';
  }
  const m = HOLDER_RE.exec(text);
  if (!m) return 'unknown';
  const pid = Number(m[1]);
  const st = readProcStat(pid);
  if (!st || st.state === 'Z') return 'gone';
  if (!environHasAll(pid, attemptMarkers(taskId, attempt))) return 'unknown';
  return { pid, startTicks: st.startTicks };
}

/**
 * Whether the holder named by `in.pid` may still become verifiable: `in.pid` is not complete
 * yet, or the process it names is between its fork and its exec (same program and same
 * environment as its parent: the spawn helper forks the holder, then writes `in.pid`, then the
 * holder execs). A process that has exec'd without the markers never becomes the holder.
 */
export function holderStarting(runDir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(runDir, IN_HOLDER_FILE), 'latin1');
  } catch {
    return true;
  }
  const m = HOLDER_RE.exec(text);
  if (!m) return true;
  const pid = Number(m[1]);
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.ppid <= 1) return false;
  try {
    return readlinkSync(`/proc/${pid}/exe`) === readlinkSync(`/proc/${st.ppid}/exe`)
      && readFileSync(`/proc/${pid}/environ`).equals(readFileSync(`/proc/${st.ppid}/environ`));
  } catch {
    return false;
  }
}

/** True while `holder` runs (a zombie or a new process with its pid does not count). */
export function holderAlive(holder: InputHolder): boolean {
  const st = readProcStat(holder.pid);
  return st !== undefined && st.state !== 'Z' && st.startTicks === holder.startTicks;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Ends `holder` (SIGTERM, SIGKILL after `graceMs`) and resolves once it is gone, so that the
 * task reads end-of-file after what was written and a later write finds the input closed.
 */
export async function endInputHolder(holder: InputHolder, graceMs = 2_000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(holder.pid, sig);
    } catch {
      // ESRCH: it is gone already.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  for (let step = 2; holderAlive(holder); step = Math.min(step * 2, 50)) {
    if (Date.now() >= deadline) {
      signal('SIGKILL');
      // SIGKILL cannot be caught: a bounded last wait for the kernel to take it down.
      for (let i = 0; i < 40 && holderAlive(holder); i++) await sleep(25);
      return;
    }
    await sleep(step);
  }
}

/**
 * The handle fields that say an attempt has an input pipe or a terminal, so that `poll()` looks
 * for a task waiting for input only on those attempts (and costs nothing on the others).
 */
export function inputHandleFields(req: Pick<LaunchRequest, 'stdin' | 'tty'>): { stdin?: 'pipe'; tty?: true } {
  const fields: { stdin?: 'pipe'; tty?: true } = {};
  if (req.stdin === 'pipe') fields.stdin = 'pipe';
  if (req.tty !== undefined) fields.tty = true;
  return fields;
}

/** How to run a request on a pseudo-terminal through util-linux `script`. */
export interface TtyLaunch {
  /** `script` and its arguments. */
  argv: string[];
  /** Variables set for `script` over the task's environment. */
  env: Record<string, string>;
}

/**
 * The `script -q -f -e -c <line> /dev/null` launch of a request with `tty`: `script` opens a
 * pseudo-terminal, runs `<line>` on it with `$SHELL -c` (so SHELL is `/bin/sh` for `script`, and
 * the line puts the task's own SHELL back), copies its input to the terminal and the
 * terminal's output (stdout and stderr merged, CR LF line ends) to its stdout, and with `-e`
 * exits with the command's status (a command killed by signal n: exit code 128+n). The line
 * sets the terminal's size with `stty`, then execs the command (`/bin/sh -c` for a command
 * line, the program itself for `args`). `TERM` defaults to `xterm-256color` when unset.
 * When `script`'s own input ends (input closed, `/dev/null`, the end of input given up front),
 * it sends the terminal's end-of-file character and goes on until the command exits.
 */
export function ttyLaunch(req: LaunchRequest, scriptPath: string, env: Readonly<Record<string, string | undefined>>): TtyLaunch {
  const { cols, rows } = req.tty!;
  const run = req.args ? `exec ${shQuoteAll([req.command, ...req.args], 'args')}` : `exec /bin/sh -c ${shQuote(req.command, 'command')}`;
  const shell = env['SHELL'];
  const restore = shell === undefined ? 'unset SHELL' : `SHELL=${shQuote(shell)}; export SHELL`;
  const line = `stty cols ${Math.trunc(cols)} rows ${Math.trunc(rows)} 2>/dev/null; ${restore}; ${run}`;
  const extra: Record<string, string> = { SHELL: '/bin/sh' };
  if (env['TERM'] === undefined) extra['TERM'] = 'xterm-256color';
  return { argv: [scriptPath, '-q', '-f', '-e', '-c', line, '/dev/null'], env: extra };
}

// The holder of a directly spawned attempt (hosts without the spawn helper, which forks its own
// holders): creates the FIFO, holds it open read-write on fd 9 (a writer, so the task never
// reads end-of-file early, and a reader, so opening the task's end never blocks), says `ready`,
// reads the leader's pid and ends when the leader does: if the Node process dies, the input
// still ends with the task. Its `sleep` does not inherit the FIFO.
const DIRECT_HOLDER_SH = [
  'mkfifo -m 600 "$0" || exit 1',
  'exec 9<>"$0" || exit 1',
  'echo ready',
  'exec >/dev/null',
  'IFS= read -r leader || exit 0',
  'exec </dev/null',
  'while kill -0 "$leader" 2>/dev/null; do sleep 1 9<&-; done',
].join('\n');

/** A holder started for a directly spawned attempt. */
export interface DirectHolder {
  child: ChildProcess;
  pid: number;
  /** Tells the holder the leader's pid (it ends with it) and writes `in.pid`. */
  attach(leaderPid: number): void;
  /** Ends the holder (the attempt's leader has exited, or its start failed). */
  end(): void;
}

const HOLDER_READY_MS = 10_000;

/**
 * Starts the holder of a directly spawned attempt with `stdin: 'pipe'` and resolves once the
 * FIFO `in` exists and is held; rejects when it could not be (no `mkfifo`, disk full, …).
 */
export function startDirectHolder(runDir: string, env: NodeJS.ProcessEnv): Promise<DirectHolder> {
  const fifo = join(runDir, IN_FILE);
  const holderEnv: NodeJS.ProcessEnv = {
    PATH: env['PATH'] ?? '/usr/bin:/bin',
    BGEXEC_TASK_ID: env['BGEXEC_TASK_ID'],
    BGEXEC_ATTEMPT: env['BGEXEC_ATTEMPT'],
  };
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', DIRECT_HOLDER_SH, fifo], { env: holderEnv, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    } catch (err) {
      reject(err as Error);
      return;
    }
    let out = '';
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`input holder: ${why}`));
    };
    const timer = setTimeout(() => fail('not ready in time'), HOLDER_READY_MS);
    child.on('error', (e) => fail(e.message));
    child.once('exit', () => fail('exited before it was ready'));
    child.stdin!.on('error', () => {});
    child.stdout!.setEncoding('latin1');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (done || !out.includes('\n')) return;
      if (out !== 'ready\n') return fail(`unexpected ${JSON.stringify(out)}`);
      done = true;
      clearTimeout(timer);
      child.stdout!.destroy();
      child.unref();
      const pid = child.pid!;
      resolve({
        child,
        pid,
        attach: (leaderPid) => {
          writeFileSync(join(runDir, IN_HOLDER_FILE), `${pid}\n`, { mode: 0o600 });
          (child.stdin as Socket).end(`${leaderPid}\n`);
          (child.stdin as Socket).unref?.();
        },
        end: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        },
      });
    });
  });
}
