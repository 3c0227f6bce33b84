// Process lookups for the test harness, straight from /proc (Linux).
import { readdirSync, readFileSync } from 'node:fs';

/** pid → [ppid, comm] of every process. */
export function processTable(): Map<number, { ppid: number; comm: string }> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue;
      table.set(Number(name), { ppid: Number(fields[1]), comm: stat.slice(open + 1, close) });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/** Live descendants of `root` whose command name starts with `prefix`. */
export function descendantsNamed(root: number, prefix: string): number[] {
  const table = processTable();
  const found: number[] = [];
  for (const [pid, { comm }] of table) {
    if (!comm.startsWith(prefix)) continue;
    for (let p = table.get(pid)?.ppid, hops = 0; p !== undefined && p > 1 && hops < 64; p = table.get(p)?.ppid, hops++) {
      if (p === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

/** Whether `pid` is alive and not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live pids whose environment carries `BGEXEC_TASK_ID=<taskId>`. */
export function pidsOfTask(taskId: string): number[] {
  const needle = Buffer.from(`BGEXEC_TASK_ID=${taskId}\0`);
  const found: number[] = [];
  for (const pid of processTable().keys()) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`);
      if (env.subarray(0, needle.length).equals(needle) || env.includes(Buffer.concat([Buffer.from([0]), needle]))) found.push(pid);
    } catch {
      // Gone, or not readable.
    }
  }
  return found;
}

/** Sends a signal to each pid, ignoring those already gone. */
export function killPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Process groups of the processes whose command line mentions `needle` (a test's private
 * directory: the wrappers of its remote attempts carry their run directory in argv) get SIGKILL,
 * so a test that failed before killing its tasks leaves none running once its fixture closes.
 */
export function killGroupsMentioning(needle: string): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      // Only a group of its own (a wrapper is a session leader): never this process's group.
      if (pgid > 1 && pgid === Number(name)) {
        process.kill(-pgid, 'SIGKILL');
        n++;
      }
    } catch {
      // Gone meanwhile, or not ours to signal.
    }
  }
  return n;
}
