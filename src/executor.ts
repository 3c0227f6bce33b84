import { nanoid } from 'nanoid';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { IsolatingEmitter } from './emitter.js';
import {
  AbortedError,
  BgexecError,
  InvalidArgumentError,
  NotFoundError,
  QueueFullError,
  ShuttingDownError,
  StoreError,
  toErrorInfo,
} from './errors.js';
import type { ExecutorEventName, ExecutorEvents } from './events.js';
import { MetricsTracker, type ExecutorMetrics } from './metrics.js';
import {
  followTaskOutput,
  readTaskOutput,
  type FollowOptions,
  type OutputChunk,
  type OutputHost,
  type OutputRead,
  type ReadOutputOptions,
} from './output/task-output.js';
import { recoverRecords, type RecoveryHost } from './recovery.js';
import { backoffDelay } from './scheduler/backoff.js';
import { PriorityScheduler } from './scheduler/priority.js';
import type { Scheduler, SchedulerEntry } from './scheduler/types.js';
import { MemoryStore } from './stores/memory.js';
import type { Store } from './stores/types.js';
import {
  canTransition,
  deepFreeze,
  isTerminal,
  RECORD_VERSION,
  snapshot,
  TERMINAL_STATUSES,
  type AttemptInfo,
  type TaskFilter,
  type TaskRecord,
  type TaskSpec,
  type TaskStatus,
  type TerminalStatus,
  type TransportHandle,
} from './task.js';
import { LocalTransport } from './transports/local.js';
import type { ExitInfo, PollResult, Transport } from './transports/types.js';
import { applyDefaults, MAX_TIMER_MS, normalizeSpec } from './validate-spec.js';
import { Waiters } from './waiters.js';

/** Minimal logger (console-compatible). */
export interface Logger {
  debug?(message: string, ...rest: unknown[]): void;
  info?(message: string, ...rest: unknown[]): void;
  warn?(message: string, ...rest: unknown[]): void;
  error?(message: string, ...rest: unknown[]): void;
}

/** Options of {@link BackgroundExecutor}. */
export interface ExecutorOptions {
  /** Named transports; default `{ local: new LocalTransport() }` (run dirs under the store's `runRoot`). */
  transports?: Record<string, Transport>;
  /** Default `new MemoryStore()`. */
  store?: Store;
  /** Default `new PriorityScheduler()`. Its clock drives every timer of the executor. */
  scheduler?: Scheduler;
  /** Spec fields applied under every submitted spec. */
  defaults?: Partial<Omit<TaskSpec, 'command' | 'args' | 'signal' | 'idempotencyKey'>>;
  /** Transport used when a spec names none; default `local` (or the only transport given). */
  defaultTransport?: string;
  logger?: Logger;
  /** How often running attempts are checked for output growth and output limits; default 100 ms. */
  outputPollMs?: number;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /**
   * `kill` (default): kill running attempts (recorded `cancelled`, reason `shutdown`); queued tasks
   * stay queued in the store. `detach`: kill non-detached attempts, leave detached ones running for
   * a later executor to re-attach. `drain`: accept nothing new, run everything queued, then stop.
   */
  mode?: 'kill' | 'detach' | 'drain';
  /** TERM → KILL delay for the attempts it kills (default: each task's graceMs). */
  graceMs?: number;
}

/** Options of `cleanup()`. */
export interface CleanupOptions {
  /** Only tasks that ended at least this long ago. */
  olderThanMs?: number;
  /** Keep the newest N matching tasks. */
  keep?: number;
  /** Only these terminal statuses (default: all terminal). */
  statuses?: readonly TerminalStatus[];
}

interface AttemptEnd {
  exitCode: number | null;
  signal: string | null;
  reason?: string;
  endedAt: number;
}

type KillReason = 'cancelled' | 'timeout' | 'output_limit' | 'shutdown' | 'executor_restart';

// Per running attempt: what only this process knows.
interface Live {
  transport: Transport;
  handle?: TransportHandle;
  killReason?: KillReason;
  graceMs?: number;
  killing?: Promise<void>;
  timeoutTimer?: TimerHandle;
  done: boolean;
  ended: Promise<void>;
  markEnded: () => void;
}

// Per task: in-memory-only parts of the spec.
interface Extras {
  backoffFn?: (attempt: number) => number;
  retryOnFn?: (record: TaskRecord) => boolean;
  detachSignal?: () => void;
}

const DEFAULT_GRACE_MS = 5000;
const DEFAULT_MAX_OUTPUT = 1024 ** 3;
const END_EVENTS: Record<TerminalStatus, ExecutorEventName> = {
  completed: 'task:completed',
  failed: 'task:failed',
  cancelled: 'task:cancelled',
  timed_out: 'task:timed_out',
  lost: 'task:lost',
};

/**
 * Runs shell commands in the background under a priority scheduler, through named transports,
 * remembering every task in a store. See DESIGN §4 for the contract.
 */
