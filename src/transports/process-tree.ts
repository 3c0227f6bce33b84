import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

// Linux process discovery for liveness checks and kill sweeps, read straight from /proc
// (no `ps`). Zombies count as dead everywhere: on this kind of machine PID 1 may never reap
// orphans, so a zombie can linger indefinitely.

let bootIdCache: string | undefined;

/** This boot's id (`/proc/sys/kernel/random/boot_id`), read once; `unknown` if unreadable. */
export function readBootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || 'unknown';
    } catch {
      bootIdCache = 'unknown';
    }
  }
  return bootIdCache;
}

/** The fields of `/proc/<pid>/stat` used here. */
export interface ProcStat {
  /** One-letter state: `R`, `S`, `D`, `Z` (zombie), `T`, … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Start time in clock ticks after boot. */
  startTicks: number;
}

/** Reads `/proc/<pid>/stat`, or undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  const state = f[0];
  if (state === undefined || f.length < 20) return undefined;
  return { state, ppid: Number(f[1]), pgrp: Number(f[2]), startTicks: Number(f[19]) };
}

/** True when `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z';
}

/** The environment entries that mark every process of one attempt. */
export function attemptMarkers(taskId: string, attempt: number): string[] {
  return [`BGEXEC_TASK_ID=${taskId}`, `BGEXEC_ATTEMPT=${attempt}`];
}

function hasEntry(environ: Buffer, entry: string): boolean {
  if (environ.length === 0) return false;
  const bare = Buffer.from(`${entry}\0`);
  if (environ.subarray(0, bare.length).equals(bare)) return true;
  return environ.includes(Buffer.from(`\0${entry}\0`));
}

/** True when the environment of `pid` carries every one of `entries` (`NAME=value`). */
export function environHasAll(pid: number, entries: readonly string[]): boolean {
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  return entries.every((e) => hasEntry(environ, e));
}

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ, fixed by the ABI on mainstream architectures.

/** Wall-clock ms of this boot, from /proc/uptime (±10 ms), or undefined. */
function bootTimeMs(): number | undefined {
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return Number.isFinite(uptime) ? Date.now() - uptime * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Wall-clock ms at which `pid` started, from /proc (±10 ms), or undefined. */
export function processStartMs(pid: number): number | undefined {
  const st = readProcStat(pid);
  const bootMs = bootTimeMs();
  if (!st || bootMs === undefined) return undefined;
  return bootMs + (st.startTicks * 1000) / CLOCK_TICKS_PER_SEC;
}

/**
 * Whether `pid` is still the live process of this attempt: it exists, is not a zombie, and
 * either its environment carries the attempt's markers or — for a program that cleared or
 * overwrote its environment (`env -i`, setproctitle) — it started within a few seconds of
 * `startedAt`, which a recycled pid cannot do on any realistic pid-reuse schedule.
 */
export function isAttemptProcess(pid: number, taskId: string, attempt: number, startedAt?: number): boolean {
  if (!isRunning(pid)) return false;
  if (environHasAll(pid, attemptMarkers(taskId, attempt))) return true;
  if (startedAt === undefined) return false;
  const t = processStartMs(pid);
  return t !== undefined && t >= startedAt - 1_000 && t <= startedAt + 5_000;
}

/** Where to look for an attempt's processes. */
export interface AttemptTarget {
  taskId: string;
  attempt: number;
  /** Leader pid; its descendants (by parent links) belong to the attempt when `verified`. */
  pid?: number;
  /** Process group; its members belong to the attempt when `verified`. */
  pgid?: number;
  /** True when pid/pgid are known to be this attempt's (not recycled numbers). */
  verified: boolean;
  /**
   * When the attempt started (epoch ms). Processes that started well before it cannot belong
   * to it, so their environment is not read: that keeps a scan cheap on a busy machine.
   */
  startedAt?: number;
}

/**
 * Live (non-zombie) processes of an attempt: those whose environment carries its markers and,
 * when the target is verified, every member of its process group and every descendant of its
 * leader. Never includes the current process. One pass over /proc.
 */
export function findAttemptProcesses(target: AttemptTarget): number[] {
  const markers = attemptMarkers(target.taskId, target.attempt);
  const pgid = target.verified ? target.pgid : undefined;
  const root = target.verified ? target.pid : undefined;
  const found = new Set<number>();
  const parents = new Map<number, number>();
  const bootMs = target.startedAt === undefined ? undefined : bootTimeMs();
  // 2 s of slack for clock steps and the coarse boot time.
  const notBefore = bootMs === undefined ? 0 : ((target.startedAt! - 2_000 - bootMs) * CLOCK_TICKS_PER_SEC) / 1000;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const st = readProcStat(pid);
    if (!st || st.state === 'Z') continue;
    parents.set(pid, st.ppid);
    if ((pgid !== undefined && st.pgrp === pgid) || pid === root) found.add(pid);
    else if (st.startTicks >= notBefore && environHasAll(pid, markers)) found.add(pid);
  }
  if (root !== undefined) {
    for (const pid of parents.keys()) {
      // Walk up the parent chain (bounded, in case of a cycle from racing reads).
      let p = parents.get(pid);
      for (let hops = 0; p !== undefined && p > 1 && hops < 64; hops++) {
        if (p === root) {
          found.add(pid);
          break;
        }
        p = parents.get(p);
      }
    }
  }
  return [...found];
}

