// The crash test: a child executor on a JsonDirStore runs 200 tasks (short, long,
// detached, failing, retrying) and is SIGKILLed at a seeded moment, from "during submission"
// to "most tasks done". A fresh executor then starts on the same directory and runs to idle.
//
// Checked for every task:
// - it ends terminal, and is settled exactly once: either its terminal state was already in
//   the store at the restart, or the new executor settles it (once);
// - every task the child reported as submitted was in the store (submit resolves when durable);
// - its outcome is one its kind allows (detached attempts always report their real exit code);
// - no attempt ran twice (no duplicate `taskId attempt` line in the log its commands append
//   to) and no task ran more attempts than it recorded;
// - no process of it is left.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { isTerminal, type TaskRecord } from '../../src/task.js';
import { eventually, processesOfTask } from '../proc.js';
import { CONCURRENCY, TASKS, prng, type CrashMeta } from './_crash-workload.js';
import { child, logLines, onCleanup, runCleanups, sigkill, tempDir } from './_helpers.js';

afterEach(runCleanups);

interface Moment {
  seed: number;
  durability: 'fsync' | 'rename';
  // Kill once the child printed this many `submitted` or `settled` lines.
  after: 'submitted' | 'settled';
  count: number;
}

const MOMENTS: Moment[] = [
  { seed: 101, durability: 'fsync', after: 'submitted', count: 1 },
  { seed: 102, durability: 'rename', after: 'submitted', count: 60 },
  { seed: 103, durability: 'fsync', after: 'submitted', count: 150 },
  { seed: 104, durability: 'fsync', after: 'settled', count: 15 },
  { seed: 105, durability: 'rename', after: 'settled', count: 40 },
  { seed: 106, durability: 'fsync', after: 'settled', count: 70 },
  { seed: 107, durability: 'rename', after: 'settled', count: 100 },
  { seed: 108, durability: 'fsync', after: 'settled', count: 130 },
  { seed: 109, durability: 'rename', after: 'settled', count: 160 },
  { seed: 110, durability: 'fsync', after: 'settled', count: 190 },
];

// Why `r` is not an outcome its kind allows after one crash, or undefined when it is.
function badOutcome(r: TaskRecord, ran: (attempt: number) => boolean): string | undefined {
  const meta = r.spec.metadata as unknown as CrashMeta;
  const exited = (r.status === 'completed' || r.status === 'failed') && r.exitCode === meta.exit && ran(r.attempt);
  const expectedStatus = meta.exit === 0 ? 'completed' : 'failed';
  switch (meta.kind) {
    case 'detached':
    case 'failing-detached':
      // Outlives the executor and records its own exit code; only a start cut short before the
      // wrapper ran (no log line) may be lost.
      if (r.status === expectedStatus && exited && r.attempt === 1) return undefined;
      if (r.status === 'lost' && r.reason === 'spawn_interrupted' && !ran(r.attempt)) return undefined;
      break;
    case 'short':
    case 'long':
    case 'failing':
      // Lived only as long as its executor: its end may be unknown (lost) or cut short (killed).
      if (r.attempt !== 1) break;
      if (r.status === expectedStatus && exited) return undefined;
      // `spawn_interrupted` is a promise that the command never ran; `spawn_unconfirmed` (killed
      // between spawn and the pid write) and `no_exit_marker` say that it may have.
      if (r.status === 'lost' && (r.reason === 'no_exit_marker' || r.reason === 'spawn_unconfirmed')) return undefined;
      if (r.status === 'lost' && r.reason === 'spawn_interrupted' && !ran(r.attempt)) return undefined;
      if (r.status === 'cancelled' && r.reason === 'executor_restart') return undefined;
      break;
    case 'long-retry':
    case 'retrying':
    case 'retrying-detached':
      // Whatever the crash did to one attempt, the retry policy brings it to its exit 0.
      if (r.status === 'completed' && exited) return undefined;
      break;
  }
  return `${meta.kind} task ended ${r.status} (${String(r.reason)}) exit ${String(r.exitCode)} at attempt ${r.attempt}; ran: ${r.history.map((h) => `${h.attempt}:${h.status}/${String(h.reason ?? h.exitCode)}`).join(' ')}`;
}

// Reads the store as the restarted executor will find it (and releases it again).
async function storeState(dir: string): Promise<Map<string, TaskRecord>> {
  const store = new JsonDirStore({ dir });
  const { records, problems } = await store.load();
  await store.close();
  expect(problems).toEqual([]);
  return new Map(records.map((r) => [r.id, r]));
}

