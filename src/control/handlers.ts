import type { CleanupOptions } from '../executor-options.js';
import { BgexecError, InvalidArgumentError } from '../errors.js';
import { isTerminal, type TaskRecord, type TaskSpec } from '../task.js';
import type { ControlRequest } from './protocol.js';

/** What control requests need of an executor (a subset of `BackgroundExecutor`). */
export interface ControlTarget {
  get(id: string): TaskRecord | undefined;
  submit(spec: TaskSpec): Promise<TaskRecord>;
  cancel(id: string, options?: { graceMs?: number; by?: string }): Promise<TaskRecord>;
  retryNow(id: string): TaskRecord;
  setPriority(id: string, priority: number): TaskRecord;
  pause(group?: string): void;
  resume(group?: string): void;
  cleanup(options?: CleanupOptions): Promise<number>;
  write(id: string, data: string | Uint8Array): Promise<void>;
  closeStdin(id: string): Promise<void>;
}

// Spec fields that must not be copied into a new task: the key would return the old task,
// the delay was already served, and secret values are not in the record.
const NOT_COPIED = new Set(['idempotencyKey', 'delayMs', 'secretEnvKeys']);

/** The spec of a new task running `record`'s command again, as a restart of a finished task. */
function respecOf(record: TaskRecord): TaskSpec {
  if (record.spec.secretEnvKeys !== undefined && record.spec.secretEnvKeys.length > 0) {
    throw new InvalidArgumentError('taskId', `task ${record.id} had secret environment values, which are not stored: submit it again from its application`, { taskId: record.id });
  }
  const spec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.spec)) if (!NOT_COPIED.has(k)) spec[k] = v;
  if (record.spec.retry) {
    const { functions: _f, ...retry } = record.spec.retry;
    spec.retry = retry;
  }
  return spec as unknown as TaskSpec;
}

/**
 * Serves one checked request. `retry` of a `waiting` task runs it now; of a finished task it
 * submits a new task with the same spec (the result names both). Rejects with the executor's
 * own errors (`NOT_FOUND`, `INVALID_ARGUMENT`, `INVALID_SPEC`, …).
 */
export async function serveControlRequest(target: ControlTarget, request: ControlRequest, by: string | undefined): Promise<unknown> {
  switch (request.op) {
    case 'ping':
      return { pid: process.pid };
    case 'cancel':
      return target.cancel(request.taskId, {
        ...(request.graceMs !== undefined ? { graceMs: request.graceMs } : {}),
        ...(by !== undefined ? { by } : {}),
      });
    case 'retry': {
      const record = target.get(request.taskId);
      if (record && isTerminal(record.status)) {
        const task = await target.submit(respecOf(record));
        return { task, retryOf: record.id };
      }
      return { task: target.retryNow(request.taskId) };
    }
    case 'priority':
      return target.setPriority(request.taskId, request.priority);
    case 'pause':
      target.pause(request.group);
      return { paused: request.group ?? null };
    case 'resume':
      target.resume(request.group);
      return { resumed: request.group ?? null };
    case 'submit':
      if ('signal' in request.spec) throw new InvalidArgumentError('spec.signal', 'cannot be sent in a request');
      return target.submit(request.spec as unknown as TaskSpec);
    case 'input': {
      // Answered once the bytes are in the task's input pipe, so the sender's next request
      // (the next chunk, or the close) comes after them.
      if (request.data !== undefined && request.data !== '') await target.write(request.taskId, Buffer.from(request.data, 'base64'));
      if (request.close === true) await target.closeStdin(request.taskId);
      return { taskId: request.taskId, bytes: request.data === undefined ? 0 : Buffer.from(request.data, 'base64').length, closed: request.close === true };
    }
    case 'prune': {
      const { op: _op, ...options } = request;
      return { removed: await target.cleanup(options as CleanupOptions) };
    }
    default:
      throw new BgexecError('INVALID_ARGUMENT', `unknown op ${JSON.stringify((request as { op: unknown }).op)}`);
  }
}
