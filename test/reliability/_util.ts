// Shared by the reliability battery: temp dirs with cleanup, fd counting, a transport wrapper
// that counts attempts in flight (an observer independent of the executor's events), and
// helpers that pull the `code` out of whatever a call throws or rejects with.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BgexecError } from '../../src/errors.js';
import type { TransportHandle } from '../../src/task.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from '../../src/transports/types.js';

const cleanups: Array<() => Promise<void> | void> = [];

/** Registers work for {@link runCleanups} (newest first). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Runs every registered cleanup; call from `afterEach`. */
export async function runCleanups(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** A private temp directory removed at cleanup. */
export function tempDir(prefix = 'bgexec-rel-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Open file descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The error a call throws or a promise rejects with, asserted to be a BgexecError. */
export async function caught(fn: () => unknown): Promise<BgexecError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'the call was expected to fail').toBeDefined();
  expect(err).toBeInstanceOf(BgexecError);
  return err as BgexecError;
}

/** Attempts in flight as seen by one or more {@link CountingTransport}s, with their peaks. */
export class Tally {
  total = 0;
  maxTotal = 0;
  starts = 0;
  readonly now = new Map<string, number>();
  readonly max = new Map<string, number>();

  begin(key: string | undefined): void {
    this.starts++;
    this.maxTotal = Math.max(this.maxTotal, ++this.total);
    if (key === undefined) return;
    const n = (this.now.get(key) ?? 0) + 1;
    this.now.set(key, n);
    this.max.set(key, Math.max(this.max.get(key) ?? 0, n));
  }

  end(key: string | undefined): void {
    this.total--;
    if (key !== undefined) this.now.set(key, (this.now.get(key) ?? 1) - 1);
  }
}

/**
 * Wraps a transport and counts attempts from the moment `start()` is called until their end is
 * known (`wait()` resolved, or the start failed): the transport's own view of what runs, which
 * the executor's slot accounting must bound. `keyOf` sorts attempts into buckets (e.g. groups);
 * several wrappers may share one {@link Tally}.
 */
export class CountingTransport implements Transport {
  readonly kind: string;
  readonly tally: Tally;
  readonly #inner: Transport;
  readonly #keyOf: (req: LaunchRequest) => string | undefined;
  readonly #live = new Map<string, string | undefined>();

  constructor(inner: Transport, options: { tally?: Tally; keyOf?: (req: LaunchRequest) => string | undefined } = {}) {
    this.#inner = inner;
    this.kind = inner.kind;
    this.tally = options.tally ?? new Tally();
    this.#keyOf = options.keyOf ?? (() => undefined);
  }

  async start(req: LaunchRequest): Promise<TransportHandle> {
    const id = `${req.taskId}#${req.attempt}`;
    const key = this.#keyOf(req);
    this.#live.set(id, key);
    this.tally.begin(key);
    try {
      return await this.#inner.start(req);
    } catch (err) {
      this.#end(id);
      throw err;
    }
  }

  async wait(handle: TransportHandle): Promise<ExitInfo> {
    const exit = await this.#inner.wait(handle);
    this.#end(`${handle.taskId}#${handle.attempt}`);
    return exit;
  }

  // Once per attempt, however often wait() is called for it.
  #end(id: string): void {
    if (!this.#live.has(id)) return;
    this.tally.end(this.#live.get(id));
    this.#live.delete(id);
  }

  poll(handle: TransportHandle): Promise<PollResult> {
    return this.#inner.poll(handle);
  }
  read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    return this.#inner.read(handle, stream, offset, length);
  }
  kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    return this.#inner.kill(handle, options);
  }
  cleanup(handle: TransportHandle): Promise<void> {
    return this.#inner.cleanup(handle);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Whether `promise` settles within `ms` (it is left to run either way). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true as const, () => true as const);
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

/** Every file under `dir`, recursively (symlinks are not followed). */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(path));
    else out.push(path);
  }
  return out;
}
