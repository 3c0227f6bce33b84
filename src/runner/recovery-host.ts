import type { ResolvedOptions } from '../executor-options.js';
import type { RecoveryHost } from '../recovery.js';
import type { TaskRecord } from '../task.js';
import { createLive } from './live.js';
import type { RunnerSink, TaskRunner } from './task-runner.js';

/** Connects recovery to the runner's tables and end path. */
export function createRecoveryHost(
  runner: TaskRunner,
  o: ResolvedOptions,
  sink: RunnerSink,
  onAdopt: (record: TaskRecord) => void,
): RecoveryHost {
  const groupOf = (record: TaskRecord): { group?: string } =>
    record.spec.group !== undefined ? { group: record.spec.group } : {};
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
    reattach: (record, transport, handle) => {
      const live = createLive(transport, handle);
      runner.live.set(record.id, live);
      o.scheduler.markRunning({ id: record.id, ...groupOf(record) });
      return {
        watch: () => runner.watch(record, live),
        kill: (reason) => {
          live.killReason = reason;
        },
      };
    },
    finish: (record, exit, error) => {
      // An attempt that ended while no executor watched goes through the normal end path.
      const transport = runner.transportOf(record);
      if (!transport) {
        runner.settle(record, 'lost', { exitCode: null, signal: null, reason: exit.reason ?? 'transport_missing', endedAt: exit.endedAt });
        return Promise.resolve();
      }
      const live = createLive(transport, record.handle);
      runner.live.set(record.id, live);
      o.scheduler.markRunning({ id: record.id, ...groupOf(record) });
      return runner.endAttempt(record, live, exit, error);
    },
    persist: (record) => runner.persist(record),
    reportError: (err, taskId) => sink.error(err, taskId),
  };
}
