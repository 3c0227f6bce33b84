import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { abortRejection, InvalidArgumentError, NotFoundError, StoreError, TransportError, WaitTimeoutError } from '../errors.js';
import {
  followTaskOutput,
  readTaskOutput,
  type FollowOptions,
  type OutputChunk,
  type OutputHost,
  type OutputRead,
  type ReadOutputOptions,
} from '../output/task-output.js';
import { isTerminal, type TaskRecord } from '../task.js';
import { LocalTransport } from '../transports/local.js';
import type { Transport } from '../transports/types.js';
import { readTaskFile, TASK_FILE } from './json-dir-load.js';
import { ownerAlive, type LockOwner } from './json-dir-lock.js';
import { recordProblem } from './record-validate.js';

/** Options of {@link JsonDirReader}. */
export interface JsonDirReaderOptions {
  /** The store directory (as given to `JsonDirStore`). */
  dir: string;
  /** How often `follow()` and `wait()` look at the files again (default 200 ms). */
  pollMs?: number;
}

/** Task records read at one moment, and the entries that could not be used. */
export interface StoreSnapshot {
  /** Every record that read and validated, in submission order. */
  records: TaskRecord[];
  /** Entries left out and why (a reader never moves or repairs anything: the owner does). */
  skipped: SkippedEntry[];
}

/** An entry of `tasks/` that a {@link JsonDirReader} left out of a snapshot. */
export interface SkippedEntry {
  /** Its file name in `tasks/`. */
  name: string;
  /** Why it was left out (`not valid JSON`, `not a task file name`, a validation problem, …). */
  reason: string;
}

/** Who holds the store's lock, from its lock file. */
export interface StoreOwnerInfo {
  /** Process id of the owner. */
  pid: number;
  /** Host it runs on. */
  hostname: string;
  /** Whether that process still runs (same boot, pid alive, same start time). */
  alive: boolean;
}

const TEMP = /^\./;

/**
 * Read-only view of a `JsonDirStore` directory that another process owns: it takes no lock and
 * never writes, quarantines, repairs or recovers anything. Each task file is replaced
 * atomically by its owner, so every record read is one the owner wrote in full; a snapshot is
 * the set of those records at the time each was read. Output of every attempt of a local task
 * is readable through the same byte-cursor reads as `BackgroundExecutor.readOutput()`.
 */
export class JsonDirReader {
  /** The store directory, made absolute. */
  readonly dir: string;
  readonly #tasksDir: string;
  readonly #pollMs: number;
  #local: LocalTransport | undefined;

