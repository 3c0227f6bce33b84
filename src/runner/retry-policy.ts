import { errorMessage } from '../args.js';
import { trace, tracing } from '../debug.js';
import { CallbackError } from '../errors.js';
import type { ResolvedOptions } from '../executor-options.js';
import { backoffDelay, MAX_BACKOFF_MS } from '../scheduler/backoff.js';
import { snapshot, type TaskRecord, type TerminalStatus } from '../task.js';
import type { ExitInfo } from '../transports/types.js';
import type { AttemptEnd, Extras, KillReason, Live } from './live.js';
import type { RunnerSink, RunnerState, TaskRunner } from './task-runner.js';

/**
 * A start the transport refused before anything ran is made again after 1 s, 2 s, 4 s, … (at
 * most 30 s), up to this many times in a row; then the attempt fails as unreachable.
 */
export const MAX_REFUSED_STARTS = 5;
const REFUSED_BASE_MS = 1000;
const REFUSED_MAX_MS = 30_000;

/** Reports a fault of a user callback (the runner's `sink.error`). */
type ReportError = (err: unknown, taskId?: string) => void;

/**
 * Whether the executor's kill came after the attempt had ended by itself (`exit.endedBeforeKill`),
 * so that it changed nothing. Not for `output_limit`: a stream cut at the limit is why the task
 * fails, whoever ended the process.
 */
export function killCameLate(exit: ExitInfo, killReason: KillReason | undefined): boolean {
  return exit.endedBeforeKill === true && killReason !== undefined && killReason !== 'output_limit';
}

/**
 * The terminal status and reason an ended attempt counts as, given why the executor killed it (if
 * it did). A kill that came too late ({@link killCameLate}) changed nothing: the attempt's own end
 * counts. One cancelled while it waited in a cluster's queue keeps the transport's
 * `cancelled_before_start` (it never ran).
 */
