import { afterEach, describe, expect, it } from 'vitest';
import { completionNotices, createAgentTools } from '../../src/agent/index.js';
import type { BackgroundExecutor } from '../../src/executor.js';
import { fakeExecutor, flush } from '../helpers.js';
import { byName, call, numbered, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('completionNotices', () => {
  it('renders unacknowledged completions of a session with the last lines, then acks them', async () => {
    const { ex: exec, fake, clock } = fakeExecutor();
    ex = exec;
    fake.script('make', { hang: true });
    const A = byName(createAgentTools(exec, { clock, session: 'A' }));
    const t = await call(A, 'bg_start', { command: 'make', wait_ms: 0 });
    await exec.submit({ command: 'other', session: 'B' });
    await flush();
    expect((await completionNotices(exec, 'A')).ids).toEqual([]);
    fake.write(t.task_id, 'stdout', numbered(20));
    fake.write(t.task_id, 'stderr', 'error: undefined symbol\n');
    await clock.advance(1500);
    fake.complete(t.task_id, { exitCode: 2 });
    await exec.wait(t.task_id);

    const n = await completionNotices(exec, 'A', { tailLines: 3 });
    expect(n.ids).toEqual([t.task_id]);
    expect(n.remaining).toBe(0);
    expect(n.notices).toEqual([{ taskId: t.task_id, status: 'failed', exitCode: 2, text: n.text }]);
    expect(n.text).toBe(
      `Background task ${t.task_id} finished: failed (exit code 2) after 1.5 s.\n` +
        '$ make\n' +
        `last lines of stdout (of ${Buffer.byteLength(numbered(20))} bytes):\nline 18\nline 19\nline 20\n` +
        'last lines of stderr:\nerror: undefined symbol\n',
    );
    expect(exec.get(t.task_id)!.acked).toBe(true);
    expect((await completionNotices(exec, 'A')).text).toBe('');
    // Session B's own completion is still pending for B.
    expect((await completionNotices(exec, 'B', { ack: false })).ids).toHaveLength(1);
  });

  it('with ack: false the framework acks after delivery; limit leaves the rest for later', async () => {
    const { ex: exec } = fakeExecutor();
    ex = exec;
    const ids: string[] = [];
    for (const cmd of ['a', 'b', 'c']) {
      const r = await exec.submit({ command: cmd, session: 'S' });
      await exec.wait(r.id);
      ids.push(r.id);
    }
    const first = await completionNotices(exec, 'S', { ack: false, limit: 2 });
    expect(first.ids).toEqual(ids.slice(0, 2));
    expect(first.remaining).toBe(1);
    expect(first.text).toMatch(/1 more background task\(s\) finished/);
    expect(exec.completions('S')).toHaveLength(3);
    exec.ack(first.ids);
    const second = await completionNotices(exec, 'S');
    expect(second.ids).toEqual([ids[2]]);
    expect(second.text).toMatch(/^Background task \S+ finished: completed \(exit code 0\)/);
  });

  it('does not repeat what a tool result already reported (ackOnReport), unless disabled', async () => {
    const r = await realSetup({ session: 'S' });
    ex = r.ex;
    const quick = await call(r.tools, 'bg_start', { command: 'echo hi', wait_ms: 10_000 });
    expect(quick.status).toBe('completed');
    expect((await completionNotices(r.ex, 'S')).ids).toEqual([]);

    const keep = byName(createAgentTools(r.ex, { session: 'K', ackOnReport: false }));
    const t = await call(keep, 'bg_start', { command: 'echo kept', wait_ms: 10_000 });
    expect(t.status).toBe('completed');
    const n = await completionNotices(r.ex, 'K');
    expect(n.ids).toEqual([t.task_id]);
    expect(n.text).toMatch(/\$ echo kept\nlast lines of stdout:\nkept\n$/);
  });

  it('notices stay within the byte budget', async () => {
    const { ex: exec, fake } = fakeExecutor();
    ex = exec;
    fake.script('wide', { stdout: `${'x'.repeat(5000)}\n` });
    const t = await exec.submit({ command: 'wide' });
    await exec.wait(t.id);
    const n = await completionNotices(exec, undefined, { maxBytes: 1024 });
    expect(Buffer.byteLength(n.text)).toBeLessThanOrEqual(1024);
  });
});
