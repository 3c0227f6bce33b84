import { BgexecError } from '../errors.js';
import type { ResolvedOptions } from '../executor-options.js';
import type { RecoveryHost } from '../recovery.js';
import { isTerminal, type TaskRecord } from '../task.js';
import { createLive, type Live } from './live.js';
import type { RunnerSink, TaskRunner } from './task-runner.js';

/** Connects recovery to the runner's tables and end path. */
export function createRecoveryHost(
  runner: TaskRunner,
  o: ResolvedOptions,
  sink: RunnerSink,
  onAdopt: (record: TaskRecord) => void,
): RecoveryHost {
  // A recovered attempt holds a slot like any running one until its end has been processed.
  const occupy = (record: TaskRecord, live: Live): void => {
    runner.live.set(record.id, live);
    const pool = record.spec.transport ?? o.defaultTransport;
    o.scheduler.markRunning({ id: record.id, pool, ...(record.spec.group !== undefined ? { group: record.spec.group } : {}) });
  };
  return {
    clock: o.clock,
    transports: o.transports,
    defaultTransport: o.defaultTransport,
    adopt: (record) => {
      runner.records.set(record.id, record);
      runner.extras.set(record.id, {});
      runner.order = Math.max(runner.order, record.order);
      runner.metrics.move(undefined, record.status);
      onAdopt(record);
    },
    enqueue: (record) => o.scheduler.add(runner.entryOf(record), { force: true }),
    reattach: (record, transport, handle, killReason) => {
      const live = createLive(transport, handle);
      occupy(record, live);
      // watch() starts the kill when a reason is set, and persists that reason first.
      if (killReason) live.killReason = killReason;
      runner.watch(record, live);
    },
    finish: (record, exit, killReason) => {
      const transport = runner.transportOf(record);
      if (!transport) {
        runner.settle(record, 'lost', { exitCode: null, signal: null, reason: exit.reason ?? 'transport_missing', endedAt: exit.endedAt });
        return Promise.resolve();
      }
      const live = createLive(transport, record.handle);
      if (killReason) live.killReason = killReason;
      occupy(record, live);
      return runner.endAttempt(record, live, exit);
    },
    persist: (record) => runner.persist(record),
    reportError: (err, taskId) => sink.error(err, taskId),
  };
}

// Records recovered from the store have lost their function-valued retry options; say so.
/** Reports (`CALLBACK_UNAVAILABLE`) each unfinished record whose retry functions were not stored and so are gone after a restart. */
export function reportLostFunctions(records: readonly TaskRecord[], report: (err: unknown, taskId?: string) => void): void {
  for (const record of records) {
    const retry = record.spec.retry;
    const lost = retry?.functions;
    if (!retry || !lost?.length || isTerminal(record.status) || record.attempt >= retry.attempts) continue;
    const fallback = lost.map((f) => (f === 'backoff' ? 'no delay between attempts' : 'retryOn ["failed"]')).join(' and ');
    const message =
      `retry.${lost.join(' and retry.')} was a function, which cannot be stored: after this restart the task uses ` +
      `${fallback}. Use a stored strategy (backoff { type: 'fixed' | 'exponential', … }, retryOn: [statuses]) to keep it.`;
    report(new BgexecError('CALLBACK_UNAVAILABLE', message, { taskId: record.id, field: `retry.${lost[0]!}` }), record.id);
  }
}
