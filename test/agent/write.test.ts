// bg_write, and what bg_start, bg_wait, bg_read and bg_list say about input, over FakeTransport
// and a ManualClock: nothing runs, and no time passes unless the test moves the clock.
import { describe, expect, it } from 'vitest';
import { createAgentTools } from '../../src/agent/index.js';
import type { FakeOutcome, ManualClock } from '../../src/testing/index.js';
import { flush } from '../helpers.js';
import { byName, call, fakeSetup } from './_helpers.js';

/** Moves the clock in small steps until `p` settles (bounded), and returns its value. */
async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 10, maxSteps = 1000): Promise<T> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < maxSteps && !done; i++) {
    await clock.advance(stepMs);
    await flush(2);
  }
  expect(done, 'the call settled').toBe(true);
  return p;
}

// A REPL that upper-cases each line and prompts again; "exit" ends it; end-of-file ends it with 0.
const repl: FakeOutcome = {
  hang: true,
  stdout: '> ',
  awaitingInput: true,
  onLine(line, task) {
    if (line === 'exit') return task.exit(7);
    task.write('stdout', `${line.toUpperCase()}\n> `);
  },
  onEof: (task) => task.exit(0),
};

describe('bg_write with a prompting task', () => {
  it('starts with stdin "pipe", stops waiting at the prompt, answers, and gets the reply up to the next prompt', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('repl', repl);
    const start = await drive(clock, call(tools, 'bg_start', { command: 'repl', stdin: 'pipe', wait_ms: 20_000 }));
    expect(start).toMatchObject({ ok: true, status: 'running', awaiting_input: true });
    expect(start.stdout.text).toBe('> ');
    expect(start.hint).toMatch(/waiting for input.*bg_write/);
    expect(clock.now() - 1_000_000).toBeLessThan(1000); // ended at the prompt, not after wait_ms
    const id = start.task_id as string;
    expect(ex.get(id)?.spec.stdin).toBe('pipe');

    const w = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'hello\n' }));
    expect(w).toMatchObject({ ok: true, task_id: id, status: 'running', bytes_written: 6, awaiting_input: true });
    expect(w.stdout.text).toBe('HELLO\n> ');
    expect(w.hint).toMatch(/bg_write/);
    expect(fake.input(id)!.text).toBe('hello\n');

    // Input is sent as given: a backslash and an n are two characters, not a newline.
    const lit = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'a\\nb\n' }));
    expect(lit.stdout.text).toBe('A\\NB\n> ');
    expect(fake.input(id)!.text).toBe('hello\na\\nb\n');

    const end = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'exit\n' }));
    expect(end).toMatchObject({ ok: true, status: 'failed', exit_code: 7 });
    expect(end.awaiting_input).toBeUndefined();
    expect(end.hint).toMatch(/failed \(exit code 7\)/);
    await ex.shutdown();
  });

  it('closes the input with close=true (with or without text) and reports the end it causes', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('repl', repl);
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'repl', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const r = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'last\n', close: true }));
    expect(r).toMatchObject({ ok: true, status: 'completed', exit_code: 0, closed: true });
    expect(r.stdout.text).toBe('LAST\n> '); // bg_start showed the first prompt already
    expect(fake.input(id)).toMatchObject({ text: 'last\n', closed: true });
    const again = await call(tools, 'bg_write', { task_id: id, input: 'more\n' });
    expect(again).toMatchObject({ ok: false, error: 'input_refused' });
    expect(again.message).toMatch(/already ended: completed \(exit code 0\)/);

    const id2 = (await drive(clock, call(tools, 'bg_start', { command: 'repl', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const closeOnly = await drive(clock, call(tools, 'bg_write', { task_id: id2, input: '', close: true }));
    expect(closeOnly).toMatchObject({ ok: true, status: 'completed', bytes_written: 0, closed: true });
    await ex.shutdown();
  });

  it('returns once the reply pauses when the task gives no sign of waiting', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('echoer', { hang: true, onLine: (line, task) => task.write('stdout', `got ${line}\n`) });
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'echoer', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const t0 = clock.now();
    const r = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'x\n', wait_ms: 20_000 }));
    expect(r).toMatchObject({ ok: true, status: 'running' });
    expect(r.awaiting_input).toBeUndefined();
    expect(r.stdout.text).toBe('got x\n');
    expect(r.hint).toMatch(/is running; the output above/);
    expect(clock.now() - t0).toBeLessThan(1000); // the pause ended it, not wait_ms
    await ex.shutdown();
  });

  it('says when nothing came back, and that a line without a newline may be waiting for the rest', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('silent', { hang: true });
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'silent', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const r = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'no newline', wait_ms: 500 }));
    expect(r).toMatchObject({ ok: true, status: 'running', bytes_written: 10 });
    expect(r.waited_ms).toBeGreaterThanOrEqual(500);
    expect(r.hint).toMatch(/No output .* within 500 ms.*did not end with a newline/);
    const now = await call(tools, 'bg_write', { task_id: id, input: 'y\n', wait_ms: 0 });
    expect(now.hint).not.toMatch(/newline/);
    expect(fake.input(id)!.text).toBe('no newliney\n');
    await ex.shutdown();
  });

  it('says a line without its newline is why a task still waits for input, and not once the line is ended', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('repl', repl);
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'repl', stdin: 'pipe', wait_ms: 20_000 }))).task_id as string;
    const partial = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'print(f(21))' }));
    expect(partial).toMatchObject({ ok: true, status: 'running', awaiting_input: true });
    expect(partial.hint).toMatch(/did not end with a newline.*waiting for input/);
    const ended = await drive(clock, call(tools, 'bg_write', { task_id: id, input: '\n' }));
    expect(ended.stdout.text).toBe('PRINT(F(21))\n> ');
    expect(ended.hint).not.toMatch(/newline/);
    // Input that did end its line and still got nothing back gets no such note.
    const whole = await drive(clock, call(tools, 'bg_write', { task_id: id, input: 'x\n', wait_ms: 0 }));
    expect(whole.hint).not.toMatch(/newline/);
    expect(fake.input(id)!.text).toBe('print(f(21))\nx\n');
    await ex.shutdown();
  });

  it('refuses with advice: unknown id, not piped, closed, not yet running, full, nothing to do', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script(/.*/, { hang: true });
    expect(await call(tools, 'bg_write', { task_id: 'nope', input: 'a' })).toMatchObject({ ok: false, error: 'unknown_task' });
    const plain = (await drive(clock, call(tools, 'bg_start', { command: 'plain', wait_ms: 0 }))).task_id as string;
    const notPiped = await call(tools, 'bg_write', { task_id: plain, input: 'a\n' });
    expect(notPiped).toMatchObject({ ok: false, error: 'input_refused' });
    expect(notPiped.message).toMatch(/not started with stdin "pipe".*bg_start and stdin: "pipe"/);
    const piped = (await drive(clock, call(tools, 'bg_start', { command: 'piped', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    expect(await call(tools, 'bg_write', { task_id: piped, input: '' })).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(await call(tools, 'bg_write', { task_id: piped })).toMatchObject({ ok: false, error: 'invalid_input' });
    await drive(clock, call(tools, 'bg_write', { task_id: piped, input: '', close: true, wait_ms: 0 }));
    const closed = await call(tools, 'bg_write', { task_id: piped, input: 'a\n' });
    expect(closed).toMatchObject({ ok: false, error: 'input_refused' });
    expect(closed.message).toMatch(/was closed/);
    const waiting = (await ex.submit({ command: 'delayed', stdin: 'pipe', delayMs: 60_000 })).id;
    const notYet = await call(tools, 'bg_write', { task_id: waiting, input: 'a\n' });
    expect(notYet).toMatchObject({ ok: false, error: 'input_refused' });
    expect(notYet.message).toMatch(/is waiting, not running yet/);
    await ex.shutdown();
  });

  it('refuses a write while earlier input still waits beyond the 1 MiB in flight', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    fake.script('stuck', { hang: true, onInput: () => held });
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'stuck', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const chunk = '€'.repeat(100_000); // 300 000 bytes
    const writes = [0, 1, 2].map(() => call(tools, 'bg_write', { task_id: id, input: chunk, wait_ms: 0 }));
    await flush();
    const full = await call(tools, 'bg_write', { task_id: id, input: chunk, wait_ms: 0 });
    expect(full).toMatchObject({ ok: false, error: 'input_refused' });
    expect(full.message).toMatch(/not reading its input/);
    release();
    for (const w of await Promise.all(writes)) expect(w).toMatchObject({ ok: true, bytes_written: 300_000 });
    expect(fake.input(id)!.data.length).toBe(900_000);
    await ex.shutdown();
  });

  it('gives input up front and a terminal through bg_start', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('wc', { onEof: (task) => { task.write('stdout', `${task.input.length}\n`); task.exit(0); }, hang: true });
    const r = await drive(clock, call(tools, 'bg_start', { command: 'wc', stdin: 'pipe\nand more\n', tty: true, wait_ms: 5000 }));
    expect(r).toMatchObject({ ok: true, status: 'completed', exit_code: 0 });
    expect(r.stdout.text).toBe('14\n');
    expect(ex.get(r.task_id)?.spec).toMatchObject({ stdin: { data: 'pipe\nand more\n', encoding: 'utf8' }, tty: { cols: 80, rows: 24 } });
    expect(fake.started[0]!.tty).toEqual({ cols: 80, rows: 24 });
    // "" and false mean "not given".
    const plain = await drive(clock, call(tools, 'bg_start', { command: 'wc', stdin: '', tty: false, wait_ms: 0 }));
    expect(ex.get(plain.task_id)?.spec.stdin).toBeUndefined();
    expect(ex.get(plain.task_id)?.spec.tty).toBeUndefined();
    await ex.shutdown();
  });

  it('stops waiting when the call is aborted; the input was written and the task goes on', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('silent', { hang: true });
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'silent', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const ac = new AbortController();
    const pending = call(tools, 'bg_write', { task_id: id, input: 'q\n', wait_ms: 30_000 }, ac.signal);
    await flush();
    expect(fake.input(id)!.text).toBe('q\n');
    ac.abort();
    expect(await pending).toMatchObject({ ok: true, status: 'running', bytes_written: 2 });
    expect(ex.get(id)?.status).toBe('running');
    await ex.shutdown();
  });

  it('answers an executor double without write() with input_refused', async () => {
    const { ex, clock } = fakeSetup();
    // Only the methods the tools require: no write/closeStdin, no on/off.
    const double = {
      submit: ex.submit.bind(ex), get: ex.get.bind(ex), list: ex.list.bind(ex), wait: ex.wait.bind(ex), cancel: ex.cancel.bind(ex),
      readOutput: ex.readOutput.bind(ex), follow: ex.follow.bind(ex), completions: ex.completions.bind(ex), ack: ex.ack.bind(ex),
    };
    const t = byName(createAgentTools(double, { clock }));
    const id = (await ex.submit({ command: 'x', stdin: 'pipe' })).id;
    const r = await call(t, 'bg_write', { task_id: id, input: 'a\n' });
    expect(r).toMatchObject({ ok: false, error: 'input_refused' });
    await ex.shutdown();
  });
});

