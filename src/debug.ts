/**
 * Tracing, the two ways Node offers:
 *
 * - `NODE_DEBUG=bgexec` (`util.debuglog`): every executor writes one line to stderr per submit,
 *   start (with pid), exit, retry (with delay), re-queued refused start, kill (with reason),
 *   settle and shutdown, prefixed `BGEXEC <pid>:` by Node. Lines are `<what> <taskId>
 *   key=value …`; string values are JSON-quoted and cut to 200 characters.
 * - The diagnostics channel {@link TRACE_CHANNEL} (`node:diagnostics_channel`): the same
 *   events as {@link TraceMessage} objects, for code (APM agents, tests) rather than people.
 *
 * With neither on, tracing costs one boolean test per event: callers test {@link tracing}
 * before building anything. Commands are included; `secretEnv` values never are.
 *
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

/** Name of the `node:diagnostics_channel` channel bgexec publishes {@link TraceMessage}s on. */
export const TRACE_CHANNEL = 'bgexec';

/** What happened, as traced. */
export type TraceKind = 'submit' | 'start' | 'exit' | 'retry' | 'requeue' | 'kill' | 'settle' | 'shutdown';

/**
 * One message on {@link TRACE_CHANNEL}: what happened, the task (absent for `shutdown`), and
 * the fields of the matching `NODE_DEBUG` line (`attempt`, `pid`, `status`, `exitCode`,
 * `signal`, `reason`, `delayMs`, `nextAttempt`, `graceMs`, `command`, `transport`, `mode`, …).
 */
export interface TraceMessage {
  /** What happened. */
  what: TraceKind;
  /** The task concerned (absent for `shutdown`). */
  taskId?: string;
  /** The event's other fields, as on its `NODE_DEBUG` line. */
  [field: string]: unknown;
}

const log = debuglog('bgexec');
const diagnostics = channel(TRACE_CHANNEL);
const MAX_VALUE = 200;

/** Whether anything listens: `NODE_DEBUG` enables bgexec, or the channel has subscribers. */
export function tracing(): boolean {
  return log.enabled || diagnostics.hasSubscribers;
}

/** Publishes one event on the channel and writes its `NODE_DEBUG` line, where enabled. */
export function trace(what: TraceKind, id: string | undefined, fields: Record<string, unknown> = {}): void {
  if (diagnostics.hasSubscribers) {
    const message: TraceMessage = { what, ...(id !== undefined ? { taskId: id } : {}) };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) message[key] = value;
    diagnostics.publish(message);
  }
  if (!log.enabled) return;
  let line = `${what} ${id ?? '-'}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${key}=${formatValue(value)}`;
  }
  log('%s', line);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}…` : value);
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '?';
  }
}
