import { readdirSync, readFileSync } from 'node:fs';
import { signalPids } from './process-tree.js';
import { readSmallFile } from './proc-read.js';

// What is left of an attempt once its leader has exited: processes still in its process group
// (`cmd &` in the command's shell) and processes anywhere carrying its environment markers
// (`setsid cmd &`, job-control groups). They are given `lingerMs` to end by themselves, then
// TERM, then KILL after `graceMs`, before the attempt counts as ended: once it has, no process
// that inherited its output files can write to them any more (a process that both left the
// group and cleared its environment is the documented exception).
//
// Every attempt end asks for one scan of /proc. Scans asked for in the same turn of the event
// loop are served by ONE pass (scan cost is per process on the machine, not per attempt), and
// each /proc/<pid>/stat is read through a reused buffer (about half the cost of readFileSync).

/** What to do with the processes an attempt's leader leaves behind. */
export interface LeftoverPolicy {
  /** `keep`: leave them running (a task that starts a daemon on purpose). */
  orphans: 'kill' | 'keep';
  /** How long they may run on after the leader exited before they get SIGTERM. */
  lingerMs: number;
  /** Between SIGTERM and SIGKILL. */
  graceMs: number;
}

/** Defaults of a launch request without a policy: kill at once, 5 s from TERM to KILL. */
export const DEFAULT_LEFTOVER_POLICY: LeftoverPolicy = { orphans: 'kill', lingerMs: 0, graceMs: 5000 };

// Bound on the wait of one phase, whatever a (tampered) stored spec says: 24 h.
const MAX_PHASE_MS = 86_400_000;

/** A policy from untrusted launch-request fields; anything malformed falls back to the default. */
export function leftoverPolicy(req: { orphans?: unknown; lingerMs?: unknown; graceMs?: unknown }): LeftoverPolicy {
  const ms = (v: unknown, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(Math.floor(v), MAX_PHASE_MS) : dflt);
  return {
    orphans: req.orphans === 'keep' ? 'keep' : 'kill',
    lingerMs: ms(req.lingerMs, DEFAULT_LEFTOVER_POLICY.lingerMs),
    graceMs: ms(req.graceMs, DEFAULT_LEFTOVER_POLICY.graceMs),
  };
}

/** The attempt whose leftovers are looked for. Its leader is dead: its pid is not used (it may be reused). */
export interface LeftoverTarget {
  taskId: string;
  attempt: number;
  /** The leader's process group; members are the attempt's. */
  pgid: number;
  /** Epoch ms of the attempt's start: older processes are not read for markers. */
  startedAt: number;
  /**
   * Set by a scan that found no member of `pgid`: from then on only markers count, because an
   * empty group's number can be another process's again (a new task's leader, say).
   */
  groupEmpty?: boolean;
}

interface Pending {
  target: LeftoverTarget;
  resolve: (pids: number[]) => void;
}

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ
let queue: Pending[] = [];
let scheduled = false;

/** Live processes left of `target` (group members and marker carriers), from the next batched /proc pass. */
export function findLeftovers(target: LeftoverTarget): Promise<number[]> {
  return new Promise((resolve) => {
    queue.push({ target, resolve });
    if (scheduled) return;
    scheduled = true;
    setImmediate(runBatch);
  });
}

function runBatch(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  let found: Map<Pending, number[]>;
  try {
    found = scan(batch);
  } catch {
    found = new Map();
  }
  for (const p of batch) p.resolve(found.get(p) ?? []);
}

function bootMs(): number | undefined {
  try {
    const up = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return Number.isFinite(up) ? Date.now() - up * 1000 : undefined;
  } catch {
    return undefined;
  }
}

