import { snapshot, type TaskRecord } from '../task.js';
import type { Store, StoreLoadResult } from './types.js';

const DONE: Promise<void> = Promise.resolve();

/**
 * Keeps records in memory. Fast and volatile: nothing survives the process. The default store.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  /** Nothing survives the process: transports need not write what only recovery would read. */
  readonly durable = false;
  readonly #records = new Map<string, TaskRecord>();

  async load(): Promise<StoreLoadResult> {
    return { records: [...this.#records.values()].map(snapshot), problems: [] };
  }

  put(record: TaskRecord): Promise<void> {
    // Not `async`: the executor puts each task four times, and an async function makes a new
    // promise for each call. Nothing is awaited here, so one resolved promise serves them all.
    try {
      this.#records.set(record.id, snapshot(record));
    } catch (err) {
      return Promise.reject(err);
    }
    return DONE;
  }

  async delete(id: string): Promise<void> {
    this.#records.delete(id);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  /** Number of records held (for tests and metrics). */
  get size(): number {
    return this.#records.size;
  }
}
