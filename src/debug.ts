/**
 * Tracing through Node's `util.debuglog`: run with `NODE_DEBUG=bgexec` and every executor
 * writes one line to stderr per submit, start (with pid), exit, retry (with delay), kill (with
 * reason), settle and shutdown, each prefixed `BGEXEC <pid>:` by Node. Off by default, and
 * then free: callers test {@link tracing} before building a line.
 *
 * Lines are `<what> <taskId> key=value …`; values that are strings are JSON-quoted. Commands
 * are included (cut to 200 characters); `secretEnv` values never are.
 *
 * @module
 */
import { debuglog } from 'node:util';

const log = debuglog('bgexec');
const MAX_VALUE = 200;

/** Whether `NODE_DEBUG` enables bgexec tracing in this process. */
export function tracing(): boolean {
  return log.enabled;
}

/** Writes one trace line: `what id key=value…` (only when tracing is enabled). */
export function trace(what: string, id: string, fields: Record<string, unknown> = {}): void {
  if (!log.enabled) return;
  let line = `${what} ${id}`;
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
