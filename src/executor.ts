import { random, urlAlphabet } from 'nanoid';
import { errorMessage, isInstance, msArg, optionsArg, readArgs, signalArg, stringArg, stringListArg } from './args.js';
import type { Clock } from './clock.js';
import { trace, tracing } from './debug.js';
import { IsolatingEmitter } from './emitter.js';
import {
  abortRejection,
  BgexecError,
  InvalidSpecError,
  NotFoundError,
  QueueFullError,
  ShuttingDownError,
  StoreError,
} from './errors.js';
import type { ExecutorEventName, ExecutorEvents } from './events.js';
import {
  resolveOptions,
  type CleanupOptions,
  type ExecutorOptions,
  type ResolvedOptions,
  type ShutdownOptions,
} from './executor-options.js';
import { checkFollowOptions, cleanupCandidates, listRecords, unackedCompletions } from './executor-queries.js';
import { cancelTask, removeTask, retryTaskNow, setTaskPriority } from './executor-steer.js';
import { checkInputSupport, closeStdin, writeStdin } from './executor-stdin.js';
import { openControl } from './control/index.js';
import type { ControlListener } from './control/listener.js';
import { shutdownArgs, ShutdownSequence, type ShutdownMode } from './executor-shutdown.js';
import type { ExecutorMetrics } from './metrics.js';
import {
  followTaskOutput,
  readTaskOutput,
  type FollowOptions,
  type OutputChunk,
  type OutputHost,
  type OutputRead,
  type ReadOutputOptions,
} from './output/task-output.js';
import { recoverRecords } from './recovery.js';
import type { Extras } from './runner/live.js';
import { createRecoveryHost, reportLostFunctions } from './runner/recovery-host.js';
import { TaskRunner, type RunnerSink } from './runner/task-runner.js';
import type { StoreLoadResult } from './stores/types.js';
import { isTerminal, RECORD_VERSION, snapshot, type TaskFilter, type TaskRecord, type TaskSpec, type TransportHandle } from './task.js';
import { applyDefaults, MAX_TIMER_MS, normalizeSpec } from './validate-spec.js';

/**
 * Runs shell commands in the background under a priority scheduler, through named transports,
 * remembering every task in a store. Events are typed (see {@link ExecutorEvents}); a listener
 * that throws is reported on `error` and never changes a task's fate.
 *
 * Every method checks its arguments before it changes anything: a malformed one fails with
 * `INVALID_ARGUMENT` (`INVALID_SPEC` for a task spec); a method returning a promise then
 * rejects and never throws synchronously.
 *
 * Disposable: `await using ex = new BackgroundExecutor()` shuts it down (mode `kill`) when the
 * block ends.
 */
export class BackgroundExecutor extends IsolatingEmitter<ExecutorEvents> implements AsyncDisposable {
  readonly #o: ResolvedOptions;
  readonly #runner: TaskRunner;
  readonly #sink: RunnerSink;
  readonly #byIdempotencyKey = new Map<string, string>();
  #seq = 0;
  #pendingSubmits = 0;
  #closing = false;
  #startPromise: Promise<void> | undefined;
  #control: ControlListener | undefined;
  readonly #shutdown: ShutdownSequence;

