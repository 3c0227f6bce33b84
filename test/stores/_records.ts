// Builds valid TaskRecords for store tests. No vitest import: child processes use it too.
import { RECORD_VERSION, type TaskRecord } from '../../src/task.js';

/** A minimal valid record; `overrides` replace top-level fields. */
export function makeRecord(id: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    version: RECORD_VERSION,
    id,
    spec: { command: `echo ${id}` },
    status: 'queued',
    attempt: 0,
    order: 0,
    createdAt: 1_700_000_000_000,
    stdoutBytes: 0,
    stderrBytes: 0,
    history: [],
    acked: false,
    ...overrides,
  };
}

/** A record with every optional field set, as after a retried, finished task. */
export function makeFullRecord(id: string): TaskRecord {
  return makeRecord(id, {
    spec: {
      command: 'node',
      args: ['-e', 'process.exit(3)', 'ünïcödé €😀', "it's \"quoted\""],
      cwd: '/tmp',
      env: { FOO: 'bar', EMPTY: '' },
      transport: 'local',
      priority: 5,
      group: 'builds',
      timeoutMs: 60_000,
      graceMs: 2000,
      retry: { attempts: 3, backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 1000, jitter: true }, retryOn: ['failed', 'lost'] },
      delayMs: 10,
      detached: true,
      session: 'sess-1',
      tags: ['a', 'b'],
      metadata: { nested: { list: [1, 2, { x: null }] }, n: 1.5 },
      idempotencyKey: 'key-1',
      maxOutputBytes: 1024,
    },
    status: 'failed',
    attempt: 2,
    order: 42,
    runAt: 1_700_000_000_100,
    startedAt: 1_700_000_000_200,
    endedAt: 1_700_000_000_300,
    exitCode: 3,
    signal: null,
    reason: 'exit',
    error: { name: 'Error', code: 'SPAWN_FAILED', message: 'boom' },
    handle: { kind: 'local', taskId: id, attempt: 2, runDir: '/x/runs/jobs/a-2', pid: 1234, pgid: 1234, bootId: 'b', detached: true, startedAt: 1_700_000_000_200 },
    stdoutBytes: 12,
    stderrBytes: 3,
    history: [
      { attempt: 1, status: 'lost', startedAt: 1, endedAt: 2, exitCode: null, signal: 'SIGKILL', reason: 'executor_restart' },
      { attempt: 2, status: 'failed', startedAt: 3, endedAt: 4, exitCode: 3, signal: null, error: { name: 'Error', code: 'X', message: 'y' } },
    ],
    acked: true,
  });
}
