import { snapshot, type TaskRecord } from '../task.js';
import type { Store, StoreLoadResult } from './types.js';

/**
 * Keeps records in memory. Fast and volatile: nothing survives the process. The default store.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly #records = new Map<string, TaskRecord>();

  async load(): Promise<StoreLoadResult> {
    return { records: [...this.#records.values()].map(snapshot), problems: [] };
  }

  async put(record: TaskRecord): Promise<void> {
    this.#records.set(record.id, snapshot(record));
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
