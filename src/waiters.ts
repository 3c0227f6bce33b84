import type { Clock, TimerHandle } from './clock.js';
import { abortRejection, WaitTimeoutError } from './errors.js';
import { snapshot, type TaskRecord } from './task.js';

interface Waiter {
  resolve(record: TaskRecord): void;
  reject(err: unknown): void;
}

/**
 * Promises waiting for tasks to settle. Event-driven: nothing polls; `settle()` is called
 * by the executor on the terminal transition.
 */
export class Waiters {
  readonly #byTask = new Map<string, Set<Waiter>>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  wait(taskId: string, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<TaskRecord> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.reject(abortRejection(signal, 'wait aborted', taskId));
    return new Promise<TaskRecord>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = (): void => {
        done();
        reject(abortRejection(signal!, 'wait aborted', taskId));
      };
      const done = (): void => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.#byTask.get(taskId);
        set?.delete(waiter);
        if (set?.size === 0) this.#byTask.delete(taskId);
      };
      const waiter: Waiter = {
        resolve: (record) => {
          done();
          resolve(record);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      let set = this.#byTask.get(taskId);
      if (!set) this.#byTask.set(taskId, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== undefined) {
        timer = this.#clock.setTimeout(() => waiter.reject(new WaitTimeoutError(taskId, timeoutMs)), timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves every waiter of a task with its terminal record (each gets its own copy). */
  settle(taskId: string, record: TaskRecord): void {
    const set = this.#byTask.get(taskId);
    if (!set) return;
    // A snapshot each: a waiter may change what it gets.
    for (const w of [...set]) w.resolve(snapshot(record));
  }

  /** Rejects every pending waiter (shutdown). */
  rejectAll(makeError: (taskId: string) => unknown): void {
    for (const [taskId, set] of [...this.#byTask]) {
      for (const w of [...set]) w.reject(makeError(taskId));
    }
  }

  get size(): number {
    let n = 0;
    for (const set of this.#byTask.values()) n += set.size;
    return n;
  }
}
