import { errorMessage, readArgs } from '../args.js';
import { mkdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BgexecError, InvalidArgumentError, StoreError } from '../errors.js';
import type { TaskRecord } from '../task.js';
import { closeSync } from 'node:fs';
import { DIR_MODE, fsyncFd, openDirectory, writeFileAtomic } from './atomic-write.js';
import { eachLimit } from './each-limit.js';
import { acquireLock, releaseLock, type LockOwner } from './json-dir-lock.js';
import { loadTaskDir, MAX_RECORD_BYTES } from './json-dir-load.js';
import { assertValidTaskId, recordProblem } from './record-validate.js';
import type { Store, StoreLoadResult } from './types.js';

/** Options of {@link JsonDirStore}. */
export interface JsonDirStoreOptions {
  /** Directory of the store; created (mode 0700) if missing. */
  dir: string;
  /**
   * `fsync` (default): a resolved put survives a power loss (file and directory are fsynced).
   * `rename`: no fsync; a resolved put survives a crash of the process, not of the machine.
   */
  durability?: 'fsync' | 'rename';
}

/** Counters of a {@link JsonDirStore}, for metrics and tests. */
export interface JsonDirStoreStats {
  /** Group commits run. */
  batches: number;
  /** Task files written (renamed into place). */
  writes: number;
  /** Task files unlinked. */
  deletes: number;
  /** Directory fsyncs (at most one per batch). */
  dirSyncs: number;
  /** Puts and deletes that failed. */
  failures: number;
}

// A put carries the record's JSON as of the put() call, so what was validated is what is written.
type Op = { kind: 'put'; text: string } | { kind: 'delete' };

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Changes committed together: the latest op per id, and everyone waiting for them. */
interface Batch {
  ops: Map<string, Op>;
  waiters: Map<string, Waiter[]>;
  settled: Promise<void>;
  markSettled: () => void;
  failure?: StoreError;
}

// Files written at once in one batch; more only queue up in the libuv pool.
const WRITE_CONCURRENCY = 32;

function newBatch(): Batch {
  let markSettled!: () => void;
  const settled = new Promise<void>((r) => (markSettled = r));
  return { ops: new Map(), waiters: new Map(), settled, markSettled };
}

/**
 * The file content for `record`, or `InvalidArgumentError` (field `record`) when the record
 * would not load back: invalid, not representable as JSON (BigInt, cycles), or its JSON larger
 * than {@link MAX_RECORD_BYTES}. The JSON text itself is what gets checked, parsed back exactly
 * as a load will, so that no getter, `toJSON` or later mutation can slip past the check.
 */
function encodeRecord(record: TaskRecord): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(record) as string | undefined;
  } catch (err) {
    throw new InvalidArgumentError('record', `cannot be stored as JSON: ${errorMessage(err)}`, { taskId: record.id });
  }
  if (typeof text !== 'string') throw new InvalidArgumentError('record', 'has no JSON form', { taskId: record.id });
  // Checked before parsing, so an oversized record costs no parse; length ≤ bytes ≤ 3 × length.
  // One byte is kept for the newline that ends the file.
  const limit = MAX_RECORD_BYTES - 1;
  if (text.length > limit || (text.length * 3 > limit && Buffer.byteLength(text) > limit)) {
    throw new InvalidArgumentError('record', `is larger than ${MAX_RECORD_BYTES} bytes as JSON`, { taskId: record.id });
  }
  const problem = recordProblem(JSON.parse(text), record.id);
  if (problem !== undefined) throw new InvalidArgumentError('record', problem, { taskId: record.id });
  return `${text}\n`;
}

function failed(message: string, cause: unknown, taskId?: string): StoreError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StoreError('STORE_FAILED', `${message}: ${why}`, { cause, taskId });
}

/**
 * Keeps one JSON file per task in `<dir>/tasks/<id>.json`, replaced atomically (temp file,
 * fsync, rename, directory fsync). Each put serializes and checks the record at once; puts are
 * coalesced: several puts of one task before the next flush become one write (the last one),
 * and each flush commits every dirty task with one directory fsync (group commit). A lock file
 * `<dir>/lock` keeps a second process out. Every entry of `tasks/` that `load()` cannot use
 * (bad content, odd name, not a regular file, over {@link MAX_RECORD_BYTES}, unreadable) is
 * moved to `<dir>/quarantine/` and reported, never dropped, and the load goes on.
 */
