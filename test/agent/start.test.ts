import { afterEach, describe, expect, it } from 'vitest';
import { createAgentTools } from '../../src/agent/index.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { FakeTransport } from '../../src/testing/index.js';
import { flush } from '../helpers.js';
import { byName, call, fakeSetup, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('bg_start', () => {
  it('returns the result and output directly when a real command ends within wait_ms', async () => {
    const r = await realSetup();
    ex = r.ex;
    const res = await call(r.tools, 'bg_start', { command: 'echo hello; echo oops >&2; exit 3', wait_ms: 10_000 });
    expect(res).toMatchObject({ ok: true, status: 'failed', exit_code: 3 });
    expect(res.stdout).toMatchObject({ text: 'hello\n', next_cursor: 6, truncated: false, omitted_bytes: 0 });
    expect(res.stderr).toMatchObject({ text: 'oops\n' });
    expect(res.hint).toBe('Finished: failed (exit code 3).');
    expect(typeof res.duration_ms).toBe('number');
    // The model was told the final status: no completion notice for it.
    expect(r.ex.completions()).toEqual([]);
  });

  it('moves a slow command to the background and steers the model away from polling', async () => {
    const r = await realSetup();
    ex = r.ex;
    const t0 = Date.now();
    const res = await call(r.tools, 'bg_start', { command: 'echo started; sleep 5', wait_ms: 300 });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res).toMatchObject({ ok: true, status: 'running' });
    expect(res.exit_code).toBeUndefined();
    expect(res.hint).toMatch(/Do not poll: call bg_wait/);
    expect(res.hint).toContain(res.task_id);
    expect(res.stdout?.text).toBe('started\n');
    await r.ex.cancel(res.task_id, { graceMs: 100 });
  });

  it('clamps wait_ms, timeout_ms and priority and says so', async () => {
    const s = fakeSetup({ limits: { maxStartWaitMs: 50, maxTimeoutMs: 60_000 } });
    ex = s.ex;
    const res = await call(s.tools, 'bg_start', { command: 'x', wait_ms: 999_999, timeout_ms: 5, priority: 1000 });
    expect(res.ok).toBe(true);
    expect(res.clamped).toEqual([
      'timeout_ms=5 is below the minimum; used 100',
      'priority=1000 is above the maximum; used 10',
      'wait_ms=999999 is above the maximum; used 50',
    ]);
    const spec = s.ex.get(res.task_id)!.spec;
    expect(spec).toMatchObject({ timeoutMs: 100, priority: 10 });
  });

  it('applies defaults under the model values and tags the session', async () => {
    const s = fakeSetup({ session: 'S', defaults: { cwd: '/tmp', env: { A: '1', B: '1' }, group: 'agent', timeoutMs: 5000 } });
    ex = s.ex;
    const res = await call(s.tools, 'bg_start', { command: 'x', env: { B: '2' }, timeout_ms: 7000 });
    const spec = s.ex.get(res.task_id)!.spec;
    expect(spec).toMatchObject({ cwd: '/tmp', env: { A: '1', B: '2' }, group: 'agent', timeoutMs: 7000, session: 'S' });
    expect(s.fake.started[0]).toMatchObject({ cwd: '/tmp', env: { A: '1', B: '2' } });
  });

  it('offers transport only when allowedTransports is set, as an enum defaulting to the first', async () => {
    const plain = fakeSetup();
    ex = plain.ex;
    expect(plain.tools.bg_start.inputSchema.properties?.transport).toBeUndefined();
    const refused = await call(plain.tools, 'bg_start', { command: 'x', transport: 'local' });
    expect(refused).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(refused.message).toMatch(/unknown parameter transport/);
    await plain.ex.shutdown();

    const ex2 = new BackgroundExecutor({ transports: { local: new FakeTransport(), other: new FakeTransport({ kind: 'other' }) } });
    ex = ex2;
    const tools = byName(createAgentTools(ex2, { allowedTransports: ['other', 'local'] }));
    expect(tools.bg_start.inputSchema.properties?.transport).toMatchObject({ enum: ['other', 'local'] });
    const a = await call(tools, 'bg_start', { command: 'x' });
    expect(ex2.get(a.task_id)!.spec.transport).toBe('other');
    const b = await call(tools, 'bg_start', { command: 'x', transport: 'local' });
    expect(ex2.get(b.task_id)!.spec.transport).toBe('local');
    const c = await call(tools, 'bg_start', { command: 'x', transport: 'ssh' });
    expect(c.message).toMatch(/transport must be one of "other", "local", got "ssh"/);
  });

  it('reports a spawn failure and invalid specs as results, not exceptions', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('boom', { spawnError: 'no such file' });
    const res = await call(s.tools, 'bg_start', { command: 'boom' });
    expect(res).toMatchObject({ ok: true, status: 'failed', reason: 'spawn_failed', error_message: 'no such file' });
    const bad = await call(s.tools, 'bg_start', { command: 'x', env: { 'NOT VALID': 'v' } });
    expect(bad).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(bad.message).toMatch(/env\.NOT VALID/);
    const empty = await call(s.tools, 'bg_start', { command: '' });
    expect(empty.message).toMatch(/command must not be empty/);
    const missing = await call(s.tools, 'bg_start', {});
    expect(missing.message).toMatch(/command is required/);
    // null counts as "not given" (OpenAI strict mode)
    const nulls = await call(s.tools, 'bg_start', { command: 'x', cwd: null, env: null, wait_ms: null });
    expect(nulls.ok).toBe(true);
  });

  it('an aborted call stops waiting and returns the running task', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    const ac = new AbortController();
    const p = call(s.tools, 'bg_start', { command: 'hang', wait_ms: 30_000 }, ac.signal);
    await flush();
    ac.abort();
    const res = await p;
    expect(res).toMatchObject({ ok: true, status: 'running' });
    expect(s.ex.get(res.task_id)!.status).toBe('running');
  });

  it('with a ManualClock, wait_ms runs on the tools clock', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('hang', { hang: true });
    let done = false;
    const p = call(s.tools, 'bg_start', { command: 'hang', wait_ms: 5000 }).then((r) => ((done = true), r));
    await s.clock.advance(4999);
    expect(done).toBe(false);
    await s.clock.advance(1);
    expect((await p).status).toBe('running');
  });
});