describe('bg_write in strict mode', () => {
  it('takes every property, null for those not chosen, as a strict-mode model sends them', async () => {
    const { ex, fake, clock, tools } = fakeSetup({ strict: true });
    fake.script('repl', repl);
    const base = { cwd: null, env: null, timeout_ms: null, priority: null, stdin: 'pipe', tty: null };
    const start = await drive(clock, call(tools, 'bg_start', { ...base, command: 'repl', wait_ms: 0 }));
    expect(start).toMatchObject({ ok: true, status: 'running' });
    const w = await drive(clock, call(tools, 'bg_write', { task_id: start.task_id, input: 'hi\n', close: null, wait_ms: null }));
    expect(w).toMatchObject({ ok: true, awaiting_input: true, stdout: { text: 'HI\n> ' } });
    expect(w.clamped).toBeUndefined();
    expect(await call(tools, 'bg_write', { task_id: start.task_id, input: null, close: null, wait_ms: null })).toMatchObject({ ok: false, error: 'invalid_input' });
    await ex.shutdown();
  });
});

describe('bg_write within the budget', () => {
  it('caps a long reply to head + tail within maxOutputChars, and bg_read pages on from next_cursor', async () => {
    const { ex, fake, clock, tools } = fakeSetup({ maxOutputChars: 2048 });
    const lines = Array.from({ length: 5000 }, (_, i) => `row ${i + 1}\n`).join('');
    fake.script('dump', { hang: true, onLine: (_l, task) => { task.write('stdout', lines); task.write('stderr', 'warn\n'); } });
    const id = (await drive(clock, call(tools, 'bg_start', { command: 'dump', stdin: 'pipe', wait_ms: 0 }))).task_id as string;
    const out = await drive(clock, tools.bg_write.call({ task_id: id, input: 'go\n', wait_ms: 5000 }));
    expect(out.text.length).toBeLessThanOrEqual(2048);
    expect(JSON.stringify(out.result).length).toBeLessThanOrEqual(2048);
    const r = out.result as unknown as Record<string, any>;
    expect(r.stdout).toMatchObject({ truncated: true, cursor: 0 });
    expect(r.stdout.text).toMatch(/^row 1\n[\s\S]*\[… \d+ bytes omitted; next_cursor=\d+\]\n[\s\S]*row 5000\n$/);
    expect(r.stderr.text).toBe('warn\n');
    expect(r.hint).toMatch(/Output was capped/);
    const next = await call(tools, 'bg_read', { task_id: id });
    expect(next.cursor).toBe(r.stdout.next_cursor);
    await ex.shutdown();
  });
});

