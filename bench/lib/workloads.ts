// The workloads being compared: raw child_process.spawn (the baselines) and helpers that
// drive a BackgroundExecutor without keeping per-task results alive.
import { spawn } from 'node:child_process';
import type { BackgroundExecutor, TaskSpec } from '../../src/index.js';

/** Spawns `/bin/sh -c command` with stdio ignored; resolves with its exit code. */
export function runShell(command: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

/**
 * Runs `count` copies of `/bin/sh -c command` with at most `concurrency` at a time (stdio
 * ignored). Returns how many exited 0.
 */
export async function runShellPool(command: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      if ((await runShell(command)) === 0) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return ok;
}

/**
 * One spawn of `/bin/sh -c command`, timed from the `spawn()` call to the child's `spawn`
 * event (the process exists and exec succeeded). Resolves once it has exited too.
 */
export function timeSpawn(command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore' });
    let spawnedMs = 0;
    child.once('spawn', () => {
      spawnedMs = performance.now() - t0;
    });
    child.once('error', reject);
    child.once('exit', () => resolve(spawnedMs));
  });
}

/**
 * Submits `count` specs (from `specOf(i)`) without awaiting each one and resolves once all are
 * durably queued. Submitted records are dropped, so heap measurements see only the executor.
 */
export function submitAll(ex: BackgroundExecutor, count: number, specOf: (i: number) => TaskSpec): Promise<void> {
  if (count === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let done = 0;
    let failed = false;
    const ok = (): void => {
      if (++done === count && !failed) resolve();
    };
    const fail = (err: unknown): void => {
      if (!failed) reject(err);
      failed = true;
    };
    for (let i = 0; i < count; i++) ex.submit(specOf(i)).then(ok, fail);
  });
}

/** Counts of terminal statuses from `metrics()`. */
export function finishedCounts(ex: BackgroundExecutor): { completed: number; failed: number; other: number } {
  const c = ex.metrics().counts;
  return { completed: c.completed, failed: c.failed, other: c.cancelled + c.timed_out + c.lost };
}

/** Throws when not every task of a run completed: timings of failing tasks mean nothing. */
export function assertAllCompleted(what: string, completed: number, expected: number): void {
  if (completed !== expected) throw new Error(`${what}: ${completed} of ${expected} tasks completed`);
}
