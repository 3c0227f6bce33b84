// bg_start with stdin "pipe" and bg_write on real local processes.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { call, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;

function has(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('bg_write on a real local task', { timeout: 60_000 }, () => {
  it("answers `read x; echo got $x` and returns the reply with the task's end", async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: "printf 'name? '; read x; echo got $x", stdin: 'pipe', wait_ms: 0 });
    expect(start).toMatchObject({ ok: true, status: 'running' });
    const id = start.task_id as string;
    const t0 = Date.now();
    const w = await call(s.tools, 'bg_write', { task_id: id, input: 'ada\n', wait_ms: 20_000 });
    const ms = Date.now() - t0;
    expect(w).toMatchObject({ ok: true, status: 'completed', exit_code: 0, bytes_written: 4 });
    expect(`${start.stdout?.text ?? ''}${w.stdout.text}`).toBe('name? got ada\n');
    expect(ms).toBeLessThan(20_000); // it came back with the end, not at wait_ms
  });

  it('drives a line loop through several exchanges and ends it with close=true', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', {
      command: 'while IFS= read -r line; do echo "echo: $line"; done; echo bye',
      stdin: 'pipe',
      wait_ms: 0,
    });
    const id = start.task_id as string;
    for (const word of ['one', 'two', 'three']) {
      const w = await call(s.tools, 'bg_write', { task_id: id, input: `${word}\n`, wait_ms: 20_000 });
      expect(w).toMatchObject({ ok: true, status: 'running' });
      expect(w.stdout.text).toBe(`echo: ${word}\n`);
    }
    const end = await call(s.tools, 'bg_write', { task_id: id, input: '', close: true, wait_ms: 20_000 });
    expect(end).toMatchObject({ ok: true, status: 'completed', exit_code: 0, closed: true });
    expect(end.stdout.text).toBe('bye\n');
  });

  // The prompt comes back each time: bg_start and every bg_write end at it (awaiting_input),
  // long before wait_ms, on the local transport's detection of a task blocked reading its input.
  it.skipIf(!has('python3'))('drives python3 -i through a few exchanges, each reply ending at the next prompt', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: 'python3 -i -q 2>&1', stdin: 'pipe', wait_ms: 20_000 });
    expect(start).toMatchObject({ ok: true, status: 'running', awaiting_input: true });
    expect(start.stdout.text).toBe('>>> ');
    const id = start.task_id as string;
    const exchanges: Array<[string, string]> = [
      ['x = 6\n', '>>> '],
      ['print(x * 7)\n', '42\n>>> '],
      ['for i in range(2):\n    print(i)\n\n', '... ... 0\n1\n>>> '],
    ];
    for (const [input, reply] of exchanges) {
      const w = await call(s.tools, 'bg_write', { task_id: id, input, wait_ms: 20_000 });
      expect(w, input).toMatchObject({ ok: true, status: 'running' });
      let text = w.stdout?.text ?? '';
      // On a loaded machine the reply may pause between its parts for longer than bg_write's
      // quiet period: bg_wait then brings the rest, up to the prompt.
      if (w.awaiting_input !== true) {
        const more = await call(s.tools, 'bg_wait', { task_ids: [id], timeout_ms: 20_000 });
        expect(more).toMatchObject({ outcome: 'input_wanted' });
        text += more.stdout?.text ?? '';
      }
      expect(text).toBe(reply);
    }
    const list = await call(s.tools, 'bg_list', {});
    expect(list.tasks[0]).toMatchObject({ task_id: id, awaiting_input: true });
    const end = await call(s.tools, 'bg_write', { task_id: id, input: '', close: true, wait_ms: 20_000 });
    expect(end).toMatchObject({ ok: true, status: 'completed', exit_code: 0 });
  });

  // On a terminal the program sees a tty, the typed input is echoed into the output, and a
  // control character acts as its key (Ctrl-D at the start of a line ends the input).
  it.skipIf(!has('script'))('answers a program on a terminal (tty: true), with echo, and ends it with Ctrl-D', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', {
      command: "test -t 0 && echo on-a-tty; printf 'name? '; read x; echo \"got $x\"; cat >/dev/null; echo eof",
      stdin: 'pipe',
      tty: true,
      wait_ms: 20_000,
    });
    expect(start).toMatchObject({ ok: true, status: 'running' });
    const id = start.task_id as string;
    let text = start.stdout?.text ?? '';
    // Typed before the prompt, the input would be echoed before it (type-ahead): wait for it.
    if (start.awaiting_input !== true) {
      const prompt = await call(s.tools, 'bg_wait', { task_ids: [id], timeout_ms: 20_000 });
      expect(prompt).toMatchObject({ outcome: 'input_wanted' });
      text += prompt.stdout?.text ?? '';
    }
    const w = await call(s.tools, 'bg_write', { task_id: id, input: 'ada\n', wait_ms: 20_000 });
    expect(w).toMatchObject({ ok: true, status: 'running' });
    text += w.stdout?.text ?? '';
    if (!text.includes('got ada')) text += (await call(s.tools, 'bg_wait', { task_ids: [id], until: 'pattern', pattern: 'got ada', timeout_ms: 20_000 })).match ?? '';
    expect(text).toMatch(/on-a-tty\n[\s\S]*name\? ada\ngot ada/);
    const end = await call(s.tools, 'bg_write', { task_id: id, input: '\u0004', wait_ms: 20_000 });
    expect(end).toMatchObject({ ok: true, status: 'completed', exit_code: 0 });
    const all = await call(s.tools, 'bg_read', { task_id: id, cursor: 0 });
    expect(all.text).toMatch(/got ada\neof\n$/);
    expect(all.other_stream_bytes).toBeUndefined(); // one stream on a terminal
  });

  it('says a prompt answered without a newline still waits for the rest of the line (sh read, python3 -i)', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: "printf 'Proceed? '; read a; echo ok=$a", stdin: 'pipe', wait_ms: 0 });
    const id = start.task_id as string;
    expect(await call(s.tools, 'bg_wait', { task_ids: [id], timeout_ms: 20_000 })).toMatchObject({ outcome: 'input_wanted' });
    const partial = await call(s.tools, 'bg_write', { task_id: id, input: 'y' });
    expect(partial).toMatchObject({ ok: true, status: 'running' });
    expect(partial.hint).toMatch(/did not end with a newline/);
    const ended = await call(s.tools, 'bg_write', { task_id: id, input: '\n', wait_ms: 20_000 });
    expect(ended).toMatchObject({ ok: true, status: 'completed', exit_code: 0 });
    expect(ended.stdout.text).toBe('ok=y\n');
    expect(ended.hint).not.toMatch(/newline/);
    if (!has('python3')) return;
    const py = await call(s.tools, 'bg_start', { command: 'python3 -i -q 2>&1', stdin: 'pipe', wait_ms: 0 });
    const pid = py.task_id as string;
    expect(await call(s.tools, 'bg_wait', { task_ids: [pid], timeout_ms: 20_000 })).toMatchObject({ outcome: 'input_wanted' });
    await call(s.tools, 'bg_write', { task_id: pid, input: 'def f(n): return n * 2\n\n', wait_ms: 20_000 });
    const call1 = await call(s.tools, 'bg_write', { task_id: pid, input: 'print(f(21))' });
    expect(call1.hint).toMatch(/did not end with a newline/);
    expect(call1.stdout?.text ?? '').not.toContain('42');
    const call2 = await call(s.tools, 'bg_write', { task_id: pid, input: '\n', wait_ms: 20_000 });
    if (!(call2.stdout?.text ?? '').includes('42')) {
      expect(await call(s.tools, 'bg_wait', { task_ids: [pid], until: 'pattern', pattern: '^42$', timeout_ms: 20_000 })).toMatchObject({ outcome: 'matched' });
    }
    await call(s.tools, 'bg_write', { task_id: pid, input: '', close: true, wait_ms: 20_000 });
  });

  it('on a terminal without a pipe: the first read gets end-of-file, a second one waits and the hint says it cannot be answered', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: 'read x; echo "rc=$?"; read y; echo never', tty: true, wait_ms: 0 });
    const id = start.task_id as string;
    const w = await call(s.tools, 'bg_wait', { task_ids: [id], timeout_ms: 20_000 });
    expect(w).toMatchObject({ outcome: 'input_wanted', status: 'running', awaiting_input: true });
    expect(`${start.stdout?.text ?? ''}${w.stdout?.text ?? ''}`).toMatch(/^rc=1\r?\n$/);
    expect(w.hint).toMatch(/without stdin "pipe": nothing can be written to it/);
    expect(await call(s.tools, 'bg_write', { task_id: id, input: 'x\n' })).toMatchObject({ error: 'input_refused' });
    await call(s.tools, 'bg_kill', { task_id: id, grace_ms: 0 });
  });

  it('does not take a task that sleeps, with its input open, for one that waits for input', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: 'sleep 1; echo slept', stdin: 'pipe', wait_ms: 0 });
    const w = await call(s.tools, 'bg_wait', { task_ids: [start.task_id], timeout_ms: 20_000 });
    expect(w).toMatchObject({ outcome: 'exited', status: 'completed', stdout: { text: 'slept\n' } });
    expect(w.awaiting_input).toBeUndefined();
  });
});