export class BackgroundExecutor extends IsolatingEmitter<ExecutorEvents> {
  readonly #transports: Record<string, Transport>;
  readonly #transportNames: ReadonlySet<string>;
  readonly #defaultTransport: string;
  readonly #store: Store;
  readonly #scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #defaults: ExecutorOptions['defaults'];
  readonly #logger: Logger | undefined;
  readonly #outputPollMs: number;
  readonly #records = new Map<string, TaskRecord>();
  readonly #live = new Map<string, Live>();
  readonly #extras = new Map<string, Extras>();
  readonly #byIdempotencyKey = new Map<string, string>();
  readonly #watchers = new Map<string, Set<() => void>>();
  readonly #waiters: Waiters;
  readonly #metrics: MetricsTracker;
  #idleWaiters: Array<() => void> = [];
  #state: 'new' | 'starting' | 'running' | 'draining' | 'stopping' | 'stopped' = 'new';
  #startPromise: Promise<void> | undefined;
  #shutdownPromise: Promise<void> | undefined;
  #order = 0;
  #seq = 0;
  #pendingSubmits = 0;
  #closing = false;
  #dispatchQueued = false;
  #wakeTimer: TimerHandle | undefined;
  #wakeAt: number | undefined;
  #monitorTimer: TimerHandle | undefined;
  #monitoring = false;

