import type { BgexecError } from '../errors.js';
import type { TaskRecord } from '../task.js';

/** A record a store could not load, and where it was moved. */
export interface StoreProblem {
  /** File or key the record came from (bytes of a name that is not UTF-8 shown as `\xNN`). */
  source: string;
  /** Where the bad data now lives (never deleted); absent when it could not be moved and stays at `source`. */
  quarantinedTo?: string;
  /** What is wrong with it (code `STORE_CORRUPT`, or `STORE_FAILED` when it could not be read). */
  error: BgexecError;
}

/** Result of {@link Store.load}. */
export interface StoreLoadResult {
  /** Every record that loaded. */
  records: TaskRecord[];
  /** Every record that did not, and why. */
  problems: StoreProblem[];
}

/**
 * Remembers task records. Every implementation passes `test/stores/_contract.ts`.
 *
 * Nested objects of a record passed to `put` (spec, handle, history entries, error) are
 * frozen and replaced rather than mutated by the executor; a store may keep references
 * to them but must copy the top-level record.
 */
export interface Store {
  /** Short name of the implementation (`memory`, `json-dir`, …), for logs and metrics. */
  readonly kind: string;
  /**
   * `false` for a store whose records die with the process (`MemoryStore`): no later executor
   * can recover its tasks, so transports are told they may skip the files only recovery reads
   * (see `LaunchRequest.recoverable`). Absent means durable.
   */
  readonly durable?: boolean;
  /**
   * Takes ownership (a durable store locks its directory) and returns every record.
   * Bad records are reported in `problems`, never silently dropped.
   */
  load(): Promise<StoreLoadResult>;
  /**
   * Saves the record's state as it is at this call: the store copies or serializes it before
   * returning, so changes made to the object afterwards are not stored until it is put again,
   * and what a store checks is what it keeps. Several puts of one task in one tick may still
   * become one write (of the last state put). What is durable when the promise resolves is that
   * state or a later one.
   */
  put(record: TaskRecord): Promise<void>;
  /** Forgets a record. Resolves when durable. Deleting an unknown id is a no-op. */
  delete(id: string): Promise<void>;
  /** Resolves once every earlier put/delete is durable. */
  flush(): Promise<void>;
  /** Flushes and releases the store (and its lock). */
  close(): Promise<void>;
  /** Where run directories of local attempts should live, if the store has an opinion. */
  readonly runRoot?: string;
}