  constructor(options: JsonDirReaderOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '' || options.dir.includes('\0')) {
      throw new InvalidArgumentError('dir', 'must be a non-empty path without NUL bytes');
    }
    const pollMs = options.pollMs ?? 200;
    if (!Number.isFinite(pollMs) || pollMs < 1) throw new InvalidArgumentError('pollMs', 'must be a number of ms >= 1');
    this.dir = resolve(options.dir);
    this.#tasksDir = join(this.dir, 'tasks');
    this.#pollMs = pollMs;
  }

  /**
   * Reads every task file. Rejects with `STORE_FAILED` when `dir` is not a store directory;
   * a store whose owner never loaded it has no tasks.
   */
  async snapshot(): Promise<StoreSnapshot> {
    await this.#assertStore();
    let names: string[];
    try {
      names = await readdir(this.#tasksDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: [] };
      throw new StoreError('STORE_FAILED', `cannot read ${this.#tasksDir}: ${(err as Error).message}`, { cause: err });
    }
    const records: TaskRecord[] = [];
    const skipped: SkippedEntry[] = [];
    for (const name of names) {
      if (TEMP.test(name)) continue; // an owner's write in progress
      const id = TASK_FILE.exec(name)?.[1];
      if (id === undefined) {
        skipped.push({ name, reason: 'not a task file name' });
        continue;
      }
      const outcome = this.#read(id);
      if ('record' in outcome) records.push(outcome.record);
      else if (outcome.reason !== undefined) skipped.push({ name, reason: outcome.reason });
    }
    records.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { records, skipped };
  }

  /** The record of one task, or undefined when there is none (or it is unreadable). */
  async get(id: string): Promise<TaskRecord | undefined> {
    if (typeof id !== 'string' || !TASK_FILE.test(`${id}.json`)) throw new InvalidArgumentError('id', `is not a task id: ${JSON.stringify(id)}`);
    await this.#assertStore();
    const outcome = this.#read(id);
    return 'record' in outcome ? outcome.record : undefined;
  }

  /** Who holds the store's lock, or undefined when nobody does (no lock file). */
  async owner(): Promise<StoreOwnerInfo | undefined> {
    let raw: string;
    try {
      raw = await readFile(join(this.dir, 'lock'), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      // Another user's store, say: "nobody owns it" would be wrong, and so would the offer to run it.
      throw new StoreError('STORE_FAILED', `cannot tell who owns ${this.dir}: reading its lock failed (${code ?? String(err)})`, { cause: err });
    }
    let v: Partial<LockOwner> | null;
    try {
      v = JSON.parse(raw) as Partial<LockOwner> | null;
    } catch {
      return undefined; // being written (the owner is starting) or garbage: no usable owner
    }
    if (!v || typeof v.pid !== 'number' || typeof v.bootId !== 'string' || typeof v.startTime !== 'number') return undefined;
    const owner: LockOwner = { pid: v.pid, bootId: v.bootId, startTime: v.startTime, hostname: String(v.hostname ?? ''), token: '' };
    return { pid: owner.pid, hostname: owner.hostname, alive: await ownerAlive(owner) };
  }

  /** A slice of a task's output (see `BackgroundExecutor.readOutput`). */
  async readOutput(id: string, options?: ReadOutputOptions): Promise<OutputRead> {
    const record = await this.#mustGet(id);
    return readTaskOutput(this.#host(record), id, options ?? {});
  }

  /**
   * A task's output as it is written, through every attempt, until the record says the task
   * has ended and everything was read (see `BackgroundExecutor.follow`). It looks again every
   * `pollMs`; if the owner stops, the record stops changing and so does the iteration.
   */
  async *follow(id: string, options?: FollowOptions): AsyncGenerator<OutputChunk> {
    const host = this.#host(await this.#mustGet(id));
    yield* followTaskOutput(host, id, options ?? {});
  }

  /** Resolves with the record once it is terminal; `WAIT_TIMEOUT` after `timeoutMs`, `signal.reason` on abort. */
  async wait(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskRecord> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const record = await this.#mustGet(id);
      if (isTerminal(record.status)) return record;
      if (options.signal?.aborted) throw abortRejection(options.signal, 'wait aborted', id);
      if (Date.now() >= deadline) throw new WaitTimeoutError(id, options.timeoutMs ?? 0);
      await sleep(Math.min(this.#pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  /** Releases what reads opened. */
  async close(): Promise<void> {
    await this.#local?.close();
  }

  #read(id: string): { record: TaskRecord } | { reason?: string } {
    const outcome = readTaskFile(join(this.#tasksDir, `${id}.json`));
    if ('gone' in outcome) return {};
    if ('reason' in outcome) return { reason: outcome.reason };
    let value: unknown;
    try {
      value = JSON.parse(outcome.text);
    } catch {
      return { reason: outcome.text.length === 0 ? 'empty file' : 'not valid JSON' };
    }
    const problem = recordProblem(value, id);
    return problem === undefined ? { record: value as TaskRecord } : { reason: problem };
  }

  async #mustGet(id: string): Promise<TaskRecord> {
    const record = await this.get(id);
    if (!record) throw new NotFoundError(id);
    return record;
  }

  async #assertStore(): Promise<void> {
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new StoreError('STORE_FAILED', `no bgexec store at ${this.dir}`);
    // Any directory is not a store: one that a JsonDirStore ever opened has its tasks/.
    const tasks = await stat(join(this.dir, 'tasks')).catch(() => undefined);
    if (!tasks?.isDirectory()) throw new StoreError('STORE_FAILED', `no bgexec store at ${this.dir} (it has no tasks/ directory)`);
  }

  // Reads go straight to the run directories; the record is re-read at every change check.
  #host(first: TaskRecord): OutputHost {
    let record = first;
    return {
      record: () => record,
      transportOf: (r) => this.#transportOf(r),
      nextChange: async () => {
        await sleep(this.#pollMs);
        const now = this.#read(record.id);
        if ('record' in now) record = now.record;
      },
      stopped: () => false,
    };
  }

  #transportOf(record: TaskRecord): Transport {
    const kind = record.handle?.kind ?? record.history.at(-1)?.handle?.kind ?? 'local';
    if (kind !== 'local') {
      throw new TransportError('TRANSPORT_FAILED', `output of task ${record.id} lives on transport ${JSON.stringify(record.spec.transport)} (${kind}): only its owner can read it`, { taskId: record.id });
    }
    this.#local ??= new LocalTransport();
    return this.#local;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
