import { afterEach, describe, expect, it } from 'vitest';
import { createAgentTools } from '../../src/agent/index.js';
import type { BackgroundExecutor } from '../../src/executor.js';
import { fakeExecutor, flush } from '../helpers.js';
import { byName, call } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

function twoSessions() {
  const setup = fakeExecutor({ outputPollMs: 10 });
  ex = setup.ex;
  const opts = { clock: setup.clock };
  return {
    ...setup,
    A: byName(createAgentTools(setup.ex, { ...opts, session: 'A' })),
    B: byName(createAgentTools(setup.ex, { ...opts, session: 'B' })),
    all: byName(createAgentTools(setup.ex, opts)),
  };
}

describe('sessions', () => {
  it('session A can neither see nor touch a task of session B: it behaves exactly like an unknown id', async () => {
    const { A, B, fake, ex: exec } = twoSessions();
    fake.script('secret', { hang: true, stdout: 'B data\n' });
    const b = await call(B, 'bg_start', { command: 'secret', wait_ms: 0 });
    expect(exec.get(b.task_id)!.spec.session).toBe('B');
    await flush();

    const unknownRead = await call(A, 'bg_read', { task_id: 'does-not-exist' });
    const read = await call(A, 'bg_read', { task_id: b.task_id });
    expect(read).toEqual({ ...unknownRead, message: unknownRead.message.replace('does-not-exist', b.task_id) });
    expect(JSON.stringify(read)).not.toContain('B data');

    const kill = await call(A, 'bg_kill', { task_id: b.task_id });
    expect(kill).toMatchObject({ ok: false, error: 'unknown_task' });
    expect(exec.get(b.task_id)!.status).toBe('running');

    const wait = await call(A, 'bg_wait', { task_ids: [b.task_id], timeout_ms: 0 });
    expect(wait).toMatchObject({ ok: false, error: 'unknown_task' });
    const waitPattern = await call(A, 'bg_wait', { task_ids: [b.task_id], timeout_ms: 0, pattern: 'B' });
    expect(waitPattern).toMatchObject({ ok: false, error: 'unknown_task' });

    const list = await call(A, 'bg_list', { status: 'all' });
    expect(list).toMatchObject({ tasks: [], total: 0 });

    // B itself sees and controls its task.
    expect((await call(B, 'bg_list', {})).tasks).toHaveLength(1);
    expect(await call(B, 'bg_read', { task_id: b.task_id, cursor: 0 })).toMatchObject({ ok: true, text: 'B data\n' });
    expect(await call(B, 'bg_kill', { task_id: b.task_id })).toMatchObject({ ok: true, status: 'cancelled' });
  });

  it('tasks of each session are listed only there; unscoped tools see every task', async () => {
    const { A, B, all } = twoSessions();
    const a = await call(A, 'bg_start', { command: 'a' });
    const b = await call(B, 'bg_start', { command: 'b' });
    expect((await call(A, 'bg_list', {})).tasks.map((t: { task_id: string }) => t.task_id)).toEqual([a.task_id]);
    expect((await call(B, 'bg_list', {})).tasks.map((t: { task_id: string }) => t.task_id)).toEqual([b.task_id]);
    expect((await call(all, 'bg_list', {})).total).toBe(2);
    expect((await call(all, 'bg_read', { task_id: a.task_id })).ok).toBe(true);
  });

  it('read cursors are remembered per tools instance', async () => {
    const { fake, ex: exec, clock } = twoSessions();
    const one = byName(createAgentTools(exec, { clock, session: 'S' }));
    const two = byName(createAgentTools(exec, { clock, session: 'S' }));
    fake.script('p', { hang: true });
    const t = await call(one, 'bg_start', { command: 'p', wait_ms: 0 });
    await flush();
    fake.write(t.task_id, 'stdout', 'hello\n');
    expect((await call(one, 'bg_read', { task_id: t.task_id })).text).toBe('hello\n');
    expect((await call(one, 'bg_read', { task_id: t.task_id })).text).toBe('');
    expect((await call(two, 'bg_read', { task_id: t.task_id })).text).toBe('hello\n');
  });
});
