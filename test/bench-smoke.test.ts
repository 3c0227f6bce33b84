// Smoke run of every benchmark in quick mode, in-process: checks that each one runs real work
// and returns well-formed rows. No timing assertions: timings on a shared machine mean little.
// The remote benchmark runs its SSH part only (a real sshd, a few seconds); its Vagrant part
// (`vagrant ssh -c` takes seconds per call) runs in `npm run bench` alone.
import { describe, expect, it } from 'vitest';
import { BENCHMARKS, formatMarkdown, formatTable } from '../bench/lib/report.js';
import { run as runRemote } from '../bench/remote.js';
import { type BenchResult, makeRow, type Row } from '../bench/lib/types.js';
import { sshUnavailable } from './harness/sshd.js';

const STATUSES = ['pass', 'fail', 'info', 'skipped', 'error'];

function checkRow(row: Row): void {
  expect(row.id).toMatch(/^[a-z0-9.]+$/);
  expect(row.issueRow).toBeGreaterThanOrEqual(1);
  expect(row.issueRow).toBeLessThanOrEqual(6);
  expect(row.name.length).toBeGreaterThan(0);
  expect(STATUSES).toContain(row.status);
  expect(row.status).not.toBe('error');
  expect(typeof row.value).toBe('number');
  expect(typeof row.baseline).toBe('number');
  expect(Number.isFinite(row.value)).toBe(true);
  if (row.baseline === 0) expect(row.ratio).toBeNull();
  else expect(row.ratio).toBeCloseTo(row.value! / row.baseline!, 9);
  if (row.target) {
    expect(typeof row.pass).toBe('boolean');
    expect(row.status).toBe(row.pass ? 'pass' : 'fail');
  } else {
    expect(row.status).toBe('info');
  }
  expect(row.samples?.value.length).toBeGreaterThanOrEqual(1);
}

function byId(result: BenchResult, id: string): Row {
  const row = result.rows.find((r) => r.id === id);
  expect(row, id).toBeDefined();
  return row!;
}

const run = (id: string): Promise<BenchResult> => {
  const entry = BENCHMARKS.find((b) => b.id === id);
  if (!entry) throw new Error(`no benchmark ${id}`);
  return entry.run({ quick: true, log: () => {} });
};

describe('npm run bench -- --quick, in-process', () => {
  it('lists the six benchmarks in issue order', () => {
    expect(BENCHMARKS.map((b) => b.id)).toEqual(['throughput', 'scheduler', 'latency', 'output', 'recovery', 'remote']);
  });

  it('local throughput runs every task through raw spawn, MemoryStore and JsonDirStore', async () => {
    const r = await run('throughput');
    expect(r.rows.map((x) => x.id).slice(0, 2)).toEqual(['throughput.memory', 'throughput.json']);
    r.rows.filter((x) => x.status !== 'skipped').forEach(checkRow);
    for (const v of ['raw', 'memory', 'json']) expect(r.counts[`${v}Completed`]).toBe(24);
    // The tmpfs variant (a quarter of the tasks) runs where /dev/shm is a tmpfs.
    if ('tmpfsCompleted' in r.counts) expect(r.counts['tmpfsCompleted']).toBe(6);
    expect(byId(r, 'throughput.json').target).toEqual({ on: 'ratio', op: '>=', threshold: 1.2 });
    // Diagnostic: the same executor with the spawn helper off (a quarter of the tasks).
    expect(r.counts['directCompleted']).toBe(6);
    // Peers run where installed; a missing one is a skipped row that says why.
    for (const id of ['throughput.peer.xargs', 'throughput.peer.parallel', 'throughput.peer.pqueue']) {
      const peer = byId(r, id);
      if (peer.status === 'skipped') expect(peer.note).toBeTruthy();
      else expect(peer.value).toBeGreaterThan(0);
    }
  });

  it('scheduler drains every task on both sides and measures heap per queued task', async () => {
    const r = await run('scheduler');
    r.rows.forEach(checkRow);
    for (const v of ['bg-random', 'pq-random', 'bg-fifo', 'pq-fifo', 'lean-random']) expect(r.counts[v]).toBe(2000);
    expect(r.counts['fakeAlone']).toBe(2000);
    expect(byId(r, 'scheduler.heap').target).toEqual({ on: 'value', op: '<=', threshold: 1024 });
    expect(byId(r, 'scheduler.random').baselineName).toBe('p-queue');
  });

  it('dispatch latency collects submit→started and raw spawn samples', async () => {
    const r = await run('latency');
    r.rows.forEach(checkRow);
    // 12 tasks (2 warm-up + 10) per executor: one on the OS temp dir, one on tmpfs where there is one.
    expect([12, 24]).toContain(r.counts['completed']);
    expect(r.counts['samples']).toBe(10);
    expect(byId(r, 'latency.p50').target).toEqual({ on: 'delta', op: '<=', threshold: 0.5 });
    expect(byId(r, 'latency.p50').value).toBeGreaterThan(0);
  });

  it('output follows every byte the task wrote', async () => {
    const r = await run('output');
    r.rows.forEach(checkRow);
    expect(r.counts).toEqual({ bytesFollowed: 4 * 1024 * 1024, bytesBaseline: 4 * 1024 * 1024, tasks: 1 });
  });

  it('recovery brings back every finished and queued task', async () => {
    const r = await run('recovery');
    r.rows.forEach(checkRow);
    expect(r.counts).toEqual({ recoveredCompleted: 200, recoveredQueued: 20, parsedRecords: 220 });
  });

  const noSsh = sshUnavailable();
  it.skipIf(noSsh !== undefined)(`remote: poll and start round trips over a real sshd's master${noSsh === undefined ? '' : ` (${noSsh})`}`, async () => {
    const r = await runRemote({ quick: true, log: () => {} }, { vagrant: false });
    expect(r.rows.map((x) => x.id)).toEqual(['remote.poll', 'remote.start', 'remote.poll.api', 'remote.read']);
    r.rows.slice(0, 3).forEach(checkRow);
    // 1 warm-up + 3 samples of each.
    expect(r.counts).toEqual({ sshTrue: 4, polls: 4, pollsRunning: 4, starts: 4, apiPolls: 4 });
    expect(byId(r, 'remote.poll').target).toEqual({ on: 'ratio', op: '<=', threshold: 1.5 });
    expect(byId(r, 'remote.poll').baselineName).toBe('ssh host true, same master');
    expect(byId(r, 'remote.read')).toMatchObject({ status: 'skipped', value: null, note: 'skipped: not run (smoke test)' });
  }, 60_000);

  it('formats rows as a text and a Markdown table', () => {
    const skipped = { ...makeRow({ id: 'x', issueRow: 6, name: 'n', metric: 'ms', value: null, baseline: null, baselineName: '', target: null, note: 'skipped: why' }), status: 'skipped' as const };
    const tiny = makeRow({ id: 'y', issueRow: 6, name: 'n', metric: 'ms', value: 45, baseline: 10_265, baselineName: 'b', target: null });
    expect(formatTable([skipped])).toContain('skipped: why');
    expect(formatTable([tiny])).toContain('0.0044×');
    expect(formatMarkdown([skipped, tiny]).split('\n')).toHaveLength(4);
  });
});
