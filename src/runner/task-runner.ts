import { errorMessage, isInstance } from '../args.js';
import { trace, tracing } from '../debug.js';
import { BgexecError, toErrorInfo } from '../errors.js';
import type { ExecutorEventName } from '../events.js';
import type { ResolvedOptions } from '../executor-options.js';
import { MetricsTracker } from '../metrics.js';
import type { SchedulerEntry } from '../scheduler/types.js';
import {
  canTransition,
  deepFreeze,
  appendHistory,
  frozenCopy,
  isDeepFrozen,
  isTerminal,
  snapshot,
  type AttemptInfo,
  type TaskRecord,
  type TaskStatus,
  type TerminalStatus,
  type TransportHandle,
} from '../task.js';
import type { ExitInfo, PollResult, Transport } from '../transports/types.js';
import { Waiters } from '../waiters.js';
import { ChangeWatchers } from './change-watchers.js';
import { Dispatcher } from './dispatcher.js';
import { DEFAULT_GRACE_MS, launchRequest } from './launch-request.js';
import { callTransport, createLive, isRefusedStart, pendingNote, type AttemptEnd, type Extras, type KillReason, type Live } from './live.js';
import { OutputMonitor } from './output-monitor.js';
import { applySizes } from './output-sizes.js';
import { classify, killCameLate, requeueRefused, retry, retryDelay } from './retry-policy.js';

export { MAX_REFUSED_STARTS } from './retry-policy.js';

function hasExtras(extras: Extras): boolean {
  for (const _ in extras) return true;
  return false;
}

/** Where the runner reports what happens; implemented by the executor's event emitter. */
export interface RunnerSink {
  task(event: ExecutorEventName, record: TaskRecord, extra?: object): void;
  /** Whether `task(event, …)` would reach anyone (so payloads are built only then). */
  listens(event: ExecutorEventName): boolean;
  error(err: unknown, taskId?: string): void;
  idle(): void;
}

/** Lifecycle state of the executor, owned by the runner because dispatch depends on it. */
export type RunnerState = 'new' | 'starting' | 'running' | 'draining' | 'stopping' | 'stopped';

// What the previous attempt left on the record, cleared when a new one starts.
const RESET_ON_START = ['runAt', 'endedAt', 'exitCode', 'signal', 'reason', 'error', 'handle', 'note'] as const;

const END_EVENTS: Record<TerminalStatus, ExecutorEventName> = {
  completed: 'task:completed',
  failed: 'task:failed',
  cancelled: 'task:cancelled',
  timed_out: 'task:timed_out',
  lost: 'task:lost',
};

/**
 * The task state machine: dispatches admitted tasks to transports, watches attempts (timeout,
 * output limit, end), applies the retry policy, settles tasks and persists every transition.
 * Internal; the public face is `BackgroundExecutor`.
 */
export class TaskRunner {
  readonly records = new Map<string, TaskRecord>();
  readonly live = new Map<string, Live>();
  readonly extras = new Map<string, Extras>();
  readonly metrics: MetricsTracker;
  readonly waiters: Waiters;
  state: RunnerState = 'new';
  order = 0;
  readonly #o: ResolvedOptions;
  readonly #sink: RunnerSink;
  readonly #monitor: OutputMonitor;
  readonly #watchers = new ChangeWatchers();
  readonly #dispatcher: Dispatcher;
  #idleWaiters: Array<() => void> = [];

