import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live (non-zombie) processes whose environment carries `BGEXEC_TASK_ID=<taskId>`. Independent of src/. */
export function processesOfTask(taskId: string): number[] {
  const needle = `BGEXEC_TASK_ID=${taskId}`;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
      if (!env.includes(needle)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z') pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Polls until `check()` is true or `timeoutMs` passes; returns the last value of `check()`. */
export async function eventually(check: () => boolean, timeoutMs = 5000, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

/** Whether a process with this pid exists (a zombie counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `f` every 25 ms until it gives something other than `undefined`/`false`, and returns it;
 * throws naming `what` after `maxMs` (at most 10 000 looks).
 */
export async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, maxMs = 20_000): Promise<T> {
  const end = Date.now() + maxMs;
  for (let i = 0; Date.now() < end && i < 10_000; i++) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`until: ${what} never happened`);
}
