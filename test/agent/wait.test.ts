import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { flush } from '../helpers.js';
import { call, fakeSetup, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('bg_wait', () => {
  it('returns when any of several tasks exits, with the output not read yet', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('a', { hang: true });
    s.fake.script('b', { hang: true });
    const a = await call(s.tools, 'bg_start', { command: 'a', wait_ms: 0 });
    const b = await call(s.tools, 'bg_start', { command: 'b', wait_ms: 0 });
    await flush();
    const p = call(s.tools, 'bg_wait', { task_ids: [a.task_id, b.task_id], timeout_ms: 60_000 });
    s.fake.write(b.task_id, 'stdout', 'built\n');
    s.fake.complete(b.task_id, { exitCode: 2 });
    const res = await p;
    expect(res).toMatchObject({ ok: true, outcome: 'exited', task_id: b.task_id, status: 'failed', exit_code: 2 });
    expect(res.stdout).toMatchObject({ text: 'built\n' });
    expect(res.tasks).toEqual([
      { task_id: a.task_id, status: 'running' },
      { task_id: b.task_id, status: 'failed', exit_code: 2 },
    ]);
    expect(res.hint).toMatch(/1 other task\(s\) still going/);
    // Reported to the model, so acknowledged: no completion notice.
    expect(s.ex.completions().map((r) => r.id)).toEqual([]);
  });

  it('after a preview showed a tail and paging began, the exit result still shows the newest lines', async () => {
    const s = await realSetup({ maxOutputChars: 1024 });
    ex = s.ex;
    const gate = join(mkdtempSync(join(tmpdir(), 'bgexec-agent-gate-')), 'gate');
    const command =
      `seq -f 'compiling module %g' 1 400; ` +
      `i=0; while [ ! -e '${gate}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo "test 1 passed"; echo "done: 1 passed"`;
    // The start's preview has head and tail: the tail (up to module 400) is remembered as shown.
    const t = await call(s.tools, 'bg_start', { command, wait_ms: 1500 });
    expect(t).toMatchObject({ ok: true, status: 'running' });
    expect(t.stdout.text).toMatch(/omitted; next_cursor=\d+\]\n(.*\n)*compiling module 400\n$/);
    const page = await call(s.tools, 'bg_read', { task_id: t.task_id, max_chars: 300 });
    expect(page).toMatchObject({ ok: true, truncated: true });
    writeFileSync(gate, '');
    const res = await call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 20_000 });
    expect(res).toMatchObject({ ok: true, outcome: 'exited', status: 'completed' });
    expect(res.stdout.text).toMatch(/omitted; next_cursor=\d+\]\n(.*\n)*test 1 passed\ndone: 1 passed\n$/);
  });

  it('answers at once for a task that already ended', async () => {
    const s = fakeSetup();
    ex = s.ex;
    const t = await call(s.tools, 'bg_start', { command: 'quick', wait_ms: 0 });
    await s.ex.wait(t.task_id);
    const res = await call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 0 });
    expect(res).toMatchObject({ outcome: 'exited', status: 'completed', exit_code: 0 });
  });

  it('times out on the tools clock and leaves the tasks running', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'hang', wait_ms: 0 });
    const p = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 2000 });
    await s.clock.advance(2000);
    const res = await p;
    expect(res).toMatchObject({ outcome: 'timeout', task_id: t.task_id, waited_ms: 2000, tasks: [{ task_id: t.task_id, status: 'running' }] });
    expect(res.hint).toMatch(/end your turn: a completion notice will arrive/);
    expect(s.ex.get(t.task_id)!.status).toBe('running');
  });

  it('clamps timeout_ms and rejects bad input with what to do next', async () => {
    const s = fakeSetup({ limits: { maxWaitMs: 1000 } });
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'hang', wait_ms: 0 });
    const p = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 3_600_000 });
    await s.clock.advance(1000);
    expect((await p).clamped).toEqual(['timeout_ms=3600000 is above the maximum; used 1000']);
    const neg = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: -1 });
    expect((await neg).clamped).toEqual(['timeout_ms=-1 is below the minimum; used 0']);
    const unknown = await call(s.tools, 'bg_wait', { task_ids: [t.task_id, 'ghost'], timeout_ms: 10 });
    expect(unknown).toMatchObject({ ok: false, error: 'unknown_task' });
    expect(unknown.message).toMatch(/"ghost".*Call bg_list/);
    const noPattern = await call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 10, until: 'pattern' });
    expect(noPattern.message).toMatch(/needs a pattern/);
    const empty = await call(s.tools, 'bg_wait', { task_ids: [], timeout_ms: 10 });
    expect(empty.message).toMatch(/task_ids must have at least 1 item/);
  });

  it('until="pattern" matches only output written after the call by default', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('srv', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'srv', wait_ms: 0 });
    await flush();
    s.fake.write(t.task_id, 'stdout', 'old: ready\n');
    await s.clock.advance(20);
    let settled = false;
    const p = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 60_000, pattern: 'ready on port (\\d+)' }).then((r) => ((settled = true), r));
    await s.clock.advance(20);
    s.fake.write(t.task_id, 'stdout', 'compiling\nready on port');
    await s.clock.advance(20);
    expect(settled).toBe(false); // the line is not complete yet
    s.fake.write(t.task_id, 'stdout', ' 8080\nmore\n');
    await s.clock.advance(20);
    const res = await p;
    expect(res).toMatchObject({ ok: true, outcome: 'matched', task_id: t.task_id, status: 'running', stream: 'stdout', match: 'ready on port 8080' });
    expect(res.match_cursor).toBe(Buffer.byteLength('old: ready\ncompiling\nready on port 8080\n'));
    const after = await call(s.tools, 'bg_read', { task_id: t.task_id, cursor: res.match_cursor });
    expect(after.text).toBe('more\n');
  });

  it('until="pattern" from a cursor finds output that was already written, on the chosen stream', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('srv', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'srv', wait_ms: 0 });
    await flush();
    s.fake.write(t.task_id, 'stderr', 'warn 1\nLISTENING\n');
    await s.clock.advance(20);
    const onStdout = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 100, pattern: 'listening', cursor: 0 });
    await s.clock.advance(100);
    expect((await onStdout).outcome).toBe('timeout');
    const res = await call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 100, pattern: '(?i)listening', cursor: 0, stream: 'both' });
    expect(res).toMatchObject({ outcome: 'matched', stream: 'stderr', match: 'LISTENING', match_cursor: 17 });
  });

  it('until="pattern" reports the exit when a task ends without a match', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('crash', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'crash', wait_ms: 0 });
    await flush();
    const p = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 60_000, until: 'pattern', pattern: 'ready', stream: 'both' });
    await s.clock.advance(20);
    s.fake.write(t.task_id, 'stderr', 'Error: address in use\n');
    s.fake.complete(t.task_id, { exitCode: 1 });
    await s.clock.advance(20);
    const res = await p;
    expect(res).toMatchObject({ outcome: 'exited', status: 'failed', exit_code: 1 });
    expect(res.hint).toMatch(/ended without printing a matching line/);
    expect(res.stderr.text).toBe('Error: address in use\n');
  });

  it('a match in the very last output wins over the exit', async () => {
    const r = await realSetup();
    ex = r.ex;
    const t = await call(r.tools, 'bg_start', { command: 'sleep 0.3; echo done-marker', wait_ms: 0 });
    const res = await call(r.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 10_000, until: 'pattern', pattern: 'done-marker' });
    expect(res).toMatchObject({ outcome: 'matched', match: 'done-marker' });
  });

  it('is cancellable with an AbortSignal and leaves no waiter behind', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    const t = await call(s.tools, 'bg_start', { command: 'hang', wait_ms: 0 });
    const ac = new AbortController();
    const exitWait = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 60_000 }, ac.signal);
    const ac2 = new AbortController();
    const patternWait = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 60_000, pattern: 'x' }, ac2.signal);
    await flush();
    ac.abort();
    ac2.abort();
    await expect(exitWait).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(patternWait).rejects.toMatchObject({ code: 'ABORTED' });
    const already = call(s.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 10 }, ac.signal);
    await expect(already).rejects.toMatchObject({ code: 'ABORTED' });
    // The tools' timers were cleared: only executor timers remain.
    expect(s.clock.pendingTimers()).toBeLessThanOrEqual(1);
    expect(s.ex.get(t.task_id)!.status).toBe('running');
  });

  it('never blocks the event loop while waiting on real processes', async () => {
    const r = await realSetup();
    ex = r.ex;
    const t = await call(r.tools, 'bg_start', { command: 'sleep 0.5', wait_ms: 0 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const res = await call(r.tools, 'bg_wait', { task_ids: [t.task_id], timeout_ms: 10_000 });
    clearInterval(timer);
    expect(res.outcome).toBe('exited');
    expect(ticks).toBeGreaterThan(10);
  });
});
