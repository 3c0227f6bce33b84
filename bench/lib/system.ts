// The machine a run happens on: a description for results.json, the load average, CPU time
// of the main thread (from /proc, Linux), and temporary directories on disk and on tmpfs.
//
// On a shared machine wall-clock figures swing with other people's load; the CPU the main thread
// spends per task (it runs every synchronous spawn() and fs call) and the time it waited for a
// core are steadier, and explain where a throughput gap comes from.
import { mkdtempSync, readFileSync, realpathSync, rmSync, statfsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  /** What /bin/sh resolves to (dash and bash differ in start-up cost). */
  binSh: string;
  loadAverage1m: number;
  date: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let binSh = '/bin/sh';
  try {
    binSh = realpathSync('/bin/sh');
  } catch {
    // Keep the plain name.
  }
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    binSh,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

/** The 1-minute load average, rounded. */
export function load1(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

// ---------------------------------------------------------------- CPU time

/** Main-thread times in ms; undefined where /proc/<pid>/task/<pid>/schedstat is missing. */
export interface ThreadTimes {
  /** Time on a CPU. */
  cpuMs: number;
  /** Time runnable but waiting for a CPU (run-queue delay). */
  waitMs: number;
}

export function mainThreadTimes(): ThreadTimes | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/);
    const cpuMs = Number(run) / 1e6;
    const waitMs = Number(wait) / 1e6;
    return Number.isFinite(cpuMs) && Number.isFinite(waitMs) ? { cpuMs, waitMs } : undefined;
  } catch {
    return undefined;
  }
}

/** What a span of work cost: main-thread CPU and run-queue wait, and CPU of the whole process (all threads). */
export interface CpuSpan {
  mainCpuMs: number | null;
  mainWaitMs: number | null;
  processCpuMs: number;
}

/** Starts measuring; call the returned function to get the span's cost. */
export function startCpuSpan(): () => CpuSpan {
  const t0 = mainThreadTimes();
  const u0 = process.cpuUsage();
  return () => {
    const t1 = mainThreadTimes();
    const u = process.cpuUsage(u0);
    return {
      mainCpuMs: t0 && t1 ? t1.cpuMs - t0.cpuMs : null,
      mainWaitMs: t0 && t1 ? t1.waitMs - t0.waitMs : null,
      processCpuMs: (u.user + u.system) / 1000,
    };
  };
}

// ---------------------------------------------------------------- temporary directories

const TMPFS_MAGIC = 0x01021994;

// Directories made and not yet removed: removed on SIGINT/SIGTERM too (a 1 GiB output file
// must not outlive an interrupted run).
const liveDirs = new Set<string>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** A fresh directory under `base` (default: the OS temp dir). */
export function makeTempDir(prefix: string, base = tmpdir()): string {
  hookSignals();
  const dir = mkdtempSync(join(base, `bgexec-bench-${prefix}-`));
  liveDirs.add(dir);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

/** Runs `fn` with a fresh temp dir and removes the dir afterwards. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = makeTempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

/**
 * A memory-backed directory (tmpfs) to put run directories in for diagnostic variants, or
 * undefined when there is none: `/dev/shm` on most Linux systems. Comparing a run there with
 * one under the OS temp dir separates the cost of disk metadata from the library's own work.
 */
export function tmpfsBase(): string | undefined {
  try {
    return statfsSync('/dev/shm').type === TMPFS_MAGIC ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}