  constructor(options: ExecutorOptions = {}) {
    super();
    this.#o = readArgs('options', () => resolveOptions(options));
    this.#sink = {
      task: (event, record, extra) => this.#deliverTask(event, record, extra),
      listens: (event) => this.listenerCount(event) > 0,
      error: (err, taskId) => this.#reportError(err, taskId),
      idle: () => {
        if (this.listenerCount('idle') > 0) {
          this.deliver('idle', { seq: ++this.#seq, at: this.#o.clock.now() }, (err) => this.#listenerFailed('idle', err));
        }
      },
    };
    this.#runner = new TaskRunner(this.#o, this.#sink);
    this.#shutdown = new ShutdownSequence({
      runner: this.#runner,
      options: this.#o,
      started: () => this.#startPromise,
      reportError: (err) => this.#reportError(err),
    });
  }

  /** The clock driving every timer of this executor (the scheduler's). */
  get clock(): Clock {
    return this.#o.clock;
  }

  /** Names of the configured transports (valid values of `TaskSpec.transport`). */
  get transportNames(): string[] {
    return [...this.#o.transportNames];
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the store, recovers unfinished tasks and starts dispatching. Idempotent. */
  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ShuttingDownError());
    this.#startPromise ??= this.#doStart();
    return this.#startPromise;
  }

  async #doStart(): Promise<void> {
    const runner = this.#runner;
    runner.state = 'starting';
    let loaded: StoreLoadResult;
    try {
      loaded = await this.#o.store.load();
    } catch (err) {
      // Nothing was taken over yet (e.g. STORE_LOCKED): a later start() may try again.
      runner.state = 'new';
      this.#startPromise = undefined;
      throw err;
    }
    const { records, problems } = loaded;
    for (const p of problems) this.#reportError(p.error, p.error.taskId);
    const host = createRecoveryHost(runner, this.#o, this.#sink, (record) => {
      if (record.spec.idempotencyKey !== undefined) this.#byIdempotencyKey.set(record.spec.idempotencyKey, record.id);
    });
    await recoverRecords(host, records);
    reportLostFunctions(records, (err, taskId) => this.#reportError(err, taskId));
    if (runner.state === 'starting') runner.state = 'running';
    runner.scheduleDispatch();
    runner.checkIdle();
    // Other processes (the `bgexec` command) steer a JSON store's tasks through request files.
    if (this.#o.control && !this.#closing) this.#control = await openControl(this.#o.store, this, (err, id) => this.#reportError(err, id));
    if (this.#closing) this.#control?.close();
  }

  /**
   * Stops the executor (see {@link ShutdownOptions.mode}; default `kill`). New submissions are
   * refused at once. Pending `wait()` calls on unfinished tasks reject with `SHUTTING_DOWN`.
   *
   * Later calls return the first call's promise, but a later call with a stronger mode
   * (`drain` < `detach` < `kill`) takes over: `shutdown({ mode: 'kill' })` ends a `drain` that
   * is still waiting for work, and kills what a `detach` left running if that is still under
   * way. A malformed `options` (including `mode: null`) rejects with `INVALID_ARGUMENT` and
   * stops nothing.
   */
  shutdown(options?: ShutdownOptions): Promise<void> {
    let mode: ShutdownMode;
    let graceMs: number | undefined;
    try {
      ({ mode, graceMs } = shutdownArgs(options));
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closing = true;
    this.#control?.close();
    return this.#shutdown.request(mode, graceMs);
  }

  /** `await using` support: the same as `shutdown()` (mode `kill`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  // ---------------------------------------------------------------- submit & query

  /**
   * Validates and queues a task. Resolves once it is durably queued. A spec whose `signal` is
   * already aborted is not submitted: the call rejects with `signal.reason`.
   */
  async submit(spec: TaskSpec): Promise<TaskRecord> {
    const o = this.#o;
    let normalized: ReturnType<typeof normalizeSpec>;
    try {
      normalized = normalizeSpec(applyDefaults(spec, o.defaults), o.transportNames, o.defaultTransport);
      // The task's transport refuses up front what it can never run: input or a terminal it
      // cannot give (its capabilities), anything else its own check says (Slurm: secretEnv).
      const transport = o.transports[normalized.stored.transport ?? o.defaultTransport];
      checkInputSupport(normalized.stored, transport);
      transport?.validate?.(normalized.stored);
    } catch (err) {
      // A getter or Proxy trap of the caller's spec that throws is bad input like any other.
      throw isInstance(err, BgexecError) ? err : new InvalidSpecError('spec', `could not be read: ${errorMessage(err)}`);
    }
    if (normalized.signal?.aborted) throw abortRejection(normalized.signal, 'signal already aborted; task not submitted');
    if (this.#closing) throw new ShuttingDownError();
    // Once running, no await: each one is a promise hop on the path of every submit.
    if (this.#runner.state !== 'running') {
      await this.start();
      if (this.#closing) throw new ShuttingDownError();
    }
    const key = normalized.stored.idempotencyKey;
    if (key !== undefined) {
      const existing = this.#runner.records.get(this.#byIdempotencyKey.get(key) ?? '');
      if (existing) return snapshot(existing);
    }
    const max = o.scheduler.maxQueueSize ?? Infinity;
    const c = o.scheduler.counts();
    if (c.queued + c.delayed + this.#pendingSubmits >= max) throw new QueueFullError(max);

    let id = newId();
    while (this.#runner.records.has(id)) id = newId();
    const now = o.clock.now();
    const delay = normalized.stored.delayMs ?? 0;
    const record: TaskRecord = {
      version: RECORD_VERSION,
      id,
      spec: normalized.stored,
      status: delay > 0 ? 'waiting' : 'queued',
      attempt: 0,
      order: ++this.#runner.order,
      createdAt: now,
      stdoutBytes: 0,
      stderrBytes: 0,
      history: [],
      acked: false,
    };
    if (delay > 0) record.runAt = now + delay;
    // Reserve the key before the await so a concurrent duplicate submit finds it.
    if (key !== undefined) this.#byIdempotencyKey.set(key, id);
    // Nothing to wait for with the executor's private default store (see ResolvedOptions.persists).
    if (o.persists) {
      this.#pendingSubmits++;
      try {
        await o.store.put(record);
      } catch (err) {
        if (key !== undefined) this.#byIdempotencyKey.delete(key);
        throw isInstance(err, BgexecError) ? err : new StoreError('STORE_FAILED', `could not store task: ${errorMessage(err)}`, { cause: err, taskId: id });
      } finally {
        this.#pendingSubmits--;
      }
    }
    // Most tasks have none: no object is made for them.
    let extras: Extras | undefined;
    if (normalized.backoffFn) (extras ??= {}).backoffFn = normalized.backoffFn;
    if (normalized.retryOnFn) (extras ??= {}).retryOnFn = normalized.retryOnFn;
    if (normalized.secretEnv) (extras ??= {}).secretEnv = normalized.secretEnv;
    if (normalized.signal) {
      const signal = normalized.signal;
      const onAbort = (): void => void this.cancel(id).catch((e: unknown) => this.#reportError(e, id));
      signal.addEventListener('abort', onAbort, { once: true });
      (extras ??= {}).detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    if (tracing()) trace('submit', id, { command: record.spec.command, transport: record.spec.transport, priority: record.spec.priority, group: record.spec.group });
    this.#runner.admit(record, extras);
    return snapshot(record);
  }

  /** Snapshot of a task, or undefined if unknown. A non-string `id` throws `INVALID_ARGUMENT`. */
  get(id: string): TaskRecord | undefined {
    const r = this.#runner.records.get(stringArg('id', id));
    return r ? snapshot(r) : undefined;
  }

  /** Snapshots of tasks in submission order, filtered. */
  list(filter?: TaskFilter): TaskRecord[] {
    return listRecords(this.#runner.records.values(), filter);
  }

  /**
   * Resolves with the terminal record; a `timeoutMs` rejects with WAIT_TIMEOUT and the task goes
   * on. Aborting `signal` rejects with `signal.reason` (by default a `DOMException` named
   * `AbortError`; see `abortRejection`) and the task goes on.
   */
  async wait(id: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<TaskRecord> {
    stringArg('id', id);
    const o = optionsArg('options', options);
    const timeoutMs = msArg('timeoutMs', o.timeoutMs, MAX_TIMER_MS);
    const signal = signalArg('signal', o.signal);
    const record = this.#mustGet(id);
    if (isTerminal(record.status)) return snapshot(record);
    if (this.#runner.state === 'stopped') throw new ShuttingDownError('executor is stopped');
    return this.#runner.waiters.wait(id, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(signal ? { signal } : {}) });
  }

  /**
   * Cancels a task: a queued one never starts; a running one has its whole process tree killed
   * (TERM, then KILL after `graceMs`). Never retried afterwards. Resolves with the terminal record.
   * `by` (who asks, free text) is kept in the record as `cancelledBy`.
   */
  async cancel(id: string, options?: { graceMs?: number; by?: string }): Promise<TaskRecord> {
    return cancelTask(this.#runner, this.#o, id, options);
  }

  /**
   * Writes to the stdin of a running task started with `stdin: 'pipe'`. Writes arrive in the
   * order they were made; the promise resolves once the bytes are in the task's input pipe (not
   * necessarily read yet). A write made while the attempt is still starting waits for its start
   * (and fails with `TASK_NOT_RUNNING` if the start fails). At most 1 MiB may wait to be delivered at once: a write beyond that
   * rejects with `STDIN_FULL` (await earlier writes first). Rejects with a {@link StdinError}:
   * `TASK_NOT_RUNNING` (not running, still pending in a cluster's queue, or ended before the
   * bytes got through), `STDIN_NOT_PIPED`, `STDIN_CLOSED`; `NOT_FOUND` for an unknown id.
   */
  write(id: string, data: string | Uint8Array): Promise<void> {
    return writeStdin(this.#runner, id, data);
  }

  /**
   * Closes the stdin of a running task started with `stdin: 'pipe'`, after the writes made
   * before: the task reads end-of-file. Closing twice is a no-op; errors as for {@link write}.
   */
  closeStdin(id: string): Promise<void> {
    return closeStdin(this.#runner, id);
  }

  /** Reads a slice of a task's output by byte cursor, or its last/first lines. */
  async readOutput(id: string, options?: ReadOutputOptions): Promise<OutputRead> {
    stringArg('id', id);
    return readTaskOutput(this.#outputHost, id, optionsArg('options', options) as ReadOutputOptions);
  }

  /**
   * Async iterator over a task's output as it is written, through every attempt, until the task
   * settles. Arguments are checked at the call (it throws `INVALID_ARGUMENT` or `NOT_FOUND`);
   * aborting `signal` makes the iteration throw `signal.reason`.
   */
  follow(id: string, options?: FollowOptions): AsyncIterable<OutputChunk> {
    stringArg('id', id);
    const o = checkFollowOptions(optionsArg('options', options));
    this.#mustGet(id);
    return followTaskOutput(this.#outputHost, id, o);
  }

  /** Terminal tasks whose completion has not been acknowledged, oldest first. */
  completions(session?: string): TaskRecord[] {
    return unackedCompletions(this.#runner.records.values(), session);
  }

  /** Marks completions delivered (persisted with a durable store). Returns how many changed. */
  ack(ids: string | readonly string[]): number {
    let n = 0;
    for (const id of stringListArg('ids', ids, true)) {
      const r = this.#runner.records.get(id);
      if (!r || r.acked || !isTerminal(r.status)) continue;
      r.acked = true;
      this.#runner.persist(r);
      n++;
    }
    return n;
  }

  /** Stops admitting tasks, globally or for one group. Running tasks go on. */
  pause(group?: string): void {
    stringArg('group', group, true);
    this.#o.scheduler.pause(group);
  }

  /** Makes a `waiting` task (delay or retry backoff) due now; `INVALID_ARGUMENT` unless queued or waiting. */
  retryNow(id: string): TaskRecord {
    return retryTaskNow(this.#runner, this.#o, id);
  }

  /** Changes the priority of a `queued` or `waiting` task; `INVALID_ARGUMENT` once it has started. */
  setPriority(id: string, priority: number): TaskRecord {
    return setTaskPriority(this.#runner, this.#o, id, priority);
  }

  /** Resumes admitting tasks, globally or for one group. */
  resume(group?: string): void {
    stringArg('group', group, true);
    this.#o.scheduler.resume(group);
    this.#runner.scheduleDispatch();
  }

  /** Resolves when nothing is queued, waiting or running (at once if that is already so). */
  onIdle(): Promise<void> {
    return this.#runner.onIdle();
  }

  /** Counts and rates; O(1). */
  metrics(): ExecutorMetrics {
    return this.#runner.metrics.snapshot(this.#o.clock.now());
  }

  /** Forgets terminal tasks and removes their output files. Returns how many were removed. */
  async cleanup(options?: CleanupOptions): Promise<number> {
    const candidates = cleanupCandidates(this.#runner.records.values(), options, this.#o.clock);
    for (const r of candidates) {
      await removeTask(this.#runner, this.#o, r, (err) => this.#reportError(err, r.id));
      const key = r.spec.idempotencyKey;
      if (key !== undefined && this.#byIdempotencyKey.get(key) === r.id) this.#byIdempotencyKey.delete(key);
    }
    return candidates.length;
  }

  // ---------------------------------------------------------------- events and errors

  #deliverTask(event: ExecutorEventName, record: TaskRecord, extra?: object): void {
    // Payloads (and their snapshots) are only built when someone listens: this is the hot path.
    if (this.listenerCount(event) === 0) return;
    const payload = { taskId: record.id, attempt: record.attempt, seq: ++this.#seq, at: this.#o.clock.now(), record: snapshot(record), ...extra };
    this.deliver(event, payload, (err) => this.#listenerFailed(event, err, record.id));
  }

  #listenerFailed(event: string, err: unknown, taskId?: string): void {
    const message = `a listener of ${event} threw: ${errorMessage(err)}`;
    const error = new BgexecError('LISTENER_FAILED', message, { cause: err, ...(taskId !== undefined ? { taskId } : {}) });
    // A failing error listener is logged, never re-emitted (that could loop).
    if (event === 'error') this.#o.logger?.error?.(error.message, err);
    else this.#reportError(error, taskId);
  }

  #reportError(err: unknown, taskId?: string): void {
    const error =
      isInstance(err, BgexecError)
        ? err
        : new BgexecError('TRANSPORT_FAILED', errorMessage(err), { cause: err, ...(taskId !== undefined ? { taskId } : {}) });
    if (this.listenerCount('error') > 0) {
      const payload = { seq: ++this.#seq, at: this.#o.clock.now(), error, ...(taskId !== undefined ? { taskId } : {}) };
      this.deliver('error', payload, (e) => this.#listenerFailed('error', e, taskId));
    } else if (this.#o.logger?.warn) {
      this.#o.logger.warn(`bgexec: ${error.code}: ${error.message}`);
    } else {
      process.emitWarning(`${error.code}: ${error.message}`, { code: `BGEXEC_${error.code}` });
    }
  }

  #mustGet(id: string): TaskRecord {
    stringArg('id', id);
    const r = this.#runner.records.get(id);
    if (!r) throw new NotFoundError(id);
    return r;
  }

  readonly #outputHost: OutputHost = {
    record: (id) => this.#mustGet(id),
    transportOf: (record) => {
      const t = this.#runner.transportOf(record);
      if (!t) throw new BgexecError('TRANSPORT_FAILED', `transport ${String(record.spec.transport)} is not configured`, { taskId: record.id });
      return t;
    },
    nextChange: (id) => this.#runner.nextChange(id),
    stopped: () => this.#runner.state === 'stopped',
  };
}

// Ids are nanoid's (its URL-safe alphabet and its pooled random bytes, 21 characters, 126 bits),
// assembled here with one String.fromCharCode: nanoid()'s `id += …` leaves a 20-node rope that
// V8 keeps (~325 bytes) even as a Map key, and flattening it costs a Buffer per id.
// An id never starts with '-': on a command line (`bgexec logs <id>`, `kill <id>`) it would
// read as an option. Such an id is drawn again, so ids stay uniform over the other first letters.
const ID_LENGTH = 21;
const DASH = 45;
const idCodes = new Array<number>(ID_LENGTH).fill(0);

function newId(): string {
  for (let tries = 0; ; tries++) {
    const bytes = random(ID_LENGTH);
    for (let i = 0; i < ID_LENGTH; i++) idCodes[i] = urlAlphabet.charCodeAt((bytes[i] as number) & 63);
    if (idCodes[0] !== DASH) break;
    // 64 dashes in a row do not happen with a working random source; never loop forever.
    if (tries >= 64) {
      idCodes[0] = 120; // x
      break;
    }
  }
  return String.fromCharCode(...idCodes);
}
