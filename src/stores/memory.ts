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
  // The store's own copy of each record, made at each put (updating one in place measured worse:
  // fields added and cleared make it a slower, larger object).
  readonly #records = new Map<string, TaskRecord>();

  async load(): Promise<StoreLoadResult> {
    // Fresh objects with their own history arrays: whoever loads may change them.
    return { records: [...this.#records.values()].map(snapshot), problems: [] };
  }

  put(record: TaskRecord): Promise<void> {
    // Not `async`: the executor puts each task three or four times, and an async function makes a new
    // promise for each call. Nothing is awaited here, so one resolved promise serves them all.
    try {
      this.#records.set(record.id, copyOf(record));
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

// Nested objects (spec, handle, history entries, error) are frozen and replaced, never changed,
// by the executor (see Store), so they are shared. A history array is too when it is frozen
// (the executor's are); one that is not may still be pushed to by its owner, so it is copied.
function historyOf(record: TaskRecord): TaskRecord['history'] {
  return Object.isFrozen(record.history) ? record.history : record.history.slice();
}

function copyOf(record: TaskRecord): TaskRecord {
  return { ...record, history: historyOf(record) };
}
