import type { TimerHandle } from '../clock.js';
import { trace, tracing } from '../debug.js';
import { BgexecError, CallbackError, toErrorInfo } from '../errors.js';
import type { ExecutorEventName } from '../events.js';
import type { ResolvedOptions } from '../executor-options.js';
import { MetricsTracker } from '../metrics.js';
import { backoffDelay } from '../scheduler/backoff.js';
import type { SchedulerEntry } from '../scheduler/types.js';
import {
  canTransition,
  deepFreeze,
  isTerminal,
  snapshot,
  type AttemptInfo,
  type TaskRecord,
  type TaskStatus,
  type TerminalStatus,
  type TransportHandle,
} from '../task.js';
import type { ExitInfo, PollResult, Transport } from '../transports/types.js';
import { MAX_TIMER_MS } from '../validate-spec.js';
import { Waiters } from '../waiters.js';
import { callTransport, createLive, isRefusedStart, type AttemptEnd, type Extras, type KillReason, type Live } from './live.js';
import { OutputMonitor } from './output-monitor.js';

/** Where the runner reports what happens; implemented by the executor's event emitter. */
export interface RunnerSink {
  task(event: ExecutorEventName, record: TaskRecord, extra?: object): void;
  error(err: unknown, taskId?: string): void;
  idle(): void;
}

/** Lifecycle state of the executor, owned by the runner because dispatch depends on it. */
export type RunnerState = 'new' | 'starting' | 'running' | 'draining' | 'stopping' | 'stopped';

const DEFAULT_GRACE_MS = 5000;
/**
 * A start the transport refused before anything ran is made again after 1 s, 2 s, 4 s, … (at
 * most 30 s), up to this many times in a row; then the attempt fails as unreachable.
 */
