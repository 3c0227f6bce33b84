import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { LocalTransport } from '../../src/transports/local.js';
import { eventually, processesOfTask } from '../proc.js';

let dir: string;
let executors: BackgroundExecutor[] = [];
const strays: ChildProcess[] = [];

function make(concurrency: number, groups?: Record<string, number>): BackgroundExecutor {
  const ex = new BackgroundExecutor({
    transports: { local: new LocalTransport({ root: join(dir, 'runs') }) },
    scheduler: new PriorityScheduler({ concurrency, ...(groups ? { groups } : {}) }),
  });
  executors.push(ex);
  return ex;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgexec-exec-local-'));
  executors = [];
});

afterEach(async () => {
  for (const p of strays.splice(0)) killGroup(p);
  await Promise.all(executors.map((ex) => ex.shutdown({ mode: 'kill', graceMs: 100 })));
  rmSync(dir, { recursive: true, force: true });
});

function killGroup(p: ChildProcess): void {
  try {
    if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

// Lines appended by the tasks themselves: the only honest record of what ran when.
function logLines(name = 'log'): string[] {
  try {
    return readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('executor on real processes', () => {
  it('runs 20 tasks in priority order (FIFO ties) under concurrency 1', async () => {
    const ex = make(1);
    ex.pause();
    const prios = Array.from({ length: 20 }, (_, i) => (i * 7919) % 5);
    for (const [i, p] of prios.entries()) {
      await ex.submit({ command: `echo t${i} >> '${join(dir, 'log')}'`, priority: p });
    }
    ex.resume();
    await ex.onIdle();
    const expected = prios
      .map((p, i) => ({ p, i }))
      .sort((a, b) => b.p - a.p || a.i - b.i)
      .map(({ i }) => `t${i}`);
    expect(logLines()).toEqual(expected);
  });

  it('never exceeds the global cap nor a group cap (observed with real sleeps)', async () => {
    const ex = make(3, { g: 1 });
    const log = join(dir, 'log');
    const task = (name: string): string => `echo "+${name}" >> '${log}'; sleep 0.15; echo "-${name}" >> '${log}'`;
    for (let i = 0; i < 4; i++) await ex.submit({ command: task(`g${i}`), group: 'g' });
    for (let i = 0; i < 6; i++) await ex.submit({ command: task(`o${i}`) });
    await ex.onIdle();
    let open = 0;
    let maxOpen = 0;
    let openG = 0;
    let maxG = 0;
    for (const line of logLines()) {
      const delta = line[0] === '+' ? 1 : -1;
      open += delta;
      if (line[1] === 'g') openG += delta;
      maxOpen = Math.max(maxOpen, open);
      maxG = Math.max(maxG, openG);
    }
    expect(logLines()).toHaveLength(20);
    expect(maxOpen).toBe(3);
    expect(maxG).toBe(1);
    expect(ex.list({ status: 'completed' })).toHaveLength(10);
  });

  it('a command failing twice then succeeding completes on attempt 3, backoff delays respected', async () => {
    const ex = make(2);
    const counter = join(dir, 'count');
    const t = await ex.submit({
      command: `echo x >> '${counter}'; [ "$(wc -l < '${counter}')" -ge 3 ]`,
      retry: { attempts: 4, backoff: { type: 'fixed', delayMs: 300 } },
    });
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(done.attempt).toBe(3);
    expect(done.history.map((h) => [h.attempt, h.status, h.exitCode])).toEqual([
      [1, 'failed', 1],
      [2, 'failed', 1],
      [3, 'completed', 0],
    ]);
    for (let i = 1; i < done.history.length; i++) {
      expect(done.history[i]!.startedAt - done.history[i - 1]!.endedAt).toBeGreaterThanOrEqual(300);
    }
    expect(logLines('count')).toHaveLength(3);
  });

  it('cancel during backoff: never runs again; a cancelled running task is not retried', async () => {
    const ex = make(2);
    const log = join(dir, 'log');
    const a = await ex.submit({ command: `echo a >> '${log}'; exit 1`, retry: { attempts: 5, backoff: { type: 'fixed', delayMs: 400 } } });
    await eventually(() => ex.get(a.id)?.status === 'waiting');
    expect((await ex.cancel(a.id)).status).toBe('cancelled');
    const b = await ex.submit({ command: `echo b >> '${log}'; sleep 30`, retry: { attempts: 5, retryOn: ['failed', 'timed_out', 'lost'] } });
    await eventually(() => logLines().includes('b'));
    const cb = await ex.cancel(b.id, { graceMs: 200 });
    expect(cb.status).toBe('cancelled');
    expect(cb.signal).toBe('SIGTERM');
    await new Promise((r) => setTimeout(r, 800));
    expect(logLines()).toEqual(['a', 'b']);
    expect(ex.get(a.id)?.attempt).toBe(1);
    expect(ex.get(b.id)?.attempt).toBe(1);
  });

  it('a timeout kills the whole tree: no process of it is left', async () => {
    const ex = make(2);
    // Time for the tree to form before the timeout, also on a loaded machine.
    const t = await ex.submit({ command: 'sleep 100 & sleep 100 & wait', timeoutMs: 2000, graceMs: 500 });
    await eventually(() => processesOfTask(t.id).length >= 3);
    expect(processesOfTask(t.id).length).toBeGreaterThanOrEqual(3);
    const started = Date.now();
    const done = await ex.wait(t.id);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(done.status).toBe('timed_out');
    expect(done.reason).toBe('timeout');
    expect(done.signal).toBe('SIGTERM');
    expect(await eventually(() => processesOfTask(t.id).length === 0, 3000)).toBe(true);
  });

  it('a timeout escalates to SIGKILL for a process that ignores TERM, and takes its setsid grandchild', async () => {
    const ex = make(2);
    const t = await ex.submit({ command: "setsid sleep 100 & trap '' TERM; sleep 100 & wait", timeoutMs: 200, graceMs: 300 });
    await eventually(() => processesOfTask(t.id).length >= 3);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('timed_out');
    // TERM is ignored by the shell and (inherited) by its sleep, so only SIGKILL ends it.
    expect(done.signal).toBe('SIGKILL');
    expect(await eventually(() => processesOfTask(t.id).length === 0, 3000)).toBe(true);
  });

  it('50 MB of stdout does not grow the heap by more than a few MB, and reads are exact', async () => {
    const ex = make(2);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const t = await ex.submit({ command: 'head -c 52428800 /dev/zero | tr "\\0" "a"; printf "\\nlast line é\\n"' });
    const done = await ex.wait(t.id);
    const growth = process.memoryUsage().heapUsed - before;
    expect(done.status).toBe('completed');
    expect(done.stdoutBytes).toBe(52428800 + Buffer.byteLength('\nlast line é\n'));
    expect(growth).toBeLessThan(8 * 1024 * 1024);
    const tail = await ex.readOutput(t.id, { tail: 1 });
    expect(tail.text).toBe('last line é\n');
    expect(tail.eof).toBe(true);
    const head = await ex.readOutput(t.id, { cursor: 52428790, maxBytes: 13 });
    expect(head.text).toBe('aaaaaaaaaa\nla');
  });

  it('cursor reads reassemble multi-byte UTF-8 exactly across every chunk boundary', async () => {
    const ex = make(2);
    const text = 'é€😀a'.repeat(50) + '\n';
    const t = await ex.submit({ command: `printf '%s' '${text}'` });
    await ex.wait(t.id);
    for (const maxBytes of [1, 2, 3, 5, 7]) {
      let cursor = 0;
      let out = '';
      for (;;) {
        const r = await ex.readOutput(t.id, { cursor, maxBytes: Math.max(maxBytes, 4) });
        out += r.text;
        cursor = r.nextCursor;
        if (r.eof) break;
      }
      expect(out).toBe(text);
    }
  });

  it('follow streams a live task to the end', async () => {
    const ex = make(2);
    const t = await ex.submit({ command: 'for i in 1 2 3 4 5; do echo line $i; sleep 0.05; done' });
    let all = '';
    for await (const chunk of ex.follow(t.id)) all += chunk.text;
    expect(all).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect(ex.get(t.id)?.status).toBe('completed');
  });

  it('a missing cwd fails the attempt with SPAWN_FAILED and the executor goes on', async () => {
    const ex = make(2);
    const t = await ex.submit({ command: 'true', cwd: join(dir, 'does-not-exist') });
    const done = await ex.wait(t.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('SPAWN_FAILED');
    // The reason says which start failure it was, in the record, the attempt and the error.
    expect(done).toMatchObject({ reason: 'cwd_missing', error: { reason: 'cwd_missing' } });
    expect(done.history[0]?.reason).toBe('cwd_missing');
    expect(done.error?.message).toContain('does-not-exist');
    const ok = await ex.submit({ command: 'pwd', cwd: dir });
    expect((await ex.wait(ok.id)).status).toBe('completed');
    expect((await ex.readOutput(ok.id)).text.trim()).toBe(dir);
  });

  it('command + args runs without a shell', async () => {
    const ex = make(2);
    const t = await ex.submit({ command: 'printf', args: ['%s|', '$(echo no)', "it's", '*'] });
    await ex.wait(t.id);
    expect((await ex.readOutput(t.id)).text).toBe("$(echo no)|it's|*|");
  });

  it('a detached task survives shutdown({ mode: "detach" }); kill mode leaves nothing behind', async () => {
    const ex = make(2);
    const marker = join(dir, 'detached-done');
    const d = await ex.submit({ command: `sleep 0.5; echo done > '${marker}'`, detached: true });
    const n = await ex.submit({ command: 'sleep 100' });
    await eventually(() => processesOfTask(d.id).length > 0 && processesOfTask(n.id).length > 0);
    await ex.shutdown({ mode: 'detach', graceMs: 200 });
    expect(ex.get(n.id)?.status).toBe('cancelled');
    // Under load the grace may run out: kill() returns once SIGKILL is sent, death follows at once.
    expect(await eventually(() => processesOfTask(n.id).length === 0, 3000)).toBe(true);
    expect(processesOfTask(d.id).length).toBeGreaterThan(0);
    expect(await eventually(() => logLines('detached-done').length === 1, 5000)).toBe(true);

    const ex2 = make(2);
    const k = await ex2.submit({ command: 'sleep 100 & sleep 100; wait' });
    await eventually(() => processesOfTask(k.id).length >= 2);
    await ex2.shutdown({ mode: 'kill', graceMs: 200 });
    expect(ex2.get(k.id)?.status).toBe('cancelled');
    expect(await eventually(() => processesOfTask(k.id).length === 0, 3000)).toBe(true);
  });

  it('cancel under CPU load is always a SIGTERM death: the shell never runs on after its child died', async () => {
    // Regression: signalling children before their shell let `sleep 120; exit 0` end as exit 0.
    // `timeout` bounds the hogs even if this test is abandoned by a vitest timeout.
    // Own process group, so the group kill below takes `timeout` and its loop together.
    const hogs = [0, 1, 2].map(() => spawn('timeout', ['90', '/bin/sh', '-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
    strays.push(...hogs);
    try {
      const ex = make(8);
      // Cancel each task the moment it has started (its shell is just forking its child).
      const started = new Map<string, () => void>();
      ex.on('task:started', (e) => started.get(e.taskId)?.());
      const results = await Promise.all(
        Array.from({ length: 40 }, async () => {
          const t = await ex.submit({ command: 'sleep 120; exit 0' });
          await new Promise<void>((resolve) => {
            started.set(t.id, resolve);
            if (ex.get(t.id)?.handle) resolve();
          });
          return ex.cancel(t.id, { graceMs: 5000 });
        }),
      );
      expect(results.map((r) => `${r.status}/${r.signal}/${r.exitCode}`)).toEqual(results.map(() => 'cancelled/SIGTERM/null'));
    } finally {
      for (const h of hogs) killGroup(h);
    }
  }, 120_000);
});
