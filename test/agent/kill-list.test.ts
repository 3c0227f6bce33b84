import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { flush } from '../helpers.js';
import { call, fakeSetup, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('bg_kill', () => {
  it('kills a real process tree and returns the final status', async () => {
    const r = await realSetup();
    ex = r.ex;
    const t = await call(r.tools, 'bg_start', { command: 'sleep 30 & sleep 30 & wait', wait_ms: 100 });
    expect(t.status).toBe('running');
    const res = await call(r.tools, 'bg_kill', { task_id: t.task_id, grace_ms: 500 });
    expect(res).toMatchObject({ ok: true, task_id: t.task_id, status: 'cancelled', exit_code: null, already_finished: false });
    expect(res.hint).toMatch(/^Killed: the task is now cancelled/);
    expect(r.ex.completions()).toEqual([]);
  });

  it('is harmless on a finished task and clamps grace_ms', async () => {
    const s = fakeSetup();
    ex = s.ex;
    const t = await call(s.tools, 'bg_start', { command: 'x' });
    expect(t.status).toBe('completed');
    const res = await call(s.tools, 'bg_kill', { task_id: t.task_id, grace_ms: 10_000_000 });
    expect(res).toMatchObject({ ok: true, status: 'completed', exit_code: 0, already_finished: true });
    expect(res.clamped).toEqual(['grace_ms=10000000 is above the maximum; used 60000']);
    expect(res.hint).toMatch(/Nothing to kill/);
  });

  it('passes the clamped grace to the transport', async () => {
    const s = fakeSetup({ limits: { maxGraceMs: 200 } });
    ex = s.ex;
    s.fake.script('stubborn', { hang: true, ignoreTerm: true });
    const t = await call(s.tools, 'bg_start', { command: 'stubborn', wait_ms: 0 });
    await flush();
    const p = call(s.tools, 'bg_kill', { task_id: t.task_id, grace_ms: 5000 });
    await s.clock.advance(200);
    expect(await p).toMatchObject({ status: 'cancelled', signal: 'SIGKILL' });
  });

  it('gives an actionable error for an unknown id', async () => {
    const s = fakeSetup();
    ex = s.ex;
    const res = await call(s.tools, 'bg_kill', { task_id: 'nope' });
    expect(res).toEqual({
      ok: false,
      error: 'unknown_task',
      message: 'No task with id "nope". Call bg_list to see your task ids (they come from bg_start), or bg_start to start the command again.',
    });
  });
});

describe('bg_list', () => {
  it('lists compact rows newest first, filtered and limited', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    const empty = await call(s.tools, 'bg_list', {});
    expect(empty).toMatchObject({ ok: true, tasks: [], total: 0, hint: 'No tasks yet. Start one with bg_start.' });
    const a = await call(s.tools, 'bg_start', { command: 'first' });
    const b = await call(s.tools, 'bg_start', { command: 'hang', wait_ms: 0 });
    const c = await call(s.tools, 'bg_start', { command: `echo ${'x'.repeat(200)}` });
    const all = await call(s.tools, 'bg_list', {});
    expect(all.total).toBe(3);
    expect(all.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([c.task_id, b.task_id, a.task_id]);
    expect(all.tasks[0].command).toHaveLength(80);
    expect(all.tasks[0].command.endsWith('…')).toBe(true);
    expect(all.tasks[1]).toEqual({ task_id: b.task_id, status: 'running', duration_ms: 0, command: 'hang' });
    expect(all.tasks[2]).toMatchObject({ task_id: a.task_id, status: 'completed', exit_code: 0, command: 'first' });
    const active = await call(s.tools, 'bg_list', { status: 'active' });
    expect(active.tasks.map((t: { task_id: string }) => t.task_id)).toEqual([b.task_id]);
    const finished = await call(s.tools, 'bg_list', { status: 'finished', limit: 1 });
    expect(finished).toMatchObject({ total: 2, tasks: [{ task_id: c.task_id }] });
    expect(finished.hint).toMatch(/newest 1 of 2/);
    // limit 0 means nothing: it is what a strict-mode model sends for "not given".
    const zero = await call(s.tools, 'bg_list', { limit: 0 });
    expect(zero.clamped).toBeUndefined();
    expect(zero.tasks).toHaveLength(3);
    const clamped = await call(s.tools, 'bg_list', { limit: -2 });
    expect(clamped.clamped).toEqual(['limit=-2 is below the minimum; used 1']);
    const bad = await call(s.tools, 'bg_list', { status: 'done' });
    expect(bad.message).toMatch(/status must be one of "all", "active", "finished"/);
  });
});