export const MAX_REFUSED_STARTS = 5;
const REFUSED_BASE_MS = 1000;
const REFUSED_MAX_MS = 30_000;
const DEFAULT_MAX_OUTPUT = 1024 ** 3;
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
  readonly #watchers = new Map<string, Set<() => void>>();
  #idleWaiters: Array<() => void> = [];
  #dispatchQueued = false;
  #wakeTimer: TimerHandle | undefined;
  #wakeAt: number | undefined;

  constructor(options: ResolvedOptions, sink: RunnerSink) {
    this.#o = options;
    this.#sink = sink;
    this.metrics = new MetricsTracker(options.clock.now());
    this.waiters = new Waiters(options.clock);
    this.#monitor = new OutputMonitor(options.clock, options.outputPollMs, () => this.#runningPairs(), (r, l, p) =>
      this.applySizes(r, p, l),
    );
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
  admit(record: TaskRecord, extras: Extras): void {
    this.records.set(record.id, record);
    this.extras.set(record.id, extras);
    this.metrics.submitted++;
    this.metrics.move(undefined, record.status);
    this.#o.scheduler.add(this.entryOf(record), { force: true });
    this.#sink.task('task:queued', record);
    this.scheduleDispatch();
  }

  // ---------------------------------------------------------------- dispatch

  scheduleDispatch(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.state !== 'running' && this.state !== 'draining') return;
    const { scheduler } = this.#o;
    for (let entry = scheduler.next(); entry; entry = scheduler.next()) this.#startAttempt(entry.id);
    this.#armWake();
  }

  #armWake(): void {
    const at = this.#o.scheduler.nextWakeAt();
    if (at === this.#wakeAt) return;
    this.clearWake();
    if (at === undefined) return;
    const { clock } = this.#o;
    this.#wakeAt = at;
    this.#wakeTimer = clock.setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeAt = undefined;
      this.#promoteDueWaiting();
      this.#dispatch();
    }, Math.min(Math.max(0, at - clock.now()), MAX_TIMER_MS));
  }

  clearWake(): void {
    if (this.#wakeTimer !== undefined) this.#o.clock.clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    this.#wakeAt = undefined;
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
    for (const k of ['runAt', 'endedAt', 'exitCode', 'signal', 'reason', 'error', 'handle', 'note'] as const) delete record[k];
    record.stdoutBytes = 0;
    record.stderrBytes = 0;
    const live = createLive(transport);
    this.live.set(id, live);
    this.persist(record);
    const { spec } = record;
    const env = secretEnv ? { ...spec.env, ...secretEnv } : spec.env;
    const request = {
      taskId: id,
      attempt: record.attempt,
      command: spec.command,
      ...(spec.args ? { args: spec.args } : {}),
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      ...(env ? { env } : {}),
      detached: spec.detached ?? false,
      // Enforced by the transport where the bytes are written (the files never exceed it).
      maxOutputBytes: spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      // What the leader leaves behind is reaped by the transport before the attempt ends.
      ...(spec.orphans !== undefined ? { orphans: spec.orphans } : {}),
      ...(spec.lingerMs !== undefined ? { lingerMs: spec.lingerMs } : {}),
      graceMs: spec.graceMs ?? DEFAULT_GRACE_MS,
    };
    callTransport(() => transport.start(request)).then(
        (handle) => this.#onStarted(record, live, handle),
        (err: unknown) => {
          if (isRefusedStart(err) && this.#requeueRefused(record, live, err)) return;
          const error = err instanceof BgexecError ? err : new BgexecError('SPAWN_FAILED', String(err), { cause: err, taskId: id });
          const exit: ExitInfo = { state: 'exited', exitCode: null, signal: null, reason: 'spawn_failed', endedAt: clock.now() };
          // No task:started for an attempt that never started: the next event is task:retrying or its end.
          void this.endAttempt(record, live, exit, error);
        },
      );
  }

  // The transport reached nothing, so nothing ran: the attempt is given back (its number is
  // reused, no history entry) and made again after a backoff, a bounded number of times.
  #requeueRefused(record: TaskRecord, live: Live, err: unknown): boolean {
    const extras = this.extras.get(record.id);
    const refused = (extras?.refusedStarts ?? 0) + 1;
    // A kill asked for while the start was in flight (cancel, shutdown) decides instead.
    if (!extras || live.killReason !== undefined || refused > MAX_REFUSED_STARTS || (this.state !== 'running' && this.state !== 'draining')) {
      return false;
    }
    const { clock, scheduler } = this.#o;
    extras.refusedStarts = refused;
    live.done = true;
    scheduler.release(record.id);
    this.live.delete(record.id);
    const delayMs = Math.min(REFUSED_BASE_MS * 2 ** (refused - 1), REFUSED_MAX_MS);
    record.attempt -= 1;
    record.note = `start refused: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
    record.runAt = clock.now() + delayMs;
    this.setStatus(record, 'waiting');
    scheduler.add(this.entryOf(record), { force: true });
    this.persist(record);
    if (tracing()) trace('requeue', record.id, { attempt: record.attempt + 1, refused, delayMs });
    this.#sink.task('task:retrying', record, {
      exitCode: null, signal: null, reason: 'start_refused', endedAt: clock.now(), nextAttempt: record.attempt + 1, delayMs,
    });
    this.notify(record.id);
    live.markEnded();
    this.scheduleDispatch();
    return true;
  }

  #onStarted(record: TaskRecord, live: Live, handle: TransportHandle): void {
    live.handle = deepFreeze({ ...handle });
    record.handle = live.handle;
    const extras = this.extras.get(record.id);
    if (extras) delete extras.refusedStarts;
    this.persist(record);
    if (tracing()) trace('start', record.id, { attempt: record.attempt, pid: handle.pid, transport: record.spec.transport });
    this.#sink.task('task:started', record);
    this.notify(record.id);
    this.watch(record, live);
  }

  /** Watches a started (or re-attached) attempt: timeout, output monitor, end. */
  watch(record: TaskRecord, live: Live): void {
    const { clock } = this.#o;
    const handle = live.handle!;
    if (live.killReason) {
      void this.kill(record, live, live.killReason, live.graceMs);
    } else if (record.spec.timeoutMs !== undefined) {
      // Counted from the attempt's real start, also after a restart.
      const elapsed = clock.now() - (record.startedAt ?? clock.now());
      live.timeoutTimer = clock.setTimeout(() => void this.kill(record, live, 'timeout'), Math.max(0, record.spec.timeoutMs - elapsed));
    }
    this.#monitor.ensure();
    callTransport(() => live.transport.wait(handle)).then(
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
    live.killing ??= callTransport(() => live.transport.kill(handle, { graceMs: grace })).catch((err: unknown) => this.#sink.error(err, record.id));
    return live.killing;
  }

  /**
   * Processes the end of an attempt: records it, then retries or settles the task. Never
   * rejects: callers do not await it, so a fault here is reported and the task is settled
   * `failed` (reason `internal_error`) rather than left `waiting` or `running` forever.
   */
  async endAttempt(record: TaskRecord, live: Live, exit: ExitInfo, error?: unknown): Promise<void> {
    if (live.done) return;
    try {
      await this.#endAttempt(record, live, exit, error);
    } catch (err) {
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
  }

  async #endAttempt(record: TaskRecord, live: Live, exit: ExitInfo, error?: unknown): Promise<void> {
    live.done = true;
    const { scheduler, clock } = this.#o;
    if (live.timeoutTimer !== undefined) clock.clearTimeout(live.timeoutTimer);
    if (this.state !== 'stopped' && live.handle) {
      const handle = live.handle;
      const sizes = await callTransport(() => live.transport.poll(handle)).catch(() => undefined);
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
    if (live.killReason === undefined && limit !== undefined && record.startedAt !== undefined && exit.endedAt - record.startedAt > limit) {
      live.killReason = 'timeout';
    }
    const { status, reason } = classify(exit, live.killReason, error);
    const errorInfo = error === undefined ? undefined : deepFreeze(toErrorInfo(error, 'SPAWN_FAILED'));
    const endedAt = exit.endedAt;
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
    this.metrics.attemptEnded(endedAt - info.startedAt);
    if (tracing()) trace('exit', record.id, { attempt: record.attempt, status, exitCode: exit.exitCode, signal: exit.signal, reason });
    const end: AttemptEnd = { exitCode: exit.exitCode, signal: exit.signal, endedAt, ...(reason !== undefined ? { reason } : {}) };
    const delay = this.#retryDelay(record, status, live.killReason);
    if (delay !== undefined) this.#retry(record, delay, end, errorInfo);
    else this.settle(record, status, end, errorInfo);
    live.markEnded();
  }

  #retryDelay(record: TaskRecord, status: TerminalStatus, killReason: KillReason | undefined): number | undefined {
    const policy = record.spec.retry;
    if (!policy || record.attempt >= policy.attempts) return undefined;
    if (this.state === 'stopping' || this.state === 'stopped') return undefined;
    if (killReason === 'cancelled' || killReason === 'shutdown' || status === 'completed') return undefined;
    const extras = this.extras.get(record.id);
    let allowed: boolean;
    // An attempt killed because its executor restarted did not fail on its own: the policy's attempts decide.
    if (killReason === 'executor_restart') allowed = true;
    else if (extras?.retryOnFn) {
      try {
        allowed = extras.retryOnFn(snapshot({ ...record, status }));
      } catch (err) {
        this.#sink.error(new CallbackError('retry.retryOn', `threw ${describeThrown(err)}; the task is not retried`, { cause: err, taskId: record.id }), record.id);
        allowed = false;
      }
    } else allowed = (policy.retryOn ?? ['failed']).includes(status as 'failed');
    if (!allowed) return undefined;
    return this.#backoff(record, extras);
  }

  // Every delay goes through backoffDelay (clamped to [0, 2^31 - 1] ms). A backoff function
  // that throws or returns no usable delay (not a number, NaN, ±Infinity, negative) means the
  // task is not retried: it settles with the attempt's outcome and an error event says why.
  // Waiting forever (or retrying at once when a delay was asked for) would hide the bug.
  #backoff(record: TaskRecord, extras: Extras | undefined): number | undefined {
    const fn = extras?.backoffFn;
    if (!fn) return backoffDelay(record.spec.retry?.backoff, record.attempt);
    let raw: unknown;
    try {
      raw = fn(record.attempt);
    } catch (err) {
      this.#sink.error(new CallbackError('retry.backoff', `threw ${describeThrown(err)}; the task is not retried`, { cause: err, taskId: record.id }), record.id);
      return undefined;
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) {
      const what = typeof raw === 'number' ? String(raw) : typeof raw;
      this.#sink.error(new CallbackError('retry.backoff', `returned ${what}, not a delay in ms >= 0; the task is not retried`, { taskId: record.id }), record.id);
      return undefined;
    }
    // Finite but past the longest timer (say 1e300): waits the longest timer, as a saturated exponential does.
    return backoffDelay(() => raw as number, record.attempt);
  }

  #retry(record: TaskRecord, delayMs: number, end: AttemptEnd, error?: TaskRecord['error']): void {
    record.exitCode = end.exitCode;
    record.signal = end.signal;
    if (end.reason !== undefined) record.reason = end.reason;
    if (error) record.error = error;
    record.order = ++this.order;
    if (delayMs > 0) record.runAt = this.#o.clock.now() + delayMs;
    this.setStatus(record, delayMs > 0 ? 'waiting' : 'queued');
    this.metrics.retried++;
    this.#o.scheduler.add(this.entryOf(record), { force: true });
    this.persist(record);
    if (tracing()) trace('retry', record.id, { nextAttempt: record.attempt + 1, delayMs, reason: end.reason });
    this.#sink.task('task:retrying', record, { ...end, nextAttempt: record.attempt + 1, delayMs });
    this.notify(record.id);
    this.scheduleDispatch();
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
    const extras = this.extras.get(record.id);
    extras?.detachSignal?.();
    if (extras) delete extras.detachSignal;
    const payload = { exitCode: end.exitCode, signal: end.signal, ...(end.reason !== undefined ? { reason: end.reason } : {}) };
    if (tracing()) trace('settle', record.id, { status, attempt: record.attempt, exitCode: end.exitCode, signal: end.signal, reason: end.reason });
    this.#sink.task(END_EVENTS[status], record, payload);
    this.#sink.task('task:settled', record, payload);
    this.waiters.settle(record.id, () => snapshot(record));
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
    // A host that cannot be reached leaves the task running, with a note saying so.
    if (p.unreachable !== record.note) {
      if (p.unreachable === undefined) delete record.note;
      else record.note = p.unreachable;
      this.persist(record);
      this.notify(record.id);
    }
    let grew = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      const total = stream === 'stdout' ? p.stdoutBytes : p.stderrBytes;
      const before = stream === 'stdout' ? record.stdoutBytes : record.stderrBytes;
      if (total <= before) continue;
      grew = true;
      if (stream === 'stdout') record.stdoutBytes = total;
      else record.stderrBytes = total;
      this.#sink.task('task:output', record, { stream, bytes: total - before, totalBytes: total });
    }
    if (grew) this.notify(record.id);
    const limit = record.spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    // limitReached: the transport cut a stream at the limit (its file holds exactly `limit`
    // bytes); the size test covers transports that do not cut.
    if (live && (p.limitReached === true || record.stdoutBytes > limit || record.stderrBytes > limit)) void this.kill(record, live, 'output_limit');
  }

  /** A promise settled at the task's next change (output growth, status, attempt). */
  nextChange(id: string): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.#watchers.get(id);
      if (!set) this.#watchers.set(id, (set = new Set()));
      set.add(resolve);
      this.#monitor.ensure();
    });
  }

  /** Wakes every follower (at shutdown, so they can see that nothing more will come). */
  notifyAll(): void {
    for (const id of [...this.#watchers.keys()]) this.notify(id);
  }

  notify(id: string): void {
    const set = this.#watchers.get(id);
    if (!set) return;
    this.#watchers.delete(id);
    for (const fn of set) fn();
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
    this.#o.store.put(record).catch((err: unknown) => {
      const error =
        err instanceof BgexecError
          ? err
          : new BgexecError('STORE_FAILED', `could not persist task ${record.id}: ${String(err)}`, { cause: err, taskId: record.id });
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

function classify(exit: ExitInfo, killReason: KillReason | undefined, error: unknown): { status: TerminalStatus; reason: string | undefined } {
  switch (killReason) {
    case 'cancelled':
    case 'shutdown':
    case 'executor_restart':
      return { status: 'cancelled', reason: killReason };
    case 'timeout':
      return { status: 'timed_out', reason: 'timeout' };
    case 'output_limit':
      return { status: 'failed', reason: 'output_limit' };
    default:
      if (exit.state === 'lost') return { status: 'lost', reason: exit.reason };
      return { status: exit.exitCode === 0 && error === undefined ? 'completed' : 'failed', reason: exit.reason };
  }
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return typeof err === 'string' ? JSON.stringify(err.slice(0, 200)) : typeof err;
}