export function classify(exit: ExitInfo, killReason: KillReason | undefined, error: unknown): { status: TerminalStatus; reason: string | undefined } {
  switch (killCameLate(exit, killReason) ? undefined : killReason) {
    case 'cancelled':
      return { status: 'cancelled', reason: exit.reason === 'cancelled_before_start' ? exit.reason : killReason };
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

/**
 * The delay before the task's next attempt, or undefined when the attempt that ended as
 * `status` is not retried (policy exhausted, executor stopping, cancelled, completed, refused
 * by `retryOn`, or a broken backoff function).
 */
export function retryDelay(
  record: TaskRecord,
  status: TerminalStatus,
  killReason: KillReason | undefined,
  extras: Extras | undefined,
  state: RunnerState,
  report: ReportError,
): number | undefined {
  const policy = record.spec.retry;
  if (!policy || record.attempt >= policy.attempts) return undefined;
  if (state === 'stopping' || state === 'stopped') return undefined;
  if (killReason === 'cancelled' || killReason === 'shutdown' || status === 'completed') return undefined;
  let allowed: boolean;
  // An attempt killed because its executor restarted did not fail on its own: the policy's attempts decide.
  if (killReason === 'executor_restart') allowed = true;
  else if (extras?.retryOnFn) {
    try {
      allowed = extras.retryOnFn(snapshot({ ...record, status }));
    } catch (err) {
      report(new CallbackError('retry.retryOn', `threw ${describeThrown(err)}; the task is not retried`, { cause: err, taskId: record.id }), record.id);
      allowed = false;
    }
  } else allowed = (policy.retryOn ?? ['failed']).includes(status as 'failed');
  if (!allowed) return undefined;
  return backoff(record, extras, report);
}

// Every delay goes through backoffDelay. A backoff function that throws or returns no usable
// delay (not a number, NaN, ±Infinity, negative, past 2^31 - 1 ms) means the
// task is not retried: it settles with the attempt's outcome and an error event says why.
// Waiting forever (or retrying at once when a delay was asked for) would hide the bug.
function backoff(record: TaskRecord, extras: Extras | undefined, report: ReportError): number | undefined {
  const fn = extras?.backoffFn;
  if (!fn) return backoffDelay(record.spec.retry?.backoff, record.attempt);
  let raw: unknown;
  try {
    raw = fn(record.attempt);
  } catch (err) {
    report(new CallbackError('retry.backoff', `threw ${describeThrown(err)}; the task is not retried`, { cause: err, taskId: record.id }), record.id);
    return undefined;
  }
  // Past the longest timer (2^31 - 1 ms, 24.8 days) is a bug too: a task waiting that long
  // would hold onIdle() and a drain for weeks, which is a wedge by another name.
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > MAX_BACKOFF_MS) {
    const what = typeof raw === 'number' ? String(raw) : typeof raw;
    report(new CallbackError('retry.backoff', `returned ${what}, not a delay in ms between 0 and ${MAX_BACKOFF_MS}; the task is not retried`, { taskId: record.id }), record.id);
    return undefined;
  }
  return backoffDelay(() => raw as number, record.attempt);
}

/** Puts a task whose attempt ended back in the queue (`waiting` until `delayMs` has passed) and announces the retry. */
export function retry(
  runner: TaskRunner,
  o: ResolvedOptions,
  sink: RunnerSink,
  record: TaskRecord,
  delayMs: number,
  end: AttemptEnd,
  error?: TaskRecord['error'],
): void {
  record.exitCode = end.exitCode;
  record.signal = end.signal;
  if (end.reason !== undefined) record.reason = end.reason;
  if (error) record.error = error;
  record.order = ++runner.order;
  if (delayMs > 0) record.runAt = o.clock.now() + delayMs;
  runner.setStatus(record, delayMs > 0 ? 'waiting' : 'queued');
  runner.metrics.retried++;
  o.scheduler.add(runner.entryOf(record), { force: true });
  runner.persist(record);
  if (tracing()) trace('retry', record.id, { nextAttempt: record.attempt + 1, delayMs, reason: end.reason });
  sink.task('task:retrying', record, { ...end, nextAttempt: record.attempt + 1, delayMs });
  runner.notify(record.id);
  runner.scheduleDispatch();
}

// The transport reached nothing, so nothing ran: the attempt is given back (its number is
// reused, no history entry) and made again after a backoff, a bounded number of times.
/** Re-queues an attempt whose start the transport refused; false when it must fail instead. */
export function requeueRefused(runner: TaskRunner, o: ResolvedOptions, sink: RunnerSink, record: TaskRecord, live: Live, err: unknown): boolean {
  // Tasks without extras have no entry until one is needed (a task forgotten meanwhile has no record).
  let extras = runner.extras.get(record.id);
  if (!extras && runner.records.get(record.id) === record) runner.extras.set(record.id, (extras = {}));
  const refused = (extras?.refusedStarts ?? 0) + 1;
  // A kill asked for while the start was in flight (cancel, shutdown) decides instead.
  if (!extras || live.killReason !== undefined || refused > MAX_REFUSED_STARTS || (runner.state !== 'running' && runner.state !== 'draining')) {
    return false;
  }
  const { clock, scheduler } = o;
  extras.refusedStarts = refused;
  live.done = true;
  scheduler.release(record.id);
  runner.live.delete(record.id);
  const delayMs = Math.min(REFUSED_BASE_MS * 2 ** (refused - 1), REFUSED_MAX_MS);
  record.attempt -= 1;
  // It never started: `startedAt` is again that of the attempt before it, if any.
  const previous = record.history[record.history.length - 1]?.startedAt;
  if (previous === undefined) delete record.startedAt;
  else record.startedAt = previous;
  record.note = `start refused: ${errorMessage(err)}`.slice(0, 500);
  record.runAt = clock.now() + delayMs;
  runner.setStatus(record, 'waiting');
  scheduler.add(runner.entryOf(record), { force: true });
  runner.persist(record);
  if (tracing()) trace('requeue', record.id, { attempt: record.attempt + 1, refused, delayMs });
  sink.task('task:retrying', record, {
    exitCode: null, signal: null, reason: 'start_refused', endedAt: clock.now(), nextAttempt: record.attempt + 1, delayMs,
  });
  runner.notify(record.id);
  live.markEnded();
  runner.scheduleDispatch();
  return true;
}

/** A thrown value, described for an error message. */
function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return typeof err === 'string' ? JSON.stringify(err.slice(0, 200)) : typeof err;
}