describe('crash test: SIGKILL of an executor running 200 tasks, then a fresh executor', () => {
  for (const m of MOMENTS) {
    it(`seed ${m.seed}: killed after ${m.count} ${m.after} (${m.durability})`, async () => {
      const t0 = Date.now();
      const dir = tempDir('bgexec-crash-');
      const log = join(dir, 'log');
      const proc = child('./_crash-child.ts', [dir, String(m.seed), log, m.durability]);
      const count = (lines: readonly string[]): number => lines.filter((l) => l.startsWith(`${m.after} `)).length;
      await proc.until((lines) => count(lines) >= m.count || lines.includes('idle'), 150_000);
      // A seeded jitter, so the kill does not always land right after a line was printed, and
      // a seeded downtime during which attempts go on finishing with no executor watching.
      const rand = prng(m.seed * 31);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 40)));
      await sigkill(proc);
      const killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 100 + Math.floor(rand() * 300)));

      const submitted = proc.lines.filter((l) => l.startsWith('submitted ')).map((l) => l.split(' ')[1]!);
      // What the dead executor announced: `settled <id> <status> <exitCode>`.
      const settledBefore = new Map<string, string[]>();
      for (const l of proc.lines.filter((x) => x.startsWith('settled '))) {
        const [, id, ...outcome] = l.split(' ') as [string, string, ...string[]];
        settledBefore.set(id, [...(settledBefore.get(id) ?? []), outcome.join(' ')]);
      }
      const atRestart = await storeState(dir);
      for (const id of submitted) expect(atRestart.has(id), `submitted ${id} is in the store`).toBe(true);
      for (const [id, outcomes] of settledBefore) expect(outcomes, `${id} settled once before the crash`).toHaveLength(1);
      const terminalAtRestart = new Set([...atRestart.values()].filter((r) => isTerminal(r.status)).map((r) => r.id));

      const restartedAt = Date.now();
      const ex = new BackgroundExecutor({
        store: new JsonDirStore({ dir, durability: m.durability }),
        scheduler: new PriorityScheduler({ concurrency: CONCURRENCY }),
      });
      onCleanup(() => ex.shutdown({ graceMs: 200 }));
      const settledAfter = new Map<string, number>();
      ex.on('task:settled', (e) => settledAfter.set(e.taskId, (settledAfter.get(e.taskId) ?? 0) + 1));
      const errors: string[] = [];
      ex.on('error', (e) => errors.push(`${e.error.code}: ${e.error.message}`));
      await ex.start();
      const startMs = Date.now() - restartedAt;
      await ex.onIdle();

      const final = ex.list();
      expect(final.map((r) => r.id).sort()).toEqual([...atRestart.keys()].sort());
      const lines = logLines(log);
      expect(new Set(lines).size, 'no attempt ran twice').toBe(lines.length);
      const attemptsRun = new Map<string, Set<number>>();
      for (const line of lines) {
        const [id, attempt] = line.split(' ') as [string, string];
        const set = attemptsRun.get(id) ?? new Set<number>();
        set.add(Number(attempt));
        attemptsRun.set(id, set);
      }
      const problems: string[] = [];
      for (const r of final) {
        const ran = attemptsRun.get(r.id) ?? new Set<number>();
        const settled = (terminalAtRestart.has(r.id) ? 1 : 0) + (settledAfter.get(r.id) ?? 0);
        if (!isTerminal(r.status)) problems.push(`${r.id} is ${r.status}`);
        if (settled !== 1) problems.push(`${r.id} settled ${settled} times`);
        if (ran.size > r.attempt || [...ran].some((a) => a > r.attempt)) problems.push(`${r.id} ran attempts ${[...ran].join(',')} but recorded ${r.attempt}`);
        const bad = badOutcome(r, (a) => ran.has(a));
        if (bad) problems.push(`${r.id}: ${bad}`);
        // A settle announced before the crash whose terminal record had not reached the store is
        // settled again by the new executor: from the same exit marker, so with the same outcome.
        const announced = settledBefore.get(r.id)?.[0];
        if (announced !== undefined && announced !== `${r.status} ${String(r.exitCode)}`) {
          problems.push(`${r.id} was announced ${announced} before the crash, ended ${r.status} ${String(r.exitCode)}`);
        }
      }
      expect(problems).toEqual([]);
      expect(errors).toEqual([]);
      expect(ex.completions()).toHaveLength(final.length);
      expect(await eventually(() => final.every((r) => processesOfTask(r.id).length === 0), 30_000)).toBe(true);

      const by = (s: string): number => final.filter((r) => r.status === s).length;
      const duringDowntime = final.filter(
        (r) => !terminalAtRestart.has(r.id) && r.spec.detached === true && (r.endedAt ?? 0) >= killedAt && (r.endedAt ?? 0) < restartedAt,
      ).length;
      const resettled = [...settledBefore.keys()].filter((id) => !terminalAtRestart.has(id)).length;
      const kinds = (s: string, reason?: string): number => final.filter((r) => r.status === s && (reason === undefined || r.reason === reason)).length;
      console.log(
        `[crash] seed ${m.seed} ${m.durability}: killed after ${count(proc.lines)} ${m.after} (${submitted.length}/${TASKS} submitted, ` +
          `${settledBefore.size} settled, ${resettled} of them not yet durable); at restart ${terminalAtRestart.size} terminal, ` +
          `${[...atRestart.values()].filter((r) => r.status === 'running').length} running; start() took ${startMs} ms; ` +
          `final: ${by('completed')} completed, ${by('failed')} failed, ${kinds('cancelled', 'executor_restart')} cancelled(executor_restart), ` +
          `${kinds('lost', 'no_exit_marker')} lost(no_exit_marker), ${kinds('lost', 'spawn_interrupted')} lost(spawn_interrupted), ${kinds('lost', 'spawn_unconfirmed')} lost(spawn_unconfirmed); ` +
          `${duringDowntime} detached ended during the downtime; ` +
          `${final.reduce((n, r) => n + r.attempt, 0)} attempts, ${lines.length} log lines; ${Date.now() - t0} ms`,
      );
    }, 240_000);
  }
});