  constructor(options: ExecutorOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('options', 'must be an object');
    }
    this.#store = options.store ?? new MemoryStore();
    this.#scheduler = options.scheduler ?? new PriorityScheduler();
    this.#clock = this.#scheduler.clock ?? systemClock;
    this.#transports = { ...(options.transports ?? { local: new LocalTransport({ root: this.#store.runRoot }) }) };
    for (const [name, t] of Object.entries(this.#transports)) {
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new InvalidArgumentError(`transports.${name}`, 'is not a valid transport name');
      for (const m of ['start', 'wait', 'poll', 'read', 'kill', 'cleanup', 'close'] as const) {
        if (typeof (t as unknown as Record<string, unknown>)?.[m] !== 'function') {
          throw new InvalidArgumentError(`transports.${name}`, `does not implement Transport.${m}()`);
        }
      }
    }
    this.#transportNames = new Set(Object.keys(this.#transports));
    const names = [...this.#transportNames];
    this.#defaultTransport = options.defaultTransport ?? (names.length === 1 ? names[0]! : 'local');
    if (!this.#transportNames.has(this.#defaultTransport)) {
      throw new InvalidArgumentError('defaultTransport', `names no transport (known: ${names.join(', ')})`);
    }
    if (options.defaults !== undefined) {
      // Validate defaults once, as a spec, so a bad default fails here and not on every submit.
      normalizeSpec({ command: 'true', ...options.defaults }, this.#transportNames, this.#defaultTransport);
    }
    this.#defaults = options.defaults;
    this.#logger = options.logger;
    const poll = options.outputPollMs ?? 100;
    if (!Number.isFinite(poll) || poll < 1 || poll > MAX_TIMER_MS) {
      throw new InvalidArgumentError('outputPollMs', `must be a number of ms >= 1, got ${String(poll)}`);
    }
    this.#outputPollMs = poll;
    this.#waiters = new Waiters(this.#clock);
    this.#metrics = new MetricsTracker(this.#clock.now());
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the store, recovers unfinished tasks and starts dispatching. Idempotent. */
  start(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return Promise.reject(new ShuttingDownError());
    this.#startPromise ??= this.#doStart();
    return this.#startPromise;
  }

  async #doStart(): Promise<void> {
    this.#state = 'starting';
    const { records, problems } = await this.#store.load();
    for (const p of problems) this.#reportError(p.error);
    await recoverRecords(this.#recoveryHost(), records);
    if (this.#state === 'starting') this.#state = 'running';
    this.#scheduleDispatch();
    this.#checkIdle();
  }

  /**
   * Stops the executor. See {@link ShutdownOptions.mode}. Pending `wait()` calls on unfinished
   * tasks reject with `SHUTTING_DOWN`. Idempotent.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const mode = options.mode ?? 'kill';
    if (mode !== 'kill' && mode !== 'detach' && mode !== 'drain') {
      return Promise.reject(new InvalidArgumentError('mode', `must be kill, detach or drain, got ${String(mode)}`));
    }
    if (options.graceMs !== undefined && (!Number.isFinite(options.graceMs) || options.graceMs < 0)) {
      return Promise.reject(new InvalidArgumentError('graceMs', 'must be a number >= 0'));
    }
    this.#closing = true;
    this.#shutdownPromise ??= this.#doShutdown(mode, options.graceMs);
    return this.#shutdownPromise;
  }

  async #doShutdown(mode: 'kill' | 'detach' | 'drain', graceMs: number | undefined): Promise<void> {
    if (this.#startPromise) await this.#startPromise.catch(() => undefined);
    if (mode === 'drain' && this.#state === 'running') {
      this.#state = 'draining';
      await this.onIdle();
    }
    this.#state = 'stopping';
    this.#clearWake();
    const kills: Promise<void>[] = [];
    for (const [id, live] of this.#live) {
      const record = this.#records.get(id);
      if (!record) continue;
      if (mode === 'detach' && record.spec.detached) continue;
      kills.push(this.#kill(record, live, 'shutdown', graceMs).then(() => live.ended));
    }
    await Promise.all(kills);
    this.#stopMonitor();
    this.#waiters.rejectAll(() => new ShuttingDownError('executor shut down before the task settled'));
    for (const extras of this.#extras.values()) extras.detachSignal?.();
    await this.#store.flush().catch((err: unknown) => this.#reportError(err));
    await this.#store.close().catch((err: unknown) => this.#reportError(err));
    await Promise.all(Object.values(this.#transports).map((t) => t.close().catch((err: unknown) => this.#reportError(err))));
    this.#state = 'stopped';
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  // ---------------------------------------------------------------- submit & query

  /** Validates and queues a task. Resolves once it is durably queued. */
  async submit(spec: TaskSpec): Promise<TaskRecord> {
    const normalized = normalizeSpec(applyDefaults(spec, this.#defaults), this.#transportNames, this.#defaultTransport);
    if (normalized.signal?.aborted) throw new AbortedError('signal already aborted; task not submitted');
    if (this.#closing) throw new ShuttingDownError();
    await this.start();
    if (this.#closing || this.#state !== 'running') throw new ShuttingDownError();
    const key = normalized.stored.idempotencyKey;
    if (key !== undefined) {
      const existing = this.#byIdempotencyKey.get(key);
      const rec = existing === undefined ? undefined : this.#records.get(existing);
      if (rec) return snapshot(rec);
    }
    const max = (this.#scheduler as { maxQueueSize?: number }).maxQueueSize ?? Infinity;
    const c = this.#scheduler.counts();
    if (c.queued + c.delayed + this.#pendingSubmits >= max) throw new QueueFullError(max);

    let id = nanoid();
    while (this.#records.has(id)) id = nanoid();
    const now = this.#clock.now();
    const delay = normalized.stored.delayMs ?? 0;
    const record: TaskRecord = {
      version: RECORD_VERSION,
      id,
      spec: normalized.stored,
      status: delay > 0 ? 'waiting' : 'queued',
      attempt: 0,
      order: ++this.#order,
      createdAt: now,
      ...(delay > 0 ? { runAt: now + delay } : {}),
      stdoutBytes: 0,
      stderrBytes: 0,
      history: [],
      acked: false,
    };
    if (key !== undefined) this.#byIdempotencyKey.set(key, id);
    this.#records.set(id, record);
    this.#pendingSubmits++;
    try {
      await this.#store.put(record);
    } catch (err) {
      this.#records.delete(id);
      if (key !== undefined) this.#byIdempotencyKey.delete(key);
      throw err instanceof BgexecError ? err : new StoreError('STORE_FAILED', `could not store task: ${String(err)}`, { cause: err, taskId: id });
    } finally {
      this.#pendingSubmits--;
    }
    this.#metrics.submitted++;
    this.#metrics.move(undefined, record.status);
    const extras: Extras = {};
    if (normalized.backoffFn) extras.backoffFn = normalized.backoffFn;
    if (normalized.retryOnFn) extras.retryOnFn = normalized.retryOnFn;
    if (normalized.signal) {
      const signal = normalized.signal;
      const onAbort = (): void => void this.cancel(id).catch((e: unknown) => this.#reportError(e, id));
      signal.addEventListener('abort', onAbort, { once: true });
      extras.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.#extras.set(id, extras);
    this.#scheduler.add(this.#entryOf(record), { force: true });
    this.#emitTask('task:queued', record);
    if (this.#state === 'running' || this.#state === 'draining') this.#scheduleDispatch();
    return snapshot(record);
  }

  /** Snapshot of a task, or undefined if unknown. */
  get(id: string): TaskRecord | undefined {
    const r = this.#records.get(id);
    return r ? snapshot(r) : undefined;
  }

  /** Snapshots of tasks in submission order, filtered. */
  list(filter: TaskFilter = {}): TaskRecord[] {
    const statuses = filter.status === undefined ? undefined : new Set(Array.isArray(filter.status) ? filter.status : [filter.status]);
    const offset = filter.offset ?? 0;
    const limit = filter.limit ?? Infinity;
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError('offset', 'must be an integer >= 0');
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) throw new InvalidArgumentError('limit', 'must be an integer >= 0');
    const out: TaskRecord[] = [];
    let skipped = 0;
    for (const r of this.#records.values()) {
      if (statuses && !statuses.has(r.status)) continue;
      if (filter.group !== undefined && r.spec.group !== filter.group) continue;
      if (filter.session !== undefined && r.spec.session !== filter.session) continue;
      if (filter.transport !== undefined && r.spec.transport !== filter.transport) continue;
      if (filter.tags && !filter.tags.every((t) => r.spec.tags?.includes(t))) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (out.length >= limit) break;
      out.push(snapshot(r));
    }
    return out;
  }

  /** Resolves with the terminal record; a `timeoutMs` rejects with WAIT_TIMEOUT and the task goes on. */
  async wait(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskRecord> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS)) {
      throw new InvalidArgumentError('timeoutMs', `must be a number of ms in [0, ${MAX_TIMER_MS}]`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal', 'must be an AbortSignal');
    const record = this.#mustGet(id);
    if (isTerminal(record.status)) return snapshot(record);
    if (this.#state === 'stopped') throw new ShuttingDownError('executor is stopped');
    return this.#waiters.wait(id, { timeoutMs, signal });
  }

  /**
   * Cancels a task: a queued one never starts; a running one has its whole process tree killed
   * (TERM, then KILL after `graceMs`). Never retried afterwards. Resolves with the terminal record.
   */
  async cancel(id: string, options: { graceMs?: number } = {}): Promise<TaskRecord> {
    const { graceMs } = options;
    if (graceMs !== undefined && (!Number.isFinite(graceMs) || graceMs < 0 || graceMs > MAX_TIMER_MS)) {
      throw new InvalidArgumentError('graceMs', `must be a number of ms in [0, ${MAX_TIMER_MS}]`);
    }
    const record = this.#mustGet(id);
    if (isTerminal(record.status)) return snapshot(record);
    const live = this.#live.get(id);
    if (live) {
      await this.#kill(record, live, 'cancelled', graceMs);
      await live.ended;
      return snapshot(record);
    }
    this.#scheduler.remove(id);
    this.#settle(record, 'cancelled', { exitCode: null, signal: null, reason: 'cancelled', endedAt: this.#clock.now() });
    return snapshot(record);
  }

  /** Reads a slice of a task's output by byte cursor, or its last/first lines. */
  readOutput(id: string, options: ReadOutputOptions = {}): Promise<OutputRead> {
    return readTaskOutput(this.#outputHost, id, options);
  }

  /** Async iterator over a task's output as it is written, until the task settles. */
  follow(id: string, options: FollowOptions = {}): AsyncIterable<OutputChunk> {
    this.#mustGet(id);
    return followTaskOutput(this.#outputHost, id, options);
  }

  /** Terminal tasks whose completion has not been acknowledged, oldest first. */
  completions(session?: string): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const r of this.#records.values()) {
      if (!r.acked && isTerminal(r.status) && (session === undefined || r.spec.session === session)) out.push(snapshot(r));
    }
    return out.sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
  }

  /** Marks completions delivered (persisted with a durable store). Returns how many changed. */
  ack(ids: string | readonly string[]): number {
    let n = 0;
    for (const id of typeof ids === 'string' ? [ids] : ids) {
      const r = this.#records.get(id);
      if (!r || r.acked || !isTerminal(r.status)) continue;
      r.acked = true;
      this.#persist(r);
      n++;
    }
    return n;
  }

  /** Stops admitting tasks, globally or for one group. Running tasks go on. */
  pause(group?: string): void {
    this.#scheduler.pause(group);
  }

  /** Resumes admitting tasks, globally or for one group. */
  resume(group?: string): void {
    this.#scheduler.resume(group);
    this.#scheduleDispatch();
  }

  /** Resolves when nothing is queued, waiting or running (at once if that is already so). */
  onIdle(): Promise<void> {
    if (this.#isIdle() || this.#state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Counts and rates; O(1). */
  metrics(): ExecutorMetrics {
    return this.#metrics.snapshot(this.#clock.now());
  }

  /** Forgets terminal tasks and removes their output files. Returns how many were removed. */
  async cleanup(options: CleanupOptions = {}): Promise<number> {
    const { olderThanMs = 0, keep = 0 } = options;
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new InvalidArgumentError('olderThanMs', 'must be a number >= 0');
    if (!Number.isInteger(keep) || keep < 0) throw new InvalidArgumentError('keep', 'must be an integer >= 0');
    const statuses = new Set<TaskStatus>(options.statuses ?? TERMINAL_STATUSES);
    for (const s of statuses) {
      if (!isTerminal(s)) throw new InvalidArgumentError('statuses', `${String(s)} is not a terminal status`);
    }
    const cutoff = this.#clock.now() - olderThanMs;
    const candidates = [...this.#records.values()]
      .filter((r) => statuses.has(r.status) && (r.endedAt ?? 0) <= cutoff)
      .sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))
      .slice(keep);
    for (const r of candidates) {
      const transport = this.#transports[r.spec.transport ?? this.#defaultTransport];
      const handles = new Map<number, TransportHandle>();
      for (const h of r.history) if (h.handle) handles.set(h.attempt, h.handle);
      if (r.handle) handles.set(r.attempt, r.handle);
      for (const h of handles.values()) await transport?.cleanup(h).catch((err: unknown) => this.#reportError(err, r.id));
      await this.#store.delete(r.id);
      this.#records.delete(r.id);
      this.#extras.delete(r.id);
      this.#watchers.delete(r.id);
      this.#metrics.move(r.status, undefined);
      if (r.spec.idempotencyKey !== undefined && this.#byIdempotencyKey.get(r.spec.idempotencyKey) === r.id) {
        this.#byIdempotencyKey.delete(r.spec.idempotencyKey);
      }
    }
    return candidates.length;
  }

  // ---------------------------------------------------------------- dispatch

  #entryOf(record: TaskRecord): SchedulerEntry {
    const entry: SchedulerEntry = { id: record.id, priority: record.spec.priority ?? 0, order: record.order };
    if (record.spec.group !== undefined) entry.group = record.spec.group;
    if (record.runAt !== undefined) entry.runAt = record.runAt;
    return entry;
  }

  #scheduleDispatch(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#state !== 'running' && this.#state !== 'draining') return;
    for (let entry = this.#scheduler.next(); entry; entry = this.#scheduler.next()) this.#startAttempt(entry.id);
    this.#armWake();
  }

  #armWake(): void {
    const at = this.#scheduler.nextWakeAt();
    if (at === this.#wakeAt) return;
    this.#clearWake();
    if (at === undefined) return;
    this.#wakeAt = at;
    const delay = Math.min(Math.max(0, at - this.#clock.now()), MAX_TIMER_MS);
    this.#wakeTimer = this.#clock.setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeAt = undefined;
      this.#promoteDueWaiting();
      this.#dispatch();
    }, delay);
  }

  #clearWake(): void {
    if (this.#wakeTimer !== undefined) this.#clock.clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#wakeAt = undefined;
  }

  // A task whose delay or backoff has passed is `queued` again, even if caps keep it from starting.
  #promoteDueWaiting(): void {
    if (this.#metrics.counts.waiting === 0) return;
    const now = this.#clock.now();
    for (const r of this.#records.values()) {
      if (r.status === 'waiting' && (r.runAt ?? 0) <= now) {
        this.#setStatus(r, 'queued');
        delete r.runAt;
        this.#persist(r);
      }
    }
  }

  #startAttempt(id: string): void {
    const record = this.#records.get(id);
    if (!record || (record.status !== 'queued' && record.status !== 'waiting')) {
      this.#scheduler.release(id);
      return;
    }
    const transport = this.#transports[record.spec.transport ?? this.#defaultTransport];
    if (!transport) {
      this.#scheduler.release(id);
      this.#settle(record, 'failed', { exitCode: null, signal: null, reason: 'unknown_transport', endedAt: this.#clock.now() });
      return;
    }
    record.attempt += 1;
    if (record.status === 'waiting') this.#setStatus(record, 'queued');
    this.#setStatus(record, 'running');
    record.startedAt = this.#clock.now();
    delete record.runAt;
    delete record.endedAt;
    delete record.exitCode;
    delete record.signal;
    delete record.reason;
    delete record.error;
    delete record.handle;
    record.stdoutBytes = 0;
    record.stderrBytes = 0;
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const live: Live = { transport, done: false, ended, markEnded };
    this.#live.set(id, live);
    this.#persist(record);
    const { spec } = record;
    transport
      .start({
        taskId: id,
        attempt: record.attempt,
        command: spec.command,
        ...(spec.args ? { args: spec.args } : {}),
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
        ...(spec.env ? { env: spec.env } : {}),
        detached: spec.detached ?? false,
      })
      .then(
        (handle) => this.#onStarted(record, live, handle),
        (err: unknown) => {
          const error = err instanceof BgexecError ? err : new BgexecError('SPAWN_FAILED', String(err), { cause: err, taskId: id });
          void this.#onAttemptEnd(record, live, { state: 'exited', exitCode: null, signal: null, reason: 'spawn_failed', endedAt: this.#clock.now() }, error);
        },
      );
  }

  #onStarted(record: TaskRecord, live: Live, handle: TransportHandle): void {
    live.handle = deepFreeze({ ...handle });
    record.handle = live.handle;
    this.#persist(record);
    this.#emitTask('task:started', record);
    this.#notify(record.id);
    this.#attach(record, live);
  }

  /** Watches a started (or re-attached) attempt: timeout, output monitor, end. */
  #attach(record: TaskRecord, live: Live): void {
    const handle = live.handle!;
    if (live.killReason) {
      void this.#kill(record, live, live.killReason, live.graceMs);
    } else if (record.spec.timeoutMs !== undefined) {
      const elapsed = this.#clock.now() - (record.startedAt ?? this.#clock.now());
      live.timeoutTimer = this.#clock.setTimeout(
        () => void this.#kill(record, live, 'timeout'),
        Math.max(0, record.spec.timeoutMs - elapsed),
      );
    }
    this.#startMonitor();
    live.transport.wait(handle).then(
      (exit) => this.#onAttemptEnd(record, live, exit),
      (err: unknown) =>
        this.#onAttemptEnd(record, live, { state: 'lost', exitCode: null, signal: null, reason: 'transport_error', endedAt: this.#clock.now() }, err),
    );
  }

  #kill(record: TaskRecord, live: Live, reason: KillReason, graceMs?: number): Promise<void> {
    if (live.done) return Promise.resolve();
    live.killReason ??= reason;
    if (graceMs !== undefined) live.graceMs ??= graceMs;
    if (!live.handle) return live.ended; // start in flight: #attach kills once the pid is known
    live.killing ??= live.transport
      .kill(live.handle, { graceMs: live.graceMs ?? record.spec.graceMs ?? DEFAULT_GRACE_MS })
      .catch((err: unknown) => this.#reportError(err, record.id));
    return live.killing;
  }

  async #onAttemptEnd(record: TaskRecord, live: Live, exit: ExitInfo, error?: unknown): Promise<void> {
    if (live.done) return;
    live.done = true;
    if (live.timeoutTimer !== undefined) this.#clock.clearTimeout(live.timeoutTimer);
    if (this.#state !== 'stopped' && live.handle) {
      const sizes = await live.transport.poll(live.handle).catch(() => undefined);
      if (sizes) this.#applySizes(record, sizes);
    }
    // Free the slot only now, so a group's next task never starts before this one has settled.
    this.#scheduler.release(record.id);
    this.#scheduleDispatch();
    this.#live.delete(record.id);
    if (this.#state === 'stopped') {
      live.markEnded();
      return;
    }
    const endedAt = exit.endedAt;
    let status: TerminalStatus;
    let reason = exit.reason;
    switch (live.killReason) {
      case 'cancelled':
      case 'shutdown':
      case 'executor_restart':
        status = 'cancelled';
        reason = live.killReason;
        break;
      case 'timeout':
        status = 'timed_out';
        reason = 'timeout';
        break;
      case 'output_limit':
        status = 'failed';
        reason = 'output_limit';
        break;
      default:
        status = exit.state === 'lost' ? 'lost' : exit.exitCode === 0 && !error ? 'completed' : 'failed';
    }
    const errorInfo = error === undefined ? undefined : deepFreeze(toErrorInfo(error, 'SPAWN_FAILED'));
    const info: AttemptInfo = {
      attempt: record.attempt,
      status,
      startedAt: record.startedAt ?? endedAt,
      endedAt,
      exitCode: exit.exitCode,
      signal: exit.signal,
      ...(reason !== undefined ? { reason } : {}),
      ...(errorInfo ? { error: errorInfo } : {}),
      ...(live.handle ? { handle: live.handle } : {}),
    };
    record.history.push(deepFreeze(info));
    this.#metrics.attemptEnded(endedAt - (record.startedAt ?? endedAt));
    const end = { exitCode: exit.exitCode, signal: exit.signal, endedAt, ...(reason !== undefined ? { reason } : {}) };
    const delay = this.#retryDelay(record, status, live.killReason);
    if (delay !== undefined) this.#retry(record, delay, end, errorInfo);
    else this.#settle(record, status, end, errorInfo);
    live.markEnded();
  }

  #retryDelay(record: TaskRecord, status: TerminalStatus, killReason: KillReason | undefined): number | undefined {
    const policy = record.spec.retry;
    if (!policy || record.attempt >= policy.attempts) return undefined;
    if (this.#state === 'stopping' || this.#state === 'stopped') return undefined;
    if (killReason === 'cancelled' || killReason === 'shutdown') return undefined;
    const extras = this.#extras.get(record.id);
    let allowed: boolean;
    if (killReason === 'executor_restart') allowed = true;
    else if (status === 'completed' || status === 'cancelled') allowed = false;
    else if (extras?.retryOnFn) {
      try {
        allowed = extras.retryOnFn(snapshot({ ...record, status }));
      } catch (err) {
        this.#reportError(err, record.id);
        allowed = false;
      }
    } else allowed = (policy.retryOn ?? ['failed']).includes(status);
    if (!allowed) return undefined;
    try {
      return extras?.backoffFn
        ? Math.max(0, Number(extras.backoffFn(record.attempt)) || 0)
        : backoffDelay(policy.backoff, record.attempt);
    } catch (err) {
      this.#reportError(err, record.id);
      return 0;
    }
  }

  #retry(record: TaskRecord, delayMs: number, end: AttemptEnd, error?: TaskRecord['error']): void {
    const now = this.#clock.now();
    record.exitCode = end.exitCode;
    record.signal = end.signal;
    if (end.reason !== undefined) record.reason = end.reason;
    if (error) record.error = error;
    record.order = ++this.#order;
    if (delayMs > 0) record.runAt = now + delayMs;
    this.#setStatus(record, delayMs > 0 ? 'waiting' : 'queued');
    this.#metrics.retried++;
    this.#scheduler.add(this.#entryOf(record), { force: true });
    this.#persist(record);
    if (this.listenerCount('task:retrying') > 0) {
      this.#deliverTask('task:retrying', record, { ...end, nextAttempt: record.attempt + 1, delayMs });
    }
    this.#notify(record.id);
    this.#scheduleDispatch();
  }

  #settle(record: TaskRecord, status: TerminalStatus, end: AttemptEnd, error?: TaskRecord['error']): void {
    this.#setStatus(record, status);
    record.endedAt = end.endedAt;
    record.exitCode = end.exitCode;
    record.signal = end.signal;
    if (end.reason !== undefined) record.reason = end.reason;
    if (error) record.error = error;
    delete record.runAt;
    this.#persist(record);
    this.#metrics.settledAs(status, end.endedAt);
    const extras = this.#extras.get(record.id);
    extras?.detachSignal?.();
    if (extras) {
      delete extras.detachSignal;
    }
    const payload = { exitCode: end.exitCode, signal: end.signal, ...(end.reason !== undefined ? { reason: end.reason } : {}) };
    this.#deliverTask(END_EVENTS[status], record, payload);
    this.#deliverTask('task:settled', record, payload);
    this.#waiters.settle(record.id, () => snapshot(record));
    this.#notify(record.id);
    this.#checkIdle();
  }

  #setStatus(record: TaskRecord, to: TaskStatus): void {
    const from = record.status;
    if (from === to) return;
    if (!canTransition(from, to)) {
      throw new BgexecError('INVALID_ARGUMENT', `illegal transition ${from} → ${to} for task ${record.id}`, { taskId: record.id });
    }
    record.status = to;
    this.#metrics.move(from, to);
  }

  #isIdle(): boolean {
    const c = this.#metrics.counts;
    return c.queued + c.waiting + c.running === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters.splice(0);
    for (const resolve of waiters) resolve();
    if (this.listenerCount('idle') > 0) {
      this.deliver('idle', { seq: ++this.#seq, at: this.#clock.now() }, (err) => this.#listenerFailed('idle', err));
    }
  }

  // ---------------------------------------------------------------- output monitor

  #startMonitor(): void {
    if (this.#monitorTimer !== undefined || this.#monitoring || this.#live.size === 0) return;
    if (this.#state === 'stopped') return;
    this.#monitorTimer = this.#clock.setTimeout(() => {
      this.#monitorTimer = undefined;
      void this.#monitorTick();
    }, this.#outputPollMs);
  }

  #stopMonitor(): void {
    if (this.#monitorTimer !== undefined) this.#clock.clearTimeout(this.#monitorTimer);
    this.#monitorTimer = undefined;
  }

  async #monitorTick(): Promise<void> {
    this.#monitoring = true;
    try {
      const polls: Promise<void>[] = [];
      for (const [id, live] of this.#live) {
        const record = this.#records.get(id);
        if (!record || !live.handle || live.done) continue;
        polls.push(
          live.transport.poll(live.handle).then(
            (p) => {
              if (!live.done) this.#applySizes(record, p, live);
            },
            () => undefined,
          ),
        );
      }
      await Promise.all(polls);
    } finally {
      this.#monitoring = false;
    }
    this.#startMonitor();
  }

  #applySizes(record: TaskRecord, p: PollResult, live?: Live): void {
    let grew = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      const total = stream === 'stdout' ? p.stdoutBytes : p.stderrBytes;
      const before = stream === 'stdout' ? record.stdoutBytes : record.stderrBytes;
      if (total <= before) continue;
      grew = true;
      if (stream === 'stdout') record.stdoutBytes = total;
      else record.stderrBytes = total;
      if (this.listenerCount('task:output') > 0) {
        this.#deliverTask('task:output', record, { stream, bytes: total - before, totalBytes: total });
      }
    }
    if (grew) this.#notify(record.id);
    const limit = record.spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    if (live && (record.stdoutBytes > limit || record.stderrBytes > limit)) void this.#kill(record, live, 'output_limit');
  }

  // ---------------------------------------------------------------- events, errors, persistence

  #emitTask(event: ExecutorEventName, record: TaskRecord): void {
    if (this.listenerCount(event) === 0) return;
    this.#deliverTask(event, record, {});
  }

  #deliverTask(event: ExecutorEventName, record: TaskRecord, extra: object): void {
    if (this.listenerCount(event) === 0) return;
    const payload = { taskId: record.id, attempt: record.attempt, seq: ++this.#seq, at: this.#clock.now(), record: snapshot(record), ...extra };
    this.deliver(event, payload, (err) => this.#listenerFailed(event, err, record.id));
  }

  #listenerFailed(event: string, err: unknown, taskId?: string): void {
    const error = new BgexecError('LISTENER_FAILED', `a listener of ${event} threw: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      ...(taskId !== undefined ? { taskId } : {}),
    });
    if (event === 'error') {
      this.#logger?.error?.(error.message, err);
      return;
    }
    this.#reportError(error, taskId);
  }

  #reportError(err: unknown, taskId?: string): void {
    const error = err instanceof BgexecError ? err : new BgexecError('TRANSPORT_FAILED', err instanceof Error ? err.message : String(err), { cause: err, ...(taskId !== undefined ? { taskId } : {}) });
    if (this.listenerCount('error') > 0) {
      const payload = { seq: ++this.#seq, at: this.#clock.now(), error, ...(taskId !== undefined ? { taskId } : {}) };
      this.deliver('error', payload, (e) => this.#listenerFailed('error', e, taskId));
    } else if (this.#logger?.warn) {
      this.#logger.warn(`bgexec: ${error.code}: ${error.message}`);
    } else {
      process.emitWarning(`${error.code}: ${error.message}`, { code: `BGEXEC_${error.code}` });
    }
  }

  #persist(record: TaskRecord): void {
    this.#store.put(record).catch((err: unknown) => {
      this.#reportError(
        err instanceof BgexecError ? err : new StoreError('STORE_FAILED', `could not persist task ${record.id}: ${String(err)}`, { cause: err, taskId: record.id }),
        record.id,
      );
    });
  }

  #notify(id: string): void {
    const set = this.#watchers.get(id);
    if (!set) return;
    this.#watchers.delete(id);
    for (const fn of set) fn();
  }

  #mustGet(id: string): TaskRecord {
    if (typeof id !== 'string') throw new InvalidArgumentError('id', `must be a string, got ${typeof id}`);
    const r = this.#records.get(id);
    if (!r) throw new NotFoundError(id);
    return r;
  }

  readonly #outputHost: OutputHost = {
    record: (id) => this.#mustGet(id),
    transportOf: (record) => {
      const t = this.#transports[record.spec.transport ?? this.#defaultTransport];
      if (!t) throw new BgexecError('TRANSPORT_FAILED', `transport ${String(record.spec.transport)} is not configured`, { taskId: record.id });
      return t;
    },
    nextChange: (id) =>
      new Promise<void>((resolve) => {
        let set = this.#watchers.get(id);
        if (!set) this.#watchers.set(id, (set = new Set()));
        set.add(resolve);
        // Keep the monitor running while someone follows output.
        this.#startMonitor();
      }),
  };

  #recoveryHost(): RecoveryHost {
    return {
      clock: this.#clock,
      transports: this.#transports,
      defaultTransport: this.#defaultTransport,
      adopt: (record) => {
        this.#records.set(record.id, record);
        this.#order = Math.max(this.#order, record.order);
        this.#metrics.move(undefined, record.status);
        if (record.spec.idempotencyKey !== undefined) this.#byIdempotencyKey.set(record.spec.idempotencyKey, record.id);
        this.#extras.set(record.id, {});
      },
      enqueue: (record) => this.#scheduler.add(this.#entryOf(record), { force: true }),
      reattach: (record, transport, handle) => {
        let markEnded!: () => void;
        const ended = new Promise<void>((resolve) => (markEnded = resolve));
        const live: Live = { transport, handle, done: false, ended, markEnded };
        this.#live.set(record.id, live);
        const entry = { id: record.id, ...(record.spec.group !== undefined ? { group: record.spec.group } : {}) };
        this.#scheduler.markRunning(entry);
        return {
          watch: () => this.#attach(record, live),
          kill: (reason: KillReason) => {
            live.killReason = reason;
          },
        };
      },
      finish: (record, exit, error) => {
        // An attempt that ended while no executor watched: run it through the normal end path.
        let markEnded!: () => void;
        const ended = new Promise<void>((resolve) => (markEnded = resolve));
        const transport = this.#transports[record.spec.transport ?? this.#defaultTransport]!;
        const live: Live = { transport, ...(record.handle ? { handle: record.handle } : {}), done: false, ended, markEnded };
        this.#live.set(record.id, live);
        this.#scheduler.markRunning({ id: record.id, ...(record.spec.group !== undefined ? { group: record.spec.group } : {}) });
        return this.#onAttemptEnd(record, live, exit, error);
      },
      persist: (record) => this.#persist(record),
      reportError: (err, taskId) => this.#reportError(err, taskId),
    };
  }
}
