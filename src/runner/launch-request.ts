import type { TaskRecord } from '../task.js';
import type { LaunchRequest } from '../transports/types.js';
import { stdinBytes } from '../validate-stdin.js';

/** Grace between SIGTERM and SIGKILL when neither the kill nor the spec names one. */
export const DEFAULT_GRACE_MS = 5000;
/** Per-stream output cap when the spec names none (1 GiB). */
export const DEFAULT_MAX_OUTPUT = 1024 ** 3;

/**
 * What the transport is asked to start for the record's current attempt; `secretEnv` is merged
 * over `spec.env`. `recoverable` is false when the executor's store is not durable.
 */
export function launchRequest(
  record: TaskRecord,
  secretEnv: Readonly<Record<string, string>> | undefined,
  recoverable = true,
): LaunchRequest {
  const { spec } = record;
  const env = secretEnv ? { ...spec.env, ...secretEnv } : spec.env;
  // Optional fields assigned, not spread: a conditional spread allocates a temporary object
  // each, and this runs once per attempt.
  const req: LaunchRequest = {
    taskId: record.id,
    attempt: record.attempt,
    command: spec.command,
    detached: spec.detached ?? false,
    // Enforced by the transport where the bytes are written (the files never exceed it).
    maxOutputBytes: spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
    graceMs: spec.graceMs ?? DEFAULT_GRACE_MS,
  };
  // Only said when false: every transport that does not care sees the request as before.
  if (!recoverable) req.recoverable = false;
  if (spec.args) req.args = spec.args;
  if (spec.cwd !== undefined) req.cwd = spec.cwd;
  if (env) req.env = env;
  // What the leader leaves behind is reaped by the transport before the attempt ends.
  if (spec.orphans !== undefined) req.orphans = spec.orphans;
  if (spec.lingerMs !== undefined) req.lingerMs = spec.lingerMs;
  if (spec.resources !== undefined) req.resources = spec.resources;
  // Names only: a transport that cannot keep values out of its own records refuses them.
  if (spec.secretEnvKeys?.length) req.secretEnvKeys = spec.secretEnvKeys;
  if (spec.stdin !== undefined) req.stdin = spec.stdin === 'pipe' ? 'pipe' : stdinBytes(spec.stdin);
  if (spec.tty !== undefined) req.tty = spec.tty;
  return req;
}
