import { describeValue, msArg, optionsArg, stringArg } from './args.js';
import { BgexecError, InvalidArgumentError, NotFoundError } from './errors.js';
import type { ResolvedOptions } from './executor-options.js';
import type { TaskRunner } from './runner/task-runner.js';
import { frozenCopy, isTerminal, snapshot, type TaskRecord, type TransportHandle } from './task.js';
import { MAX_TIMER_MS } from './validate-spec.js';

// Steering of tasks from outside their normal course: cancel one, run a waiting one now,
// change a queued one's priority. The last two go through the scheduler's remove + add, so its
// heaps never hold a stale entry.

function mustGet(runner: TaskRunner, id: unknown): TaskRecord {
  const record = runner.records.get(stringArg('id', id));
  if (!record) throw new NotFoundError(id as string);
  return record;
}

/**
 * `cancel()`: a queued task never starts; a running one has its whole process tree killed
 * (TERM, then KILL after `graceMs`). `by` (who asks) is kept as `cancelledBy`, unless the
 * attempt was already being killed for another reason. Resolves with the terminal record.
 */
export async function cancelTask(runner: TaskRunner, o: ResolvedOptions, id: unknown, options: unknown): Promise<TaskRecord> {
  stringArg('id', id);
  const graceMs = msArg('graceMs', optionsArg('options', options).graceMs, MAX_TIMER_MS);
  const by = stringArg('by', optionsArg('options', options).by, true);
  const record = mustGet(runner, id);
  if (isTerminal(record.status)) return snapshot(record);
  const live = runner.live.get(record.id);
  if (by !== undefined && live?.killReason === undefined) record.cancelledBy = by;
  if (live) {
    await runner.kill(record, live, 'cancelled', graceMs);
    await live.ended;
    return snapshot(record);
  }
  o.scheduler.remove(record.id);
  runner.settle(record, 'cancelled', { exitCode: null, signal: null, reason: 'cancelled', endedAt: o.clock.now() });
  return snapshot(record);
}

function notPending(record: TaskRecord, what: string): BgexecError {
  return new InvalidArgumentError('id', `task ${record.id} is ${record.status}: only a queued or waiting task can ${what}`, { taskId: record.id });
}

// Takes the task out of the scheduler, lets `change` edit it, and queues it again.
function requeue(runner: TaskRunner, o: ResolvedOptions, record: TaskRecord, change: () => void): void {
  o.scheduler.remove(record.id);
  change();
  o.scheduler.add(runner.entryOf(record), { force: true });
  runner.persist(record);
  runner.notify(record.id);
  runner.scheduleDispatch();
}

/**
 * Makes a `waiting` task (a delay or a retry backoff) due now: it becomes `queued` and starts as
 * soon as the caps allow. A `queued` task is left as it is. Any other status is refused with
 * `INVALID_ARGUMENT` (a finished task is not restarted: submit its spec again).
 */
export function retryTaskNow(runner: TaskRunner, o: ResolvedOptions, id: unknown): TaskRecord {
  const record = mustGet(runner, id);
  if (record.status === 'queued') return snapshot(record);
  if (record.status !== 'waiting') throw notPending(record, 'be retried now');
  requeue(runner, o, record, () => {
    delete record.runAt;
    runner.setStatus(record, 'queued');
  });
  return snapshot(record);
}

/**
 * Changes the priority of a `queued` or `waiting` task (higher runs first); the task keeps its
 * place among tasks of its new priority by submission order. A finite number is required; a
 * task that already started is refused with `INVALID_ARGUMENT`.
 */
export function setTaskPriority(runner: TaskRunner, o: ResolvedOptions, id: unknown, priority: unknown): TaskRecord {
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new InvalidArgumentError('priority', `must be a finite number, got ${describeValue(priority)}`);
  }
  const record = mustGet(runner, id);
  if (record.status !== 'queued' && record.status !== 'waiting') throw notPending(record, 'change its priority');
  if ((record.spec.priority ?? 0) === priority) return snapshot(record);
  // Stored specs are frozen and replaced, never mutated (see Store).
  requeue(runner, o, record, () => {
    record.spec = frozenCopy(record.spec, { priority });
  });
  return snapshot(record);
}

/**
 * Forgets a terminal task for `cleanup()`: the output of each of its attempts (a transport
 * failure is reported, and the rest goes on), its stored record, its place in the tables.
 */
export async function removeTask(runner: TaskRunner, o: ResolvedOptions, record: TaskRecord, report: (err: unknown) => void): Promise<void> {
  const transport = runner.transportOf(record);
  const handles = new Map<number, TransportHandle>();
  for (const h of record.history) if (h.handle) handles.set(h.attempt, h.handle);
  if (record.handle) handles.set(record.attempt, record.handle);
  for (const h of handles.values()) await transport?.cleanup(h).catch(report);
  // The executor's private default store holds nothing to delete (see ResolvedOptions.persists).
  if (o.persists) await o.store.delete(record.id);
  runner.forget(record.id);
}
