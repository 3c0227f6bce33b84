// The crash test's workload, shared by the child that runs it and the test that checks it.
// No vitest import: the child process loads this file too.
import type { TaskSpec } from '../../src/task.js';
import { seededRandom } from '../_prng.js';

export const prng = seededRandom;

/** Kinds of tasks, each with its own set of allowed outcomes after a crash. */
export type CrashKind = 'short' | 'long' | 'long-retry' | 'detached' | 'failing' | 'failing-detached' | 'retrying' | 'retrying-detached';

/** What a task was told to do; stored in its spec's metadata. */
export interface CrashMeta {
  kind: CrashKind;
  /** Exit code its (final) attempt exits with. */
  exit: number;
}

export const TASKS = 200;
export const CONCURRENCY = 32;


const KINDS: ReadonlyArray<[CrashKind, number]> = [
  ['short', 70], ['long', 15], ['long-retry', 10], ['detached', 45], ['failing', 12], ['failing-detached', 13],
  ['retrying', 18], ['retrying-detached', 17],
];

/** The 200 specs of one run, in submission order, all derived from `seed`. */
export function crashSpecs(seed: number, log: string): TaskSpec[] {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const secs = (min: number, max: number): string => (min + rand() * (max - min)).toFixed(2);
  const kinds: CrashKind[] = KINDS.flatMap(([kind, n]) => Array<CrashKind>(n).fill(kind));
  // Fisher–Yates with the seeded PRNG: every run interleaves the kinds differently.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  // Each command first appends `taskId attempt`: the only honest record of which attempts ran.
  const mark = `echo "$BGEXEC_TASK_ID $BGEXEC_ATTEMPT" >> '${log}'`;
  return kinds.map((kind): TaskSpec => {
    const meta = (exit: number): Record<string, unknown> => ({ kind, exit }) satisfies CrashMeta;
    switch (kind) {
      case 'short': {
        const exit = pick([0, 0, 3]);
        return { command: `${mark}; sleep ${secs(0, 0.05)}; exit ${exit}`, metadata: meta(exit) };
      }
      case 'long':
        return { command: `${mark}; sleep ${secs(0.5, 1)}; exit 0`, metadata: meta(0), graceMs: 2000 };
      case 'long-retry':
        return { command: `${mark}; sleep ${secs(0.5, 1)}; exit 0`, metadata: meta(0), graceMs: 2000, retry: { attempts: 3, retryOn: ['failed', 'lost'] } };
      case 'detached': {
        const exit = Math.floor(rand() * 6);
        return { command: `${mark}; sleep ${secs(0.1, 0.6)}; exit ${exit}`, detached: true, metadata: meta(exit) };
      }
      case 'failing':
      case 'failing-detached':
        return { command: `${mark}; exit 7`, detached: kind === 'failing-detached', metadata: meta(7) };
      case 'retrying':
      case 'retrying-detached':
        return {
          command: `${mark}; sleep ${secs(0, 0.1)}; [ "$BGEXEC_ATTEMPT" -ge 2 ] && exit 0; exit 9`,
          detached: kind === 'retrying-detached',
          retry: { attempts: 4, backoff: { type: 'fixed', delayMs: 50 }, retryOn: ['failed', 'lost'] },
          metadata: meta(0),
        };
    }
  });
}