/** Whether any process of the attempt is still alive (see {@link findAttemptProcesses}). */
export function attemptTreeAlive(target: AttemptTarget): boolean {
  return findAttemptProcesses(target).length > 0;
}

/**
 * Signals an attempt's whole tree. The tree is found first (one /proc pass, while parent links
 * are intact), then the process group gets the signal in ONE `kill(-pgid)`: every member is hit
 * at once, so no shell can see its child die and run on (say, to `exit 0`) before its own signal
 * lands — which tree-kill's child-first order allows on a busy machine. Then the processes that
 * left the group (found by marker or parentage, e.g. after `setsid`). Pid and group are only
 * used when `verified`.
 *
 * With `treeKill`, tree-kill also runs on the leader (not awaited), as a backstop for the
 * escalation round only: it spawns `ps` once per tree level, and each spawn blocks the event
 * loop (measured here under CPU load: ~45% of the main thread's time in a kill-heavy run),
 * while the /proc pass above already follows the same parent links.
 */
export function signalAttemptTree(target: AttemptTarget, signal: NodeJS.Signals, options: { treeKill?: boolean; spare?: number } = {}): void {
  const found = findAttemptProcesses(target);
  // `spare` (with no group to signal): a process left out of this round, e.g. the `script` of a
  // terminal, which passes on its program's end but would answer a TERM of its own slowly.
  const pids = options.spare === undefined ? found : found.filter((p) => p !== options.spare);
  if (target.verified && target.pgid !== undefined) signalGroup(target.pgid, signal);
  signalPids(pids, signal);
  if (options.treeKill === true && target.verified && target.pid !== undefined) void treeKillQuiet(target.pid, signal);
}

/** Sends `signal` to each pid, ignoring processes that are already gone. */
export function signalPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    if (pid === process.pid || pid <= 1) continue;
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: it ended meanwhile; EPERM: not ours to kill.
    }
  }
}

/** Sends `signal` to process group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

type TreeKill = typeof import('tree-kill');
let treeKillModule: TreeKill | null | undefined;

// tree-kill is CommonJS and runs `require('child_process')` as it loads, which an ESM bundle of an
// app (esbuild --format=esm) turns into a "Dynamic require" crash at import time. So it is loaded
// only when the escalation backstop first runs, through a `require` made at call time: bundlers
// leave that call alone and Node resolves tree-kill from node_modules. null when it cannot be
// loaded (say, a bundle deployed without node_modules): the /proc sweep covers that case.
function loadTreeKill(): TreeKill | null {
  if (treeKillModule === undefined) {
    try {
      treeKillModule = createRequire(import.meta.url)('tree-kill') as TreeKill;
    } catch {
      treeKillModule = null;
    }
  }
  return treeKillModule;
}

let psAvailable: boolean | undefined;

// tree-kill spawns `ps` without an 'error' listener, so a missing `ps` would crash the process.
function hasPs(): boolean {
  if (psAvailable === undefined) {
    psAvailable = (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
      if (!dir) return false;
      try {
        accessSync(join(dir, 'ps'), fsConstants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  }
  return psAvailable;
}

/**
 * Signals `pid` and its descendants found through parent links (tree-kill, which runs `ps`).
 * Never rejects; gives up after `timeoutMs` so a hung `ps` cannot stall a kill. Does nothing
 * where `ps` is not installed or tree-kill cannot be loaded (the /proc sweep covers that case).
 */
export function treeKillQuiet(pid: number, signal: NodeJS.Signals, timeoutMs = 2_000): Promise<void> {
  const treeKill = hasPs() ? loadTreeKill() : null;
  if (treeKill === null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      treeKill(pid, signal, () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}