// state, pgrp and start time of /proc/<pid>/stat.
function statOf(pid: string): { zombie: boolean; pgrp: number; startTicks: number } | undefined {
  const text = readSmallFile(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  if (f.length < 20) return undefined;
  return { zombie: f[0] === 'Z', pgrp: Number(f[2]), startTicks: Number(f[19]) };
}

const ID_KEY = Buffer.from('BGEXEC_TASK_ID=');
const ATTEMPT_KEY = Buffer.from('BGEXEC_ATTEMPT=');

// Value of `NAME=` in a NUL-separated environment block, or undefined.
function envValue(env: Buffer, key: Buffer): string | undefined {
  for (let at = env.indexOf(key); at >= 0; at = env.indexOf(key, at + 1)) {
    if (at !== 0 && env[at - 1] !== 0) continue;
    const end = env.indexOf(0, at);
    return env.toString('latin1', at + key.length, end < 0 ? env.length : end);
  }
  return undefined;
}

// Start times of the processes the last scan saw, so that the next one reads /proc/<pid>/stat
// only for pids that may belong to another process since: a pid can only be given to a new
// process when the kernel's allocation cursor passes it, and the cursor moves forward (mod
// pid_max) from `ns_last_pid`. So a pid outside (last pid at that scan, last pid now] is still
// the process seen then — provided the cursor has not gone all the way round, which the
// kernel's fork counter (`processes` in /proc/stat, all namespaces) rules out. Processes that
// started before the attempts being looked at are the only ones skipped this way.
interface Census {
  startTicks: Map<number, number>;
  lastPid: number;
  forks: number;
}
let census: Census | undefined;
let pidMax: number | undefined;
let sameNamespace: boolean | undefined;

function readPidCursor(): { lastPid: number; forks: number } | undefined {
  if (sameNamespace === undefined) {
    // ns_last_pid is our namespace's; /proc must show that same namespace.
    sameNamespace = readSmallFile('/proc/self/stat')?.startsWith(`${process.pid} `) === true;
    pidMax = Number(readSmallFile('/proc/sys/kernel/pid_max'));
  }
  if (!sameNamespace || !Number.isSafeInteger(pidMax) || pidMax! < 1000) return undefined;
  const stat = readFileSafe('/proc/stat');
  const at = stat?.indexOf('\nprocesses ') ?? -1;
  const forks = at < 0 ? NaN : Number(stat!.slice(at + 11, stat!.indexOf('\n', at + 11)));
  const lastPid = Number(readSmallFile('/proc/sys/kernel/ns_last_pid'));
  return Number.isSafeInteger(forks) && Number.isSafeInteger(lastPid) ? { lastPid, forks } : undefined;
}

function readFileSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

// Whether `pid` may have been allocated to a new process since `prev` (cursor at prev.lastPid).
function maybeReused(pid: number, prev: Census, now: { lastPid: number }): boolean {
  const from = prev.lastPid;
  const to = now.lastPid;
  return from <= to ? pid > from && pid <= to : pid > from || pid <= to;
}

function scan(batch: readonly Pending[]): Map<Pending, number[]> {
  const result = new Map<Pending, number[]>();
  if (batch.length === 0) return result;
  const byGroup = new Map<number, Pending[]>();
  const byMarker = new Map<string, Pending[]>();
  let earliest = Infinity;
  for (const p of batch) {
    const { pgid, taskId, attempt, startedAt } = p.target;
    if (Number.isInteger(pgid) && pgid > 1 && p.target.groupEmpty !== true) byGroup.set(pgid, [...(byGroup.get(pgid) ?? []), p]);
    const key = `${taskId} ${attempt}`;
    byMarker.set(key, [...(byMarker.get(key) ?? []), p]);
    earliest = Math.min(earliest, startedAt);
    result.set(p, []);
  }
  const boot = bootMs();
  // 2 s of slack for clock steps and the coarse boot time; without a boot time, read every environment.
  const notBefore = boot === undefined || !Number.isFinite(earliest) ? 0 : ((earliest - 2000 - boot) * CLOCK_TICKS_PER_SEC) / 1000;
  const add = (ps: readonly Pending[] | undefined, pid: number): void => {
    for (const p of ps ?? []) {
      const list = result.get(p)!;
      if (!list.includes(pid)) list.push(pid);
    }
  };
  // The census this scan builds starts at `before`: a pid given to a new process after this
  // read lies in (before, cursor at the next scan], which the next scan reads again.
  const before = readPidCursor();
  const prev = census;
  const seen = new Map<number, number>();
  const members = new Set<number>();
  const names = readdirSync('/proc');
  // Read after the directory, so every pid in it was allocated before this cursor position.
  const after = prev === undefined || before === undefined ? undefined : readPidCursor();
  const trusted = prev !== undefined && after !== undefined && after.forks - prev.forks < (pidMax! - 300) / 2 ? prev : undefined;
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const known = trusted?.startTicks.get(pid);
    if (known !== undefined && known < notBefore && !maybeReused(pid, trusted!, after!)) {
      seen.set(pid, known);
      continue;
    }
    const st = statOf(name);
    if (!st) continue;
    seen.set(pid, st.startTicks);
    // Older than the attempts: neither a member of their groups (each leader made its own
    // session, which no older process can join) nor a carrier of their markers.
    if (st.zombie || st.startTicks < notBefore) continue;
    add(byGroup.get(st.pgrp), pid);
    members.add(st.pgrp);
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${name}/environ`);
    } catch {
      continue;
    }
    const id = envValue(env, ID_KEY);
    if (id === undefined) continue;
    add(byMarker.get(`${id} ${envValue(env, ATTEMPT_KEY) ?? ''}`), pid);
  }
  census = before === undefined ? undefined : { startTicks: seen, ...before };
  for (const p of batch) if (!members.has(p.target.pgid)) p.target.groupEmpty = true;
  return result;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Looks again (25 → 200 ms apart) until nothing is left or `ms` has passed; the pids left.
async function waitGone(target: LeftoverTarget, left: number[], ms: number, onRound?: (pids: number[]) => void): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (let step = 25; left.length > 0 && Date.now() < deadline; step = Math.min(step * 2, 200)) {
    await sleep(Math.max(1, Math.min(step, deadline - Date.now())));
    left = await findLeftovers(target);
    if (left.length > 0) onRound?.(left);
  }
  return left;
}

/**
 * Ends what is left of an attempt whose leader has exited, following `policy`: nothing to do
 * with `orphans: 'keep'`; else the leftovers may run `lingerMs`, then get SIGTERM (again each
 * round, for processes forked meanwhile), then SIGKILL after `graceMs`. Resolves with the
 * number of processes that were found left over once none is (or, bounded, once SIGKILL has
 * been sent a few times). Never rejects.
 */
export async function reapLeftovers(target: LeftoverTarget, policy: LeftoverPolicy): Promise<number> {
  if (policy.orphans === 'keep') return 0;
  let left = await findLeftovers(target);
  const count = left.length;
  if (count === 0) return 0;
  left = await waitGone(target, left, policy.lingerMs);
  // Pids from the scan only, never kill(-pgid): once the group has emptied, its number may be
  // another process's again.
  const signal = (sig: NodeJS.Signals) => (pids: number[]): void => signalPids(pids, sig);
  if (left.length === 0) return count;
  signal('SIGTERM')(left);
  left = await waitGone(target, left, policy.graceMs, signal('SIGTERM'));
  // SIGKILL cannot be ignored; a few rounds catch children forked between a scan and its signal.
  for (let round = 0; round < 10 && left.length > 0; round++) {
    signal('SIGKILL')(left);
    await sleep(20 * (round + 1));
    left = await findLeftovers(target);
  }
  return count;
}
