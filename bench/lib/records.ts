// Realistic task records for the recovery benchmark: finished tasks with one attempt in their
// history (handle included), and queued tasks that never started.
import type { TaskRecord } from '../../src/index.js';

const RECORD_VERSION = 1;
const T0 = 1_760_000_000_000;

export function finishedRecord(i: number, runRoot: string): TaskRecord {
  const id = `done-${String(i).padStart(6, '0')}`;
  const startedAt = T0 + i * 10;
  const handle = {
    kind: 'local',
    taskId: id,
    attempt: 1,
    runDir: `${runRoot}/jobs/${id}-1`,
    pid: 10_000 + (i % 50_000),
    pgid: 10_000 + (i % 50_000),
    bootId: '6f1c2a7e-0b7d-4c1e-9a55-2f7d3c1b9e10',
    detached: false,
    startedAt,
  };
  return {
    version: RECORD_VERSION,
    id,
    spec: { command: `make -C /srv/app test SHARD=${i % 16}`, priority: i % 5, tags: ['ci', `shard-${i % 16}`], session: 'bench' },
    status: 'completed',
    attempt: 1,
    order: i + 1,
    createdAt: startedAt - 5,
    startedAt,
    endedAt: startedAt + 1234,
    exitCode: 0,
    signal: null,
    handle,
    stdoutBytes: 4096 + (i % 1000),
    stderrBytes: i % 7,
    history: [{ attempt: 1, status: 'completed', startedAt, endedAt: startedAt + 1234, exitCode: 0, signal: null, handle }],
    acked: i % 2 === 0,
  };
}

export function queuedRecord(i: number, orderBase: number): TaskRecord {
  const id = `todo-${String(i).padStart(6, '0')}`;
  return {
    version: RECORD_VERSION,
    id,
    spec: { command: `./deploy.sh --target node-${i % 32}`, priority: i % 10, group: `g${i % 4}`, session: 'bench' },
    status: 'queued',
    attempt: 0,
    order: orderBase + i + 1,
    createdAt: T0 + 1_000_000 + i,
    stdoutBytes: 0,
    stderrBytes: 0,
    history: [],
    acked: false,
  };
}
