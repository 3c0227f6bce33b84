// NODE_DEBUG=bgexec traces what the executor does through util.debuglog: a child process
// runs real tasks with the variable set, and its stderr must hold one line per submit,
// start (with pid), exit, retry (with delay), kill (with reason), settle and shutdown.
// The same events go to the diagnostics channel `bgexec` as objects.
import { spawnSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TRACE_CHANNEL, type TraceMessage } from '../../src/debug.js';
import { fakeExecutor } from '../helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/executor/_trace-child.ts');

function run(env: NodeJS.ProcessEnv): { ids: { ok: string; bad: string; slow: string }; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return { ids: JSON.parse(r.stdout) as { ok: string; bad: string; slow: string }, stderr: r.stderr };
}

describe('NODE_DEBUG=bgexec', () => {
  it('traces submits, starts with pid, exits, retries with delay, kills with reason, settles and shutdown', () => {
    const { ids, stderr } = run({ ...process.env, NODE_DEBUG: 'bgexec' });
    const lines = stderr.split('\n').filter((l) => /^BGEXEC \d+: /.test(l));
    const has = (re: RegExp): boolean => lines.some((l) => re.test(l));
    for (const id of [ids.ok, ids.bad, ids.slow]) expect(has(new RegExp(`submit ${id} command=`)), id).toBe(true);
    expect(has(new RegExp(`submit ${ids.ok} command="echo traced"`))).toBe(true);
    expect(has(new RegExp(`start ${ids.ok} attempt=1 pid=\\d+`))).toBe(true);
    expect(has(new RegExp(`exit ${ids.ok} attempt=1 status="completed" exitCode=0`))).toBe(true);
    expect(has(new RegExp(`settle ${ids.ok} status="completed"`))).toBe(true);
    expect(has(new RegExp(`exit ${ids.bad} attempt=1 status="failed" exitCode=3`))).toBe(true);
    expect(has(new RegExp(`retry ${ids.bad} nextAttempt=2 delayMs=30`))).toBe(true);
    expect(has(new RegExp(`start ${ids.bad} attempt=2 pid=\\d+`))).toBe(true);
    expect(has(new RegExp(`settle ${ids.bad} status="failed" attempt=2 exitCode=3`))).toBe(true);
    expect(has(new RegExp(`kill ${ids.slow} attempt=1 reason="cancelled" pid=\\d+ graceMs=100`))).toBe(true);
    expect(has(new RegExp(`settle ${ids.slow} status="cancelled"`))).toBe(true);
    expect(has(/shutdown - mode="kill"/)).toBe(true);
    // In order for one task: submit → start → exit → settle.
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    const seq = [`submit ${ids.ok}`, `start ${ids.ok}`, `exit ${ids.ok}`, `settle ${ids.ok}`].map((s) => at(new RegExp(s)));
    expect([...seq].sort((a, b) => a - b)).toEqual(seq);
  });

  it('prints nothing without NODE_DEBUG', () => {
    const env = { ...process.env };
    delete env.NODE_DEBUG;
    const { stderr } = run(env);
    expect(stderr).not.toMatch(/BGEXEC/);
  });
});

describe('diagnostics channel bgexec', () => {
  it('publishes the same events as objects to its subscribers, and nothing once they leave', async () => {
    const messages: TraceMessage[] = [];
    const onMessage = (m: unknown): void => void messages.push(m as TraceMessage);
    subscribe(TRACE_CHANNEL, onMessage);
    const { ex, fake, clock } = fakeExecutor();
    let retried = '';
    try {
      fake.script('flaky', { exitCode: 2 }, { exitCode: 0 });
      const t = await ex.submit({ command: 'flaky', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 50 } } });
      retried = t.id;
      await new Promise<void>((resolve) => ex.once('task:retrying', () => resolve()));
      await clock.advance(50);
      expect((await ex.wait(t.id)).status).toBe('completed');
      await ex.shutdown();
    } finally {
      unsubscribe(TRACE_CHANNEL, onMessage);
    }
    const mine = messages.filter((m) => m.taskId === retried).map((m) => m.what);
    expect(mine).toEqual(['submit', 'start', 'exit', 'retry', 'start', 'exit', 'settle']);
    expect(messages.find((m) => m.what === 'retry')).toMatchObject({ taskId: retried, nextAttempt: 2, delayMs: 50 });
    expect(messages.find((m) => m.what === 'exit')).toMatchObject({ attempt: 1, status: 'failed', exitCode: 2 });
    expect(messages.at(-1)).toMatchObject({ what: 'shutdown', mode: 'kill' });
    expect(messages.at(-1)).not.toHaveProperty('taskId');
    const count = messages.length;
    const again = fakeExecutor();
    await again.ex.wait((await again.ex.submit({ command: 'x' })).id);
    await again.ex.shutdown();
    expect(messages.length).toBe(count);
  });
});
