import { BgexecError, InvalidArgumentError, isTerminal, systemClock, type Clock, type TaskRecord } from '../index.js';
import type { SchemaConfig } from './schemas.js';
import type { AgentErrorCode, AgentExecutor, AgentLimits, AgentTaskDefaults, AgentToolError, AgentToolsOptions } from './types.js';

/** Default output budget of one tool result, in bytes. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16_384;
const MIN_OUTPUT_BUDGET = 1024;

const DEFAULT_LIMITS: AgentLimits = {
  maxWaitMs: 300_000,
  maxStartWaitMs: 30_000,
  defaultStartWaitMs: 1000,
  maxTimeoutMs: 86_400_000,
  maxGraceMs: 60_000,
};

type Stream = 'stdout' | 'stderr';

/** Everything the tool handlers share: options, the session check and what the model has read. */
export class ToolContext implements SchemaConfig {
  readonly ex: AgentExecutor;
  readonly session: string | undefined;
  readonly maxOutputBytes: number;
  readonly allowedTransports: readonly string[] | undefined;
  readonly defaults: AgentTaskDefaults;
  readonly clock: Clock;
  readonly limits: AgentLimits;
  readonly ackOnReport: boolean;
  // Per task and stream: the attempt and byte offset up to which output was shown to the model.
  readonly #cursors = new Map<string, { attempt: number; cursor: number }>();

  constructor(ex: AgentExecutor, options: AgentToolsOptions) {
    if (ex === null || typeof ex !== 'object' || typeof ex.submit !== 'function') {
      throw new InvalidArgumentError('executor', 'must be a BackgroundExecutor');
    }
    if (options.session !== undefined && (typeof options.session !== 'string' || options.session.length === 0)) {
      throw new InvalidArgumentError('session', 'must be a non-empty string');
    }
    const budget = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (!Number.isSafeInteger(budget) || budget < MIN_OUTPUT_BUDGET) {
      throw new InvalidArgumentError('maxOutputBytes', `must be an integer >= ${MIN_OUTPUT_BUDGET}, got ${String(budget)}`);
    }
    const transports = options.allowedTransports;
    if (transports !== undefined && (!Array.isArray(transports) || transports.some((t) => typeof t !== 'string' || t === ''))) {
      throw new InvalidArgumentError('allowedTransports', 'must be an array of transport names');
    }
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [key, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`limits.${key}`, `must be an integer >= 0, got ${String(value)}`);
    }
    this.ex = ex;
    this.session = options.session;
    this.maxOutputBytes = budget;
    this.allowedTransports = transports && transports.length > 0 ? [...transports] : undefined;
    this.defaults = { ...options.defaults };
    this.clock = options.clock ?? systemClock;
    this.limits = limits;
    this.ackOnReport = options.ackOnReport ?? true;
  }

  /** The task, if it exists and belongs to this session; otherwise undefined (never a hint that it exists). */
  own(id: string): TaskRecord | undefined {
    const r = this.ex.get(id);
    if (!r) return undefined;
    if (this.session !== undefined && r.spec.session !== this.session) return undefined;
    return r;
  }

  /** Where the model's last view of this task's stream ended (0 for a new attempt). */
  lastCursor(record: TaskRecord, stream: Stream): number {
    const seen = this.#cursors.get(`${record.id}:${stream}`);
    return seen && seen.attempt === record.attempt ? seen.cursor : 0;
  }

  /** Remembers how far the model has seen a stream. */
  remember(id: string, stream: Stream, attempt: number, cursor: number): void {
    if (this.#cursors.size > 4096) this.#prune();
    this.#cursors.set(`${id}:${stream}`, { attempt, cursor });
  }

  /** Acks the completion of a task whose final status a result is about to report. */
  reported(record: TaskRecord): void {
    if (this.ackOnReport && isTerminal(record.status) && !record.acked) this.ex.ack(record.id);
  }

  #prune(): void {
    for (const key of this.#cursors.keys()) {
      if (!this.ex.get(key.slice(0, key.lastIndexOf(':')))) this.#cursors.delete(key);
    }
  }
}

/** Clamps an integer parameter into `[min, max]`, noting the change in `notes`. */
export function clamp(name: string, value: number, min: number, max: number, notes: string[]): number {
  if (value < min) {
    notes.push(`${name}=${value} is below the minimum; used ${min}`);
    return min;
  }
  if (value > max) {
    notes.push(`${name}=${value} is above the maximum; used ${max}`);
    return max;
  }
  return value;
}

/** Builds an error result. */
export function fail(error: AgentErrorCode, message: string): AgentToolError {
  return { ok: false, error, message };
}

/** The error result for an id that is unknown or belongs to another session. */
export function unknownTask(id: string): AgentToolError {
  return fail(
    'unknown_task',
    `No task with id ${JSON.stringify(id)}. Call bg_list to see your task ids (they come from bg_start), or bg_start to start the command again.`,
  );
}

/** Turns an executor error into an error result the model can act on. */
export function fromError(err: unknown, what: string): AgentToolError {
  if (err instanceof BgexecError) {
    if (err.code === 'NOT_FOUND' && err.taskId !== undefined) return unknownTask(err.taskId);
    if (err.code === 'SHUTTING_DOWN') return fail('executor_unavailable', `${what} failed: the executor is shutting down. Do not retry.`);
    if (err.code === 'QUEUE_FULL') return fail('start_failed', `${what} failed: the queue is full. Wait for running tasks (bg_wait) and try again.`);
    if (err.code === 'INVALID_SPEC' || err.code === 'INVALID_ARGUMENT') return fail('invalid_input', `${what} failed: ${err.message}. Fix the arguments and call again.`);
    if (err.code === 'OUTPUT_GONE') return fail('failed', `${what} failed: the output of this task was already cleaned up.`);
  }
  return fail('failed', `${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}

/** Run time of the last attempt (so far, while it runs). */
export function durationOf(record: TaskRecord, now: number): number | undefined {
  if (record.startedAt === undefined) return undefined;
  return Math.max(0, (record.endedAt ?? now) - record.startedAt);
}