export class JsonDirStore implements Store {
  /** Largest task file a load reads (16 MiB); `put()` refuses a record whose file would be larger. */
  static readonly MAX_RECORD_BYTES = MAX_RECORD_BYTES;
  readonly kind = 'json-dir';
  /** Where run directories of local attempts live: `<dir>/runs`. */
  readonly runRoot: string;
  /** The store's directory (the `dir` option, made absolute). */
  readonly dir: string;
  readonly #tasksDir: string;
  readonly #lockPath: string;
  readonly #fsync: boolean;
  #state: 'new' | 'loading' | 'open' | 'closing' | 'closed' = 'new';
  #lock: LockOwner | undefined;
  // `tasks/`, kept open for the directory fsync of each group commit: one pool call per commit
  // instead of three (open, fsync, close).
  #tasksDirFd: number | undefined;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #pending: Batch | undefined;
  #inflight: Batch | undefined;
  #timer: NodeJS.Immediate | undefined;
  readonly #stats: JsonDirStoreStats = { batches: 0, writes: 0, deletes: 0, dirSyncs: 0, failures: 0 };

  constructor(options: JsonDirStoreOptions) {
    // Each option read once, so that a throwing getter or Proxy trap is an INVALID_ARGUMENT.
    const { dir, durability = 'fsync' } = readArgs('options', () => ({ dir: options?.dir, durability: options?.durability }));
    if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) {
      throw new InvalidArgumentError('dir', 'must be a non-empty path without NUL bytes');
    }
    if (durability !== 'fsync' && durability !== 'rename') {
      throw new InvalidArgumentError('durability', `must be "fsync" or "rename", got ${JSON.stringify(durability)}`);
    }
    this.dir = resolve(dir);
    this.runRoot = join(this.dir, 'runs');
    this.#tasksDir = join(this.dir, 'tasks');
    this.#lockPath = join(this.dir, 'lock');
    this.#fsync = durability === 'fsync';
  }

  /** A copy of the store's counters. */
  get stats(): JsonDirStoreStats {
    return { ...this.#stats };
  }

  /**
   * Takes the lock (`STORE_LOCKED` if a live process holds it), creates the directories and
   * reads every task file. Bad entries are quarantined and listed in `problems`; one bad entry
   * never makes it reject. It rejects (`STORE_FAILED`) only when the store as a whole cannot be
   * read: `tasks/` itself unreadable, or out of file descriptors or memory, or an I/O error of
   * the device. Called again, it flushes and re-reads.
   */
  async load(): Promise<StoreLoadResult> {
    if (this.#state === 'closing' || this.#state === 'closed') throw this.#closedError();
    if (this.#state === 'loading') throw new StoreError('STORE_FAILED', `load() of ${this.dir} is already in progress`);
    if (this.#state === 'new') {
      this.#state = 'loading';
      this.#opening = this.#open();
      try {
        await this.#opening;
      } finally {
        this.#opening = undefined;
      }
    } else {
      await this.flush();
    }
    try {
      return await loadTaskDir({ tasksDir: this.#tasksDir, quarantineDir: join(this.dir, 'quarantine'), fsync: this.#fsync });
    } catch (err) {
      throw err instanceof BgexecError ? err : failed(`cannot read ${this.#tasksDir}`, err);
    }
  }

  /**
   * Serializes and checks the record now, then marks the task dirty: the next flush (next
   * macrotask) writes the latest state put for it, exactly as it was at its put() call (changes
   * made to the object afterwards are not seen). Rejects with `INVALID_ARGUMENT` for a bad id or
   * a record that would not load back (then the task's earlier put, if any, still stands), and
   * with `STORE_FAILED` (cause kept) when the write fails.
   */
  put(record: TaskRecord): Promise<void> {
    let text: string;
    try {
      this.#assertWritable();
      assertValidTaskId(record?.id);
      text = encodeRecord(record);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(record.id, { kind: 'put', text });
  }

  delete(id: string): Promise<void> {
    try {
      this.#assertWritable();
      assertValidTaskId(id);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(id, { kind: 'delete' });
  }

  async flush(): Promise<void> {
    if (this.#state === 'closed') throw this.#closedError();
    const batches = [this.#inflight, this.#pending].filter((b): b is Batch => b !== undefined);
    await Promise.all(batches.map((b) => b.settled));
    const failure = batches.find((b) => b.failure)?.failure;
    if (failure) throw failure;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // A close racing a first load waits for it, so the lock it takes is released here.
    if (this.#opening) await this.#opening.catch(() => undefined);
    if (this.#state === 'new') {
      this.#state = 'closed';
      return;
    }
    this.#state = 'closing';
    try {
      await this.flush();
    } finally {
      const lock = this.#lock;
      this.#lock = undefined;
      this.#closeTasksDir();
      this.#state = 'closed';
      if (lock) await releaseLock(this.#lockPath, lock).catch(() => undefined);
    }
  }

  async #open(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
      this.#lock = await acquireLock(this.#lockPath);
      await mkdir(this.#tasksDir, { recursive: true, mode: DIR_MODE });
      await mkdir(this.runRoot, { recursive: true, mode: DIR_MODE });
      if (this.#fsync) this.#tasksDirFd = await openDirectory(this.#tasksDir);
    } catch (err) {
      this.#closeTasksDir();
      if (this.#lock) await releaseLock(this.#lockPath, this.#lock).catch(() => undefined);
      this.#lock = undefined;
      this.#state = 'new';
      throw err instanceof BgexecError ? err : failed(`cannot open store ${this.dir}`, err);
    }
    this.#state = 'open';
  }

  #closeTasksDir(): void {
    const fd = this.#tasksDirFd;
    this.#tasksDirFd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  #closedError(): StoreError {
    return new StoreError('STORE_FAILED', `JsonDirStore ${this.dir} is closed`);
  }

  #assertWritable(): void {
    if (this.#state === 'open') return;
    if (this.#state === 'closing' || this.#state === 'closed') throw this.#closedError();
    throw new StoreError('STORE_FAILED', `JsonDirStore ${this.dir} is not loaded: call load() first`);
  }

  #enqueue(id: string, op: Op): Promise<void> {
    const batch = (this.#pending ??= newBatch());
    batch.ops.set(id, op);
    const promise = new Promise<void>((resolve, reject) => {
      const list = batch.waiters.get(id);
      if (list) list.push({ resolve, reject });
      else batch.waiters.set(id, [{ resolve, reject }]);
    });
    this.#schedule();
    return promise;
  }

  // The next macrotask, so every change made in this tick joins the batch; one batch at a time.
  #schedule(): void {
    if (this.#timer !== undefined || this.#inflight !== undefined || this.#pending === undefined) return;
    this.#timer = setImmediate(() => {
      this.#timer = undefined;
      void this.#runBatch();
    });
  }

  async #runBatch(): Promise<void> {
    const batch = this.#pending;
    if (!batch) return;
    this.#pending = undefined;
    this.#inflight = batch;
    try {
      await this.#commit(batch);
    } catch (err) {
      // Not expected (#commit handles I/O errors per op), but no put may be left hanging.
      batch.failure = failed(`cannot commit to ${this.#tasksDir}`, err);
      for (const waiters of batch.waiters.values()) for (const w of waiters) w.reject(batch.failure);
    } finally {
      this.#inflight = undefined;
      batch.markSettled();
      this.#schedule();
    }
  }

  async #commit(batch: Batch): Promise<void> {
    this.#stats.batches++;
    const failures = new Map<string, StoreError>();
    const ops = [...batch.ops];
    await eachLimit(ops, WRITE_CONCURRENCY, async ([id, op]) => {
      const file = join(this.#tasksDir, `${id}.json`);
      try {
        if (op.kind === 'put') {
          await writeFileAtomic(file, op.text, { fsync: this.#fsync });
          this.#stats.writes++;
        } else {
          await unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
          this.#stats.deletes++;
        }
      } catch (err) {
        failures.set(id, failed(`cannot ${op.kind === 'put' ? 'write' : 'delete'} task ${id} in ${this.#tasksDir}`, err, id));
      }
    });
    if (this.#fsync && failures.size < ops.length) {
      try {
        // Open from load() to close(): every commit runs between them.
        await fsyncFd(this.#tasksDirFd!);
        this.#stats.dirSyncs++;
      } catch (err) {
        const error = failed(`cannot fsync ${this.#tasksDir}`, err);
        for (const [id] of ops) if (!failures.has(id)) failures.set(id, error);
      }
    }
    this.#stats.failures += failures.size;
    for (const [id, waiters] of batch.waiters) {
      const error = failures.get(id);
      for (const w of waiters) {
        if (error) w.reject(error);
        else w.resolve();
      }
    }
    batch.failure = failures.values().next().value;
  }
}