describe('awaiting input in bg_wait, bg_read and bg_list', () => {
  it('ends a bg_wait early with outcome input_wanted and the prompt, and marks the task everywhere', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('ask', { hang: true, awaitingInput: true });
    fake.script('busy', { hang: true });
    const ask = (await call(tools, 'bg_start', { command: 'ask', stdin: 'pipe', wait_ms: 0 })).task_id as string;
    fake.write(ask, 'stdout', 'Continue? [y/N] ');
    const busy = (await call(tools, 'bg_start', { command: 'busy', wait_ms: 0 })).task_id as string;
    const t0 = clock.now();
    const w = await drive(clock, call(tools, 'bg_wait', { task_ids: [busy, ask], timeout_ms: 60_000 }));
    expect(clock.now() - t0).toBeLessThan(1000);
    expect(w).toMatchObject({ ok: true, outcome: 'input_wanted', task_id: ask, status: 'running', awaiting_input: true });
    expect(w.stdout.text).toBe('Continue? [y/N] ');
    expect(w.hint).toMatch(/waiting for input.*bg_write/);
    expect(w.tasks).toEqual([{ task_id: busy, status: 'running' }, { task_id: ask, status: 'running', awaiting_input: true }]);

    // A second wait answers at once: the task still waits.
    const again = await call(tools, 'bg_wait', { task_ids: [ask], timeout_ms: 60_000 });
    expect(again.outcome).toBe('input_wanted');

    const read = await call(tools, 'bg_read', { task_id: ask, cursor: 0 });
    expect(read).toMatchObject({ ok: true, awaiting_input: true, text: 'Continue? [y/N] ' });
    expect(read.hint).toMatch(/bg_write/);
    const list = await call(tools, 'bg_list', {});
    expect(list.tasks.find((r: { task_id: string }) => r.task_id === ask)).toMatchObject({ awaiting_input: true });
    expect(list.tasks.find((r: { task_id: string }) => r.task_id === busy).awaiting_input).toBeUndefined();
    expect(list.hint).toMatch(/One task waits for input .*bg_write/);

    // Answered: no longer awaiting, and a wait for its exit runs to its timeout.
    fake.awaitInput(ask, false);
    await drive(clock, call(tools, 'bg_write', { task_id: ask, input: 'y\n', wait_ms: 100 }));
    expect(ex.get(ask)?.awaitingInput).toBeUndefined();
    const timeout = await drive(clock, call(tools, 'bg_wait', { task_ids: [ask], timeout_ms: 500 }));
    expect(timeout.outcome).toBe('timeout');
    await ex.shutdown();
  });

  it('says a terminal task that waits for input without a pipe cannot be written to and waits for ever', async () => {
    const { ex, fake, clock, tools } = fakeSetup();
    fake.script('tty-prompt', { hang: true, stdout: 'Password: ', awaitingInput: true });
    const id = (await call(tools, 'bg_start', { command: 'tty-prompt', tty: true, wait_ms: 0 })).task_id as string;
    const w = await drive(clock, call(tools, 'bg_wait', { task_ids: [id], timeout_ms: 60_000 }));
    expect(w).toMatchObject({ outcome: 'input_wanted' });
    expect(w.hint).toMatch(/without stdin "pipe": nothing can be written to it \(its terminal gave it one end-of-file and nothing more\).*bg_kill it and start it again with tty and stdin "pipe"/);
    await ex.shutdown();
  });
});
