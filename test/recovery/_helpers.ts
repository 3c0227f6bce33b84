// Shared by the recovery tests: temp store directories, records written straight into a
// JsonDirStore (as a crashed executor would have left them), real attempts started in the
// store's run root, and an executor that records its events.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackgroundExecutor } from '../../src/executor.js';
import type { ExecutorEventName } from '../../src/events.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { RECORD_VERSION, type TaskRecord, type TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import type { Transport } from '../../src/transports/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs every registered cleanup, newest first (call from afterEach). */
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export function tempDir(prefix = 'bgexec-recovery-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A record as the executor writes it; `overrides` replace top-level fields. */
export function record(id: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    version: RECORD_VERSION,
    id,
    spec: { command: 'true', transport: 'local' },
    status: 'queued',
    attempt: 0,
    order: 1,
    createdAt: Date.now() - 10_000,
    stdoutBytes: 0,
    stderrBytes: 0,
    history: [],
    acked: false,
    ...overrides,
  };
}

/** Writes records into the store at `dir` the way a crashed executor left them. */
export async function seed(dir: string, records: readonly TaskRecord[]): Promise<void> {
  const store = new JsonDirStore({ dir, durability: 'rename' });
  await store.load();
  await Promise.all(records.map((r) => store.put(r)));
  await store.close();
}

/** Reads one task file straight from disk. */
export function stored(dir: string, id: string): TaskRecord {
  return JSON.parse(readFileSync(join(dir, 'tasks', `${id}.json`), 'utf8')) as TaskRecord;
}

/** A LocalTransport on the store's run root, as the old executor had. */
export function oldTransport(dir: string): LocalTransport {
  const t = new LocalTransport({ root: join(dir, 'runs') });
  onCleanup(() => t.close());
  return t;
}

/** Starts attempt `attempt` of `taskId` for real, in the store's run root. */
export function startAttempt(t: Transport, taskId: string, attempt: number, command: string, detached: boolean): Promise<TransportHandle> {
  return t.start({ taskId, attempt, command, detached });
}

export interface Recorded {
  ex: BackgroundExecutor;
  store: JsonDirStore;
  events: Array<{ name: ExecutorEventName; taskId?: string; payload: Record<string, unknown> }>;
  /** Payloads of one event, optionally of one task. */
  of(name: ExecutorEventName, taskId?: string): Array<Record<string, unknown>>;
}

const RECORDED: ExecutorEventName[] = [
  'task:started', 'task:output', 'task:retrying', 'task:completed', 'task:failed', 'task:cancelled',
  'task:timed_out', 'task:lost', 'task:settled', 'error',
];

/** An executor on the JsonDirStore at `dir` (default local transport in `<dir>/runs`), recording events. */
export function openExecutor(dir: string, options: { concurrency?: number; transports?: Record<string, Transport> } = {}): Recorded {
  const store = new JsonDirStore({ dir, durability: 'rename' });
  const ex = new BackgroundExecutor({
    store,
    scheduler: new PriorityScheduler({ concurrency: options.concurrency ?? 4 }),
    ...(options.transports ? { transports: options.transports } : {}),
    outputPollMs: 20,
  });
  const events: Recorded['events'] = [];
  // One generic listener for every event; the typed map does not allow that without a cast.
  const listen = ex.on.bind(ex) as unknown as (name: ExecutorEventName, fn: (payload: Record<string, unknown>) => void) => void;
  for (const name of RECORDED) {
    listen(name, (payload) => {
      events.push({ name, ...(typeof payload.taskId === 'string' ? { taskId: payload.taskId } : {}), payload });
    });
  }
  onCleanup(() => ex.shutdown({ mode: 'kill', graceMs: 200 }));
  return {
    ex,
    store,
    events,
    of: (name, taskId) => events.filter((e) => e.name === name && (taskId === undefined || e.taskId === taskId)).map((e) => e.payload),
  };
}

/** Lines a test's commands appended to `file` (`taskId attempt`). */
export function logLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A child process with its stdout split into lines. */
export type Child = ChildProcess & {
  /** Lines printed so far. */
  lines: string[];
  /** Resolves with the first line matching `pred`. */
  waitFor(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves once `check(lines)` holds (checked on every output chunk). */
  until(check: (lines: readonly string[]) => boolean, timeoutMs?: number): Promise<void>;
};

/** A child `node --import tsx` process running `script` with `args`; killed at cleanup. */
export function child(script: string, args: readonly string[]): Child {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', path, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    for (const w of [...waiters]) w();
  });
  onCleanup(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await once(proc, 'exit');
    }
  });
  const until = (check: (lines: readonly string[]) => boolean, timeoutMs = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const poll = (): void => {
        if (!check(lines)) return;
        done();
        resolve();
      };
      const onExit = (): void => {
        done();
        reject(new Error(`child exited before the awaited output; last lines: ${lines.slice(-5).join(' | ')}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for output; last lines: ${lines.slice(-5).join(' | ')}`));
      }, timeoutMs);
      const done = (): void => {
        waiters.delete(poll);
        proc.off('exit', onExit);
        clearTimeout(timer);
      };
      waiters.add(poll);
      proc.once('exit', onExit);
      poll();
    });
  const waitFor = async (pred: (line: string) => boolean, timeoutMs?: number): Promise<string> => {
    await until((all) => all.some(pred), timeoutMs);
    return lines.find(pred)!;
  };
  return Object.assign(proc, { lines, waitFor, until });
}

/** SIGKILLs a child and waits for it to be gone. */
export async function sigkill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}
