import { BgexecError, InvalidArgumentError, isTerminal, systemClock, type Clock, type TaskRecord } from '../index.js';
import type { SchemaConfig } from './schemas.js';
import type { AgentErrorCode, AgentExecutor, AgentLimits, AgentTaskDefaults, AgentToolError, AgentToolsOptions } from './types.js';

/**
 * Default budget of one tool result, in characters the model receives (status, output and
 * notices together, output counted as JSON-encoded).
 */
export const DEFAULT_MAX_OUTPUT_CHARS = 16_384;
/** @deprecated The budget is counted in characters: use {@link DEFAULT_MAX_OUTPUT_CHARS}. */
export const DEFAULT_MAX_OUTPUT_BYTES = DEFAULT_MAX_OUTPUT_CHARS;
const MIN_OUTPUT_BUDGET = 1024;
// Smallest share of a result's budget kept for output, whatever the status around it takes.
const MIN_OUTPUT_SHARE = 256;

const DEFAULT_LIMITS: AgentLimits = {
  maxWaitMs: 300_000,
  maxStartWaitMs: 30_000,
  defaultStartWaitMs: 1000,
  defaultWriteWaitMs: 2000,
  maxTimeoutMs: 86_400_000,
  maxGraceMs: 60_000,
};

type Stream = 'stdout' | 'stderr';

/** What the model has been shown of one stream of one attempt. */
export interface SeenState {
  attempt: number;
  /** Everything before this byte offset was shown (or deliberately skipped by a tail read). */
  cursor: number;
  /** A tail preview already shown, `[start, end)`, that paging passes over instead of re-sending. */
  shownTail?: { start: number; end: number };
}

/** Everything the tool handlers share: options, the session check and what the model has read. */
export class ToolContext implements SchemaConfig {
  readonly ex: AgentExecutor;
  readonly session: string | undefined;
  /** Budget of one result, in characters ({@link DEFAULT_MAX_OUTPUT_CHARS}). */
  readonly maxOutputChars: number;
  readonly allowedTransports: readonly string[] | undefined;
  readonly defaults: AgentTaskDefaults;
  readonly clock: Clock;
  readonly limits: AgentLimits;
  readonly ackOnReport: boolean;
  readonly strict: boolean;
  readonly readable: boolean;
  readonly appendNotices: boolean;
  // Per task and stream: what of which attempt was shown to the model.
  readonly #cursors = new Map<string, SeenState>();
  // Per task and stream: the read in progress, so reads without a cursor never overlap.
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(ex: AgentExecutor, options: AgentToolsOptions) {
    if (ex === null || typeof ex !== 'object' || typeof ex.submit !== 'function') {
      throw new InvalidArgumentError('executor', 'must be a BackgroundExecutor');
    }
    if (options.session !== undefined && (typeof options.session !== 'string' || options.session.length === 0)) {
      throw new InvalidArgumentError('session', 'must be a non-empty string');
    }
    const budgetName = options.maxOutputChars !== undefined ? 'maxOutputChars' : 'maxOutputBytes';
    const budget = options.maxOutputChars ?? options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_CHARS;
    if (!Number.isSafeInteger(budget) || budget < MIN_OUTPUT_BUDGET) {
      throw new InvalidArgumentError(budgetName, `must be an integer >= ${MIN_OUTPUT_BUDGET}, got ${String(budget)}`);
    }
    for (const flag of ['strict', 'readable', 'ackOnReport', 'appendNotices'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new InvalidArgumentError(flag, 'must be true or false');
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
    this.maxOutputChars = budget;
    this.allowedTransports = transports && transports.length > 0 ? [...transports] : undefined;
    this.defaults = { ...options.defaults };
    this.clock = options.clock ?? systemClock;
    this.limits = limits;
    this.ackOnReport = options.ackOnReport ?? true;
    this.strict = options.strict ?? false;
    this.readable = options.readable ?? true;
    this.appendNotices = options.appendNotices ?? false;
  }

  /** Characters left for output in a result whose other parts cost `used` (never below a small floor). */
  outputBudget(used: number): number {
    return Math.max(MIN_OUTPUT_SHARE, this.maxOutputChars - used);
  }

  /**
   * Runs `fn` alone for one task's stream: reads that start where the last one stopped must
   * see that read's end, or two calls at once would both return the same bytes.
   */
  exclusive<T>(id: string, stream: Stream, fn: () => Promise<T>): Promise<T> {
    const key = `${id}:${stream}`;
    const before = this.#locks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return run;
  }

  /** What the model has seen of a stream of the task's current attempt. */
  seen(record: TaskRecord, stream: Stream): SeenState {
    const s = this.#cursors.get(`${record.id}:${stream}`);
    return s && s.attempt === record.attempt ? s : { attempt: record.attempt, cursor: 0 };
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
    return this.seen(record, stream).cursor;
  }

  /**
   * Remembers how far the model has seen a stream, and a tail preview it was shown (kept while
   * the cursor is still before it, so paging can pass over it).
   */
  remember(id: string, stream: Stream, attempt: number, cursor: number, shownTail?: { start: number; end: number }): void {
    if (this.#cursors.size > 4096) this.#prune();
    const key = `${id}:${stream}`;
    const old = this.#cursors.get(key);
    let tail = shownTail ?? (old && old.attempt === attempt ? old.shownTail : undefined);
    if (tail && cursor >= tail.start) tail = undefined;
    this.#cursors.set(key, tail ? { attempt, cursor, shownTail: tail } : { attempt, cursor });
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
