import { closeSync, openSync, readlinkSync, readSync, statSync } from 'node:fs';
import { readSmallFile } from './proc-read.js';

// Whether an attempt waits for input, told from /proc (Linux): every live process of the tree
// under its leader is either blocked reading input or waiting for a child, and at least one is
// reading. Input is any descriptor that refers to the attempt's stdin (its own fd 0, or the same
// pipe or FIFO as the stdin of the tree's root or of the input's holder: a program may read a
// duplicate of fd 0 after closing it) or to its terminal (a descriptor on /dev/tty, as getpass,
// ssh or sudo open for a password, or on the same terminal as its own fd 0 or fd 1). A process that
// runs, sleeps in a timer, waits on a lock, a socket or epoll says "no". Per process it reads
// /proc/<pid>/stat, /proc/<pid>/syscall and, for select/poll, the descriptor sets in
// /proc/<pid>/mem (both need ptrace access: the same user without a Yama restriction, or root);
// without that access, `wchan` (pipe_read, n_tty_read, wait_woken) stands in, less exactly.
// The tree is followed through /proc/<pid>/task/<pid>/children (the main thread's children):
// processes that left it (double fork, setsid) are not seen.

/** What one process is doing, as far as waiting for input goes. */
type Activity = 'reading' | 'waiting_child' | 'other';

// Syscall numbers per architecture: read/readv (fd in arg 1), select/pselect6 (nfds, readfds,
// writefds), poll/ppoll (fds, nfds), wait4/waitid.
interface SyscallTable {
  read: readonly number[];
  select: readonly number[];
  poll: readonly number[];
  wait: readonly number[];
}
const TABLES: Partial<Record<string, SyscallTable>> = {
  x64: { read: [0, 19], select: [23, 270], poll: [7, 271], wait: [61, 247] },
  arm64: { read: [63, 65], select: [72], poll: [73], wait: [260, 95] },
  riscv64: { read: [63, 65], select: [72], poll: [73], wait: [260, 95] },
};
const table = TABLES[process.arch];

const MAX_PROCESSES = 256;