  constructor(options: ResolvedOptions, sink: RunnerSink) {
    this.#o = options;
    this.#sink = sink;
    this.metrics = new MetricsTracker(options.clock.now());
    this.waiters = new Waiters(options.clock);
    this.#monitor = new OutputMonitor(options.clock, options.outputPollMs, () => this.#runningPairs(), (r, l, p) =>
      this.applySizes(r, p, l),
    );
    this.#dispatcher = new Dispatcher(options, {
      canDispatch: () => this.state === 'running' || this.state === 'draining',
      start: (id) => this.#startAttempt(id),
      promoteDue: () => this.#promoteDueWaiting(),
    });
  }

  transportOf(record: TaskRecord): Transport | undefined {
    return this.#o.transports[record.spec.transport ?? this.#o.defaultTransport];
  }

  entryOf(record: TaskRecord): SchedulerEntry {
    const entry: SchedulerEntry = { id: record.id, priority: record.spec.priority ?? 0, order: record.order };
    if (record.spec.group !== undefined) entry.group = record.spec.group;
    if (record.runAt !== undefined) entry.runAt = record.runAt;
    // Each transport is a concurrency pool: a cap named like it caps that host.
    entry.pool = record.spec.transport ?? this.#o.defaultTransport;
    return entry;
  }

  /** Takes a new (already stored) task into the tables and the scheduler. */
  admit(record: TaskRecord, extras?: Extras): void {
    this.records.set(record.id, record);
    // Most tasks have no extras: no map entry kept for each of them.
    if (extras !== undefined && hasExtras(extras)) this.extras.set(record.id, extras);
    this.metrics.submitted++;
    this.metrics.move(undefined, record.status);
    this.#o.scheduler.add(this.entryOf(record), { force: true });
    this.#sink.task('task:queued', record);
    this.scheduleDispatch();
  }

  // ---------------------------------------------------------------- dispatch

  scheduleDispatch(): void {
    this.#dispatcher.schedule();
  }

  clearWake(): void {
    this.#dispatcher.clearWake();
  }

  // A task whose delay or backoff has passed is `queued` again, even if caps keep it from starting.
  #promoteDueWaiting(): void {
    if (this.metrics.counts.waiting === 0) return;
    const now = this.#o.clock.now();
    for (const r of this.records.values()) {
      if (r.status === 'waiting' && (r.runAt ?? 0) <= now) {
        this.setStatus(r, 'queued');
        delete r.runAt;
        this.persist(r);
      }
    }
  }

  #startAttempt(id: string): void {
    const record = this.records.get(id);
    const { scheduler, clock } = this.#o;
    if (!record || (record.status !== 'queued' && record.status !== 'waiting')) {
      scheduler.release(id);
      return;
    }
    const secretEnv = this.extras.get(id)?.secretEnv;
    if (record.spec.secretEnvKeys?.length && !secretEnv) {
      // Secrets are never persisted: after a restart the task cannot run as it was asked to.
      scheduler.release(id);
      const error = deepFreeze(toErrorInfo(new BgexecError('INVALID_SPEC', `secret environment (${record.spec.secretEnvKeys.join(', ')}) is not available after a restart; submit the task again`, { taskId: id })));
      this.settle(record, 'failed', { exitCode: null, signal: null, reason: 'secrets_unavailable', endedAt: clock.now() }, error);
      return;
    }
    const transport = this.transportOf(record);
    if (!transport) {
      scheduler.release(id);
      this.settle(record, 'failed', { exitCode: null, signal: null, reason: 'unknown_transport', endedAt: clock.now() });
      return;
    }
    record.attempt += 1;
    if (record.status === 'waiting') this.setStatus(record, 'queued');
    this.setStatus(record, 'running');
    record.startedAt = clock.now();
    // Only fields present are deleted: a `delete` turns the record into a slow dictionary-mode
    // object, and a first attempt (nearly every task) has none of them.
    for (const k of RESET_ON_START) if (record[k] !== undefined) delete record[k];
    record.stdoutBytes = 0;
    record.stderrBytes = 0;
    const live = createLive(transport);
    this.live.set(id, live);
    // Recovery probes past the stored attempt, so the started attempt of a transport whose probe
    // finds every start is found whatever the store says: its record is written once, with its
    // handle, when the start resolves. Any other gets `running` written now: after a crash, only
    // that record may tell that the attempt began (a probe of an unreachable host finds nothing).
    if (transport.capabilities?.findsEveryStart !== true || typeof transport.probe !== 'function') this.persist(record);
    const request = launchRequest(record, secretEnv, this.#o.store.durable !== false);
    callTransport(transport, transport.start, request).then(
        (handle) => this.#onStarted(record, live, handle),
        (err: unknown) => {
          if (isRefusedStart(err) && requeueRefused(this, this.#o, this.#sink, record, live, err)) return;
          const error = isInstance(err, BgexecError) ? err : new BgexecError('SPAWN_FAILED', errorMessage(err), { cause: err, taskId: id });
          // An error that says why (`cwd_missing`, a VagrantError's `machine_not_running`, …) names the attempt's end.
          const reason = toErrorInfo(error).reason ?? 'spawn_failed';
          const exit: ExitInfo = { state: 'exited', exitCode: null, signal: null, reason, endedAt: clock.now() };
          // No task:started for an attempt that never started: the next event is task:retrying or its end.
          void this.endAttempt(record, live, exit, error);
        },
      );
  }

  #onStarted(record: TaskRecord, live: Live, handle: TransportHandle): void {
    // A handle the transport froze (deeply) cannot change under the record: kept as it is.
    live.handle = isDeepFrozen(handle) ? handle : frozenCopy(handle);
    record.handle = live.handle;
    const extras = this.extras.get(record.id);
    if (extras) delete extras.refusedStarts;
    if (handle['pending'] === true && typeof live.transport.whenRunning === 'function') {
      // Submitted to a queue (Slurm) and waiting there: visible as such until it really runs.
      live.pending = true;
      // Input written while it was being submitted cannot reach a job that waits in a queue.
      live.stdin?.end("went to its transport's queue");
      record.note = pendingNote(handle);
      this.persist(record);
      if (tracing()) trace('start', record.id, { attempt: record.attempt, pending: true, transport: record.spec.transport });
      this.#sink.task('task:pending', record);
      this.notify(record.id);
      this.watch(record, live);
      return;
    }
    // Input written while it was starting goes to it now, in order.
    live.stdin?.attach(live.handle);
    this.persist(record);
    if (tracing()) trace('start', record.id, { attempt: record.attempt, pid: handle.pid, transport: record.spec.transport });
    this.#sink.task('task:started', record);
    this.notify(record.id);
    this.watch(record, live);
  }

  // A pending attempt now runs: its start time, handle and event are those of the real start, and
  // its timeout (unless counted from submission) only begins now. `announce` is false for an
  // attempt re-attached after a restart that had already begun: its start was no news.
  #onRunning(record: TaskRecord, live: Live, announce = true): void {
    if (live.done || !live.pending || !live.handle) return;
    live.pending = false;
    const { clock } = this.#o;
    const pendingHandle = live.handle;
    live.handle = frozenCopy(pendingHandle, { pending: false });
    record.handle = live.handle;
    record.startedAt = realStart(live, pendingHandle, clock.now());
    delete record.note;
    this.persist(record);
    if (!announce) {
      this.notify(record.id);
      return;
    }
    if (tracing()) trace('start', record.id, { attempt: record.attempt, pid: live.handle.pid, transport: record.spec.transport });
    this.#sink.task('task:started', record);
    this.notify(record.id);
    if (!live.killReason && live.timeoutTimer === undefined && record.spec.timeoutMs !== undefined) {
      const elapsed = clock.now() - record.startedAt;
      live.timeoutTimer = clock.setTimeout(() => void this.kill(record, live, 'timeout'), Math.max(0, record.spec.timeoutMs - elapsed));
    }
  }

  /** Watches a started (or re-attached) attempt: timeout, output monitor, end. */
  watch(record: TaskRecord, live: Live): void {
    const { clock } = this.#o;
    const handle = live.handle!;
    if (handle['pending'] === true && typeof live.transport.whenRunning === 'function') {
      // Also after a restart: a re-attached attempt may still wait in the queue.
      live.pending = true;
      // Or it already runs (the store may have kept the pending handle when the executor died
      // right after the start): running from its real start, without a second task:started.
      if (handle.ownerGone === true && runningSinceOf(live, handle) !== undefined) this.#onRunning(record, live, false);
    }
    if (live.pending && typeof live.transport.whenRunning === 'function') {
      if (record.note === undefined) {
        record.note = pendingNote(handle);
        this.persist(record);
      }
      callTransport(live.transport, live.transport.whenRunning, handle).then(
        (ran) => {
          if (ran) this.#onRunning(record, live);
        },
        (err: unknown) => this.#sink.error(err, record.id),
      );
    }
    if (live.killReason) {
      void this.kill(record, live, live.killReason, live.graceMs);
    } else if (record.spec.timeoutMs !== undefined && (!live.pending || record.spec.timeoutFrom === 'submit')) {
      // Counted from the attempt's real start, also after a restart.
      const elapsed = clock.now() - (record.startedAt ?? clock.now());
      live.timeoutTimer = clock.setTimeout(() => void this.kill(record, live, 'timeout'), Math.max(0, record.spec.timeoutMs - elapsed));
    }
    this.#monitor.ensure();
    callTransport(live.transport, live.transport.wait, handle).then(
      (exit) => this.endAttempt(record, live, exit),
      (err: unknown) =>
        this.endAttempt(record, live, { state: 'lost', exitCode: null, signal: null, reason: 'transport_error', endedAt: clock.now() }, err),
    );
  }

  /** Kills an attempt's process tree; the first reason given wins. */
  kill(record: TaskRecord, live: Live, reason: KillReason, graceMs?: number): Promise<void> {
    if (live.done) return Promise.resolve();
    live.killReason ??= reason;
    // Persisted before the attempt dies, so an executor recovering after a crash knows why it
    // died (a cancelled task must never be retried, a timed-out one is `timed_out`).
    if (record.reason !== live.killReason) {
      record.reason = live.killReason;
      this.persist(record);
    }
    if (graceMs !== undefined) live.graceMs ??= graceMs;
    if (!live.handle) return live.ended; // start in flight: watch() kills once the pid is known
    const handle = live.handle;
    const grace = live.graceMs ?? record.spec.graceMs ?? DEFAULT_GRACE_MS;
    if (!live.killing && tracing()) trace('kill', record.id, { attempt: record.attempt, reason: live.killReason, pid: handle.pid, graceMs: grace });
    live.killing ??= callTransport(live.transport, live.transport.kill, handle, { graceMs: grace }).catch((err: unknown) => this.#sink.error(err, record.id));
    return live.killing;
  }

  /**
   * Processes the end of an attempt: records it, then retries or settles the task. Never
   * rejects: callers do not await it, so a fault here is reported and the task is settled
   * `failed` (reason `internal_error`) rather than left `waiting` or `running` forever.
   */
  endAttempt(record: TaskRecord, live: Live, exit: ExitInfo, error?: unknown): Promise<void> {
    if (live.done) return Promise.resolve();
    // One promise per attempt end rather than an async wrapper awaiting another.
    return this.#endAttempt(record, live, exit, error).catch((err: unknown) => this.#endAttemptFailed(record, live, exit, err));
  }

  #endAttemptFailed(record: TaskRecord, live: Live, exit: ExitInfo, err: unknown): void {
    this.#sink.error(err, record.id);
    this.#o.scheduler.remove(record.id);
    this.#o.scheduler.release(record.id);
    this.live.delete(record.id);
    if (!isTerminal(record.status) && this.state !== 'stopped') {
      try {
        if (record.status === 'waiting') this.setStatus(record, 'queued');
        this.settle(record, 'failed', { exitCode: exit.exitCode, signal: exit.signal, reason: 'internal_error', endedAt: exit.endedAt });
      } catch (e) {
        this.#sink.error(e, record.id);
      }
    }
    live.markEnded();
    this.scheduleDispatch();
  }

  async #endAttempt(record: TaskRecord, live: Live, exit: ExitInfo, error?: unknown): Promise<void> {
    live.done = true;
    // Writes still queued for its stdin can no longer be delivered.
    live.stdin?.end();
    if (record.awaitingInput !== undefined) delete record.awaitingInput;
    const { scheduler, clock } = this.#o;
    if (live.timeoutTimer !== undefined) clock.clearTimeout(live.timeoutTimer);
    if (this.state !== 'stopped' && live.handle) {
      const handle = live.handle;
      const sizes = await callTransport(live.transport, live.transport.poll, handle).catch(() => undefined);
      if (sizes) this.applySizes(record, sizes);
      // A stream cut at maxOutputBytes whose writer then ended by itself (SIGPIPE, or an exit
      // before the output monitor looked) still ended because of the limit.
      if (sizes?.limitReached === true) live.killReason ??= 'output_limit';
    }
    // Free the slot only now, so a group's next task never starts before this one has settled.
    scheduler.release(record.id);
    this.scheduleDispatch();
    this.live.delete(record.id);
    if (this.state === 'stopped') {
      live.markEnded();
      return;
    }
    // Under load the exit can be seen before a timer that fell due first; past its limit is timed out.
    const limit = record.spec.timeoutMs;
    const counted = !live.pending || record.spec.timeoutFrom === 'submit';
    if (live.killReason === undefined && limit !== undefined && counted && record.startedAt !== undefined && exit.endedAt - record.startedAt > limit) {
      live.killReason = 'timeout';
    }
    const { status, reason } = classify(exit, live.killReason, error);
    // A kill that came after the attempt had ended by itself leaves no reason (kill() set one early).
    if (killCameLate(exit, live.killReason)) delete record.reason;
    // An attempt that never left a cluster's queue has no start time: its submission is not one.
    if (live.pending || exit.reason === 'cancelled_before_start') delete record.startedAt;
    // A start noticed later than the end the wrapper recorded (a short command between two poll
    // rounds, or clocks of two hosts): the attempt cannot have started after it ended.
    else if (record.startedAt !== undefined && record.startedAt > exit.endedAt) record.startedAt = exit.endedAt;
    const errorInfo = error === undefined ? undefined : deepFreeze(toErrorInfo(error, 'SPAWN_FAILED'));
    const endedAt = exit.endedAt;
    // Optional fields assigned, not spread: a conditional spread allocates a temporary object each.
    // The handle goes into the literal (nearly every attempt has one): a field added later would
    // cost a separate property array in each of the records a finished backlog keeps.
    const startedAt = record.startedAt ?? endedAt;
    const info: AttemptInfo = live.handle
      ? { attempt: record.attempt, status, startedAt, endedAt, exitCode: exit.exitCode, signal: exit.signal, handle: live.handle }
      : { attempt: record.attempt, status, startedAt, endedAt, exitCode: exit.exitCode, signal: exit.signal };
    if (reason !== undefined) info.reason = reason;
    if (errorInfo) info.error = errorInfo;
    appendHistory(record, deepFreeze(info));
    this.metrics.attemptEnded(endedAt - info.startedAt);
    if (tracing()) trace('exit', record.id, { attempt: record.attempt, status, exitCode: exit.exitCode, signal: exit.signal, reason });
    const end: AttemptEnd = { exitCode: exit.exitCode, signal: exit.signal, endedAt };
    if (reason !== undefined) end.reason = reason;
    const delay = retryDelay(record, status, live.killReason, this.extras.get(record.id), this.state, (err, taskId) => this.#sink.error(err, taskId));
    if (delay !== undefined) retry(this, this.#o, this.#sink, record, delay, end, errorInfo);
    else this.settle(record, status, end, errorInfo);
    live.markEnded();
  }

  /** Moves a task to its terminal status and tells everyone. */
  settle(record: TaskRecord, status: TerminalStatus, end: AttemptEnd, error?: TaskRecord['error']): void {
    this.setStatus(record, status);
    record.endedAt = end.endedAt;
    record.exitCode = end.exitCode;
    record.signal = end.signal;
    if (end.reason !== undefined) record.reason = end.reason;
    if (error) record.error = error;
    delete record.runAt;
    delete record.note;
    this.persist(record);
    this.metrics.settledAs(status, end.endedAt);
    // A settled task never starts again: its in-memory extras (functions, secrets, the signal
    // listener) have no further use, and dropping them keeps a finished backlog small.
    this.extras.get(record.id)?.detachSignal?.();
    this.extras.delete(record.id);
    if (tracing()) trace('settle', record.id, { status, attempt: record.attempt, exitCode: end.exitCode, signal: end.signal, reason: end.reason });
    // The payload is made only for listeners: most settles of a large backlog have none.
    const event = END_EVENTS[status];
    if (this.#sink.listens(event) || this.#sink.listens('task:settled')) {
      const payload: { exitCode: number | null; signal: string | null; reason?: string } = { exitCode: end.exitCode, signal: end.signal };
      if (end.reason !== undefined) payload.reason = end.reason;
      this.#sink.task(event, record, payload);
      this.#sink.task('task:settled', record, payload);
    }
    this.waiters.settle(record.id, record);
    this.notify(record.id);
    this.checkIdle();
  }

  setStatus(record: TaskRecord, to: TaskStatus): void {
    const from = record.status;
    if (from === to) return;
    if (!canTransition(from, to)) {
      throw new BgexecError('INVALID_ARGUMENT', `illegal transition ${from} → ${to} for task ${record.id}`, { taskId: record.id });
    }
    record.status = to;
    this.metrics.move(from, to);
  }

  // ---------------------------------------------------------------- idle, output, changes

  isIdle(): boolean {
    const c = this.metrics.counts;
    return c.queued + c.waiting + c.running === 0;
  }

  onIdle(): Promise<void> {
    if (this.isIdle() || this.state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  checkIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
    this.#sink.idle();
  }

  /** Wakes `onIdle()` callers at shutdown. */
  releaseIdleWaiters(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  applySizes(record: TaskRecord, p: PollResult, live?: Live): void {
    applySizes(this, this.#sink, record, p, live);
  }

  /** A promise settled at the task's next change (output growth, status, attempt). */
  nextChange(id: string): Promise<void> {
    const change = this.#watchers.next(id);
    this.#monitor.ensure();
    return change;
  }

  /** Wakes every follower (at shutdown, so they can see that nothing more will come). */
  notifyAll(): void {
    this.#watchers.notifyAll();
  }

  notify(id: string): void {
    this.#watchers.notify(id);
  }

  forget(id: string): void {
    const record = this.records.get(id);
    if (!record) return;
    this.records.delete(id);
    this.extras.delete(id);
    this.notify(id);
    this.metrics.move(record.status, undefined);
  }

  stopMonitor(): void {
    this.#monitor.stop();
  }

  ensureMonitor(): void {
    this.#monitor.ensure();
  }

  persist(record: TaskRecord): void {
    // The executor's private default store is never read again (see ResolvedOptions.persists).
    if (!this.#o.persists) return;
    this.#o.store.put(record).catch((err: unknown) => {
      const error =
        err instanceof BgexecError
          ? err
          : new BgexecError('STORE_FAILED', `could not persist task ${record.id}: ${errorMessage(err)}`, { cause: err, taskId: record.id });
      this.#sink.error(error, record.id);
    });
  }

  *#runningPairs(): Iterable<[TaskRecord, Live]> {
    for (const [id, live] of this.live) {
      const record = this.records.get(id);
      if (record) yield [record, live];
    }
  }
}

// When the transport says the attempt's command began, if it can tell (a transport fault is no start).
function runningSinceOf(live: Live, handle: TransportHandle): number | undefined {
  try {
    const since = live.transport.runningSince?.(handle);
    return typeof since === 'number' && Number.isFinite(since) ? since : undefined;
  } catch {
    return undefined;
  }
}

// The start time of an attempt that left the queue: the transport's word when it has one (the
// wrapper began before this process noticed), bounded by its submission and by now.
function realStart(live: Live, handle: TransportHandle, now: number): number {
  const since = runningSinceOf(live, handle);
  if (since === undefined) return now;
  return Math.min(now, Math.max(since, handle.startedAt ?? since));
}
