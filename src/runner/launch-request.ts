import type { TaskRecord } from '../task.js';
import type { LaunchRequest } from '../transports/types.js';

/** Grace between SIGTERM and SIGKILL when neither the kill nor the spec names one. */
export const DEFAULT_GRACE_MS = 5000;
/** Per-stream output cap when the spec names none (1 GiB). */
export const DEFAULT_MAX_OUTPUT = 1024 ** 3;

/** What the transport is asked to start for the record's current attempt; `secretEnv` is merged over `spec.env`. */
export function launchRequest(record: TaskRecord, secretEnv: Readonly<Record<string, string>> | undefined): LaunchRequest {
  const { spec } = record;
  const env = secretEnv ? { ...spec.env, ...secretEnv } : spec.env;
  return {
    taskId: record.id,
    attempt: record.attempt,
    command: spec.command,
    ...(spec.args ? { args: spec.args } : {}),
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    ...(env ? { env } : {}),
    detached: spec.detached ?? false,
    // Enforced by the transport where the bytes are written (the files never exceed it).
    maxOutputBytes: spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
    // What the leader leaves behind is reaped by the transport before the attempt ends.
    ...(spec.orphans !== undefined ? { orphans: spec.orphans } : {}),
    ...(spec.lingerMs !== undefined ? { lingerMs: spec.lingerMs } : {}),
    graceMs: spec.graceMs ?? DEFAULT_GRACE_MS,
    ...(spec.resources !== undefined ? { resources: spec.resources } : {}),
    // Names only: a transport that cannot keep values out of its own records refuses them.
    ...(spec.secretEnvKeys?.length ? { secretEnvKeys: spec.secretEnvKeys } : {}),
  };
}