function link(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

// Bytes of the process's memory at `address`, or undefined without access.
function readMem(pid: number, address: number, length: number): Buffer | undefined {
  if (!Number.isSafeInteger(address) || address <= 0 || length <= 0 || length > 4096) return undefined;
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(length);
    return readSync(fd, buf, 0, length, address) === length ? buf : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

// "dev:ino" of what descriptor `fd` of `pid` refers to, when that is a pipe or FIFO.
function pipeId(pid: number, fd: number): string | undefined {
  try {
    const st = statSync(`/proc/${pid}/fd/${fd}`, { bigint: true, throwIfNoEntry: false });
    return st?.isFIFO() === true ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

// A terminal's device path as /proc shows it: a pseudo-terminal or a console.
const TERMINAL = /^\/dev\/(pts\/\d+|tty\w*|console)$/;

// What one process reads from: its stdin, duplicates of the attempt's stdin pipe, its terminal.
class InputOf {
  private readonly own = new Map<number, string | undefined>();
  constructor(
    private readonly pid: number,
    private readonly inputPipes: ReadonlySet<string>,
  ) {}

  private linkOf(fd: number): string | undefined {
    if (!this.own.has(fd)) this.own.set(fd, link(this.pid, fd));
    return this.own.get(fd);
  }

  /** Whether descriptor `fd` of the process is input (see the header of this file). */
  has(fd: number): boolean {
    if (fd === 0) return true;
    const target = this.linkOf(fd);
    if (target === undefined) return false;
    // The controlling terminal opened by name, or a terminal it reads and writes as fd 0/1.
    if (target === '/dev/tty') return true;
    if (TERMINAL.test(target)) return target === this.linkOf(0) || target === this.linkOf(1);
    if (target === this.linkOf(0)) return true;
    if (this.inputPipes.size === 0 || !/^(pipe:|\/)/.test(target)) return false;
    const id = pipeId(this.pid, fd);
    return id !== undefined && this.inputPipes.has(id);
  }
}

function activityFromWchan(pid: number): Activity {
  const w = readSmallFile(`/proc/${pid}/wchan`)?.trim();
  if (w === 'pipe_read' || w === 'anon_pipe_read' || w === 'n_tty_read' || w === 'wait_woken') return 'reading';
  if (w === 'do_wait' || w === 'kernel_wait4' || w === 'do_wait.part.0') return 'waiting_child';
  return 'other';
}

// What a sleeping process is blocked in.
function activityOf(pid: number, t: SyscallTable, inputPipes: ReadonlySet<string>): Activity {
  const text = readSmallFile(`/proc/${pid}/syscall`);
  if (text === undefined) return activityFromWchan(pid);
  const f = text.trim().split(' ');
  const nr = Number(f[0]);
  if (!Number.isInteger(nr) || nr < 0) return 'other';
  const arg = (i: number): number => Number(f[i]);
  const input = new InputOf(pid, inputPipes);
  if (t.read.includes(nr)) return input.has(arg(1)) ? 'reading' : 'other';
  if (t.wait.includes(nr)) return 'waiting_child';
  if (t.select.includes(nr)) {
    const nfds = arg(1);
    const readfds = arg(2);
    // Waiting to write, or a select(…, NULL, …) used as a sleep, is not waiting for input.
    if (readfds === 0 || arg(3) !== 0 || nfds < 1 || nfds > 1024) return 'other';
    if (nfds === 1) return 'reading';
    const set = readMem(pid, readfds, Math.ceil(nfds / 64) * 8);
    if (set === undefined) return 'other';
    let any = false;
    for (let fd = 0; fd < nfds; fd++) {
      if ((set[fd >> 3]! & (1 << (fd & 7))) === 0) continue;
      if (!input.has(fd)) return 'other';
      any = true;
    }
    return any ? 'reading' : 'other';
  }
  if (t.poll.includes(nr)) {
    const nfds = arg(2);
    if (nfds < 1 || nfds > 64) return 'other';
    const fds = readMem(pid, arg(1), nfds * 8);
    if (fds === undefined) return 'other';
    let any = false;
    for (let i = 0; i < nfds; i++) {
      const fd = fds.readInt32LE(i * 8);
      if (fd < 0) continue;
      // POLLIN (1) or POLLPRI (2) only: a descriptor polled for writing is not input.
      const events = fds.readInt16LE(i * 8 + 4);
      if ((events & ~3) !== 0 || !input.has(fd)) return 'other';
      any = true;
    }
    return any ? 'reading' : 'other';
  }
  return 'other';
}

/** What to look at for {@link awaitsInput}. */
export interface InputWaitTarget {
  /** The attempt's leader (or the wrapper of a detached attempt): the tree's root. */
  root: number;
  /**
   * Processes left out with their descendants (the input's holder). Their stdin, like the
   * root's, is taken for the attempt's input pipe: a descriptor on the same pipe is input.
   */
  exclude?: readonly number[];
  /** Leave out processes named `script` (the terminal's copier of a `tty` attempt). */
  skipScript?: boolean;
}

/**
 * True when every live process of the tree is blocked reading its stdin or terminal, or
 * waiting for a child, and at least one is reading; false otherwise; undefined when it cannot
 * be told (not Linux, an architecture without a syscall table, no `children` files, no root).
 */
export function awaitsInput(target: InputWaitTarget): boolean | undefined {
  if (table === undefined) return undefined;
  const excluded = new Set(target.exclude ?? []);
  const queue = [target.root];
  const seen = new Set<number>();
  let readers = 0;
  const inputPipes = new Set<string>();
  for (const pid of [target.root, ...excluded]) {
    const id = pipeId(pid, 0);
    if (id !== undefined) inputPipes.add(id);
  }
  for (let i = 0; i < queue.length && seen.size < MAX_PROCESSES; i++) {
    const pid = queue[i]!;
    if (seen.has(pid) || excluded.has(pid)) continue;
    seen.add(pid);
    const stat = readSmallFile(`/proc/${pid}/stat`);
    if (stat === undefined) {
      if (pid === target.root) return undefined;
      continue;
    }
    const close = stat.lastIndexOf(')');
    const state = stat[close + 2];
    const children = readSmallFile(`/proc/${pid}/task/${pid}/children`);
    if (children === undefined && state !== 'Z') return undefined;
    for (const c of (children ?? '').split(' ')) if (c !== '') queue.push(Number(c));
    if (state === 'Z' || state === 'X') continue;
    if (target.skipScript === true && stat.slice(stat.indexOf('(') + 1, close) === 'script') continue;
    if (state !== 'S') return false;
    const activity = activityOf(pid, table, inputPipes);
    if (activity === 'other') return false;
    if (activity === 'reading') readers++;
  }
  return readers > 0;
}
