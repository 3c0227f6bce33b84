// Bad input at the executor's entry points (readOutput, wait, cancel, follow, list, cleanup,
// shutdown, and submit cases not in test/executor/submit-validation.test.ts): each call fails
// with a BgexecError of a stable code, and the executor then still runs a normal task.
// Also: output that is not UTF-8 is readable, never a throw.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { BackgroundExecutor } from '../../src/executor.js';
import type { TaskSpec } from '../../src/task.js';
import { caught } from './_util.js';

interface Ctx {
  ex: BackgroundExecutor;
  /** A completed task whose stdout is "hello\n". */
  done: string;
  /** A task running `sleep 60`. */
  live: string;
}

const HUGE = 'x'.repeat(1_000_000);
const ANY = undefined as never; // a value of the wrong type, smuggled past TypeScript

type Case = [name: string, call: (c: Ctx) => unknown, code: ErrorCode];

const cases: Case[] = [
  // readOutput
  ['readOutput: unknown id', (c) => c.ex.readOutput('nope'), 'NOT_FOUND'],
  ['readOutput: traversal id ../x', (c) => c.ex.readOutput('../x'), 'NOT_FOUND'],
  ['readOutput: traversal id ../../etc/passwd', (c) => c.ex.readOutput('../../etc/passwd'), 'NOT_FOUND'],
  ['readOutput: 1 MB id', (c) => c.ex.readOutput(HUGE), 'NOT_FOUND'],
  ['readOutput: id with NUL', (c) => c.ex.readOutput('a\0b'), 'NOT_FOUND'],
  ['readOutput: id not a string', (c) => c.ex.readOutput(42 as never), 'INVALID_ARGUMENT'],
  ['readOutput: stream stdin', (c) => c.ex.readOutput(c.done, { stream: 'stdin' as never }), 'INVALID_ARGUMENT'],
  ['readOutput: negative cursor', (c) => c.ex.readOutput(c.done, { cursor: -1 }), 'INVALID_ARGUMENT'],
  ['readOutput: fractional cursor', (c) => c.ex.readOutput(c.done, { cursor: 1.5 }), 'INVALID_ARGUMENT'],
  ['readOutput: NaN cursor', (c) => c.ex.readOutput(c.done, { cursor: NaN }), 'INVALID_ARGUMENT'],
  ['readOutput: cursor 2^60 (unsafe integer)', (c) => c.ex.readOutput(c.done, { cursor: 2 ** 60 }), 'INVALID_ARGUMENT'],
  ['readOutput: cursor as string', (c) => c.ex.readOutput(c.done, { cursor: '0' as never }), 'INVALID_ARGUMENT'],
  ['readOutput: maxBytes 0', (c) => c.ex.readOutput(c.done, { maxBytes: 0 }), 'INVALID_ARGUMENT'],
  ['readOutput: maxBytes Infinity', (c) => c.ex.readOutput(c.done, { maxBytes: Infinity }), 'INVALID_ARGUMENT'],
  ['readOutput: negative tail', (c) => c.ex.readOutput(c.done, { tail: -1 }), 'INVALID_ARGUMENT'],
  ['readOutput: tail and head together', (c) => c.ex.readOutput(c.done, { tail: 1, head: 1 }), 'INVALID_ARGUMENT'],
  ['readOutput: attempt beyond the last', (c) => c.ex.readOutput(c.done, { attempt: 99 }), 'INVALID_ARGUMENT'],
  ['readOutput: attempt as string', (c) => c.ex.readOutput(c.done, { attempt: '1' as never }), 'INVALID_ARGUMENT'],
  // wait
  ['wait: unknown id', (c) => c.ex.wait('nope'), 'NOT_FOUND'],
  ['wait: id undefined', (c) => c.ex.wait(ANY), 'INVALID_ARGUMENT'],
  ['wait: negative timeoutMs', (c) => c.ex.wait(c.live, { timeoutMs: -1 }), 'INVALID_ARGUMENT'],
  ['wait: NaN timeoutMs', (c) => c.ex.wait(c.live, { timeoutMs: NaN }), 'INVALID_ARGUMENT'],
  ['wait: timeoutMs beyond timers (2^40)', (c) => c.ex.wait(c.live, { timeoutMs: 2 ** 40 }), 'INVALID_ARGUMENT'],
  ['wait: signal not an AbortSignal', (c) => c.ex.wait(c.live, { signal: {} as never }), 'INVALID_ARGUMENT'],
  ['wait: signal already aborted', (c) => c.ex.wait(c.live, { signal: AbortSignal.abort() }), 'ABORTED'],
  ['wait: timeout while the task goes on', (c) => c.ex.wait(c.live, { timeoutMs: 20 }), 'WAIT_TIMEOUT'],
  // cancel
  ['cancel: unknown id', (c) => c.ex.cancel('nope'), 'NOT_FOUND'],
  ['cancel: traversal id ../x', (c) => c.ex.cancel('../x'), 'NOT_FOUND'],
  ['cancel: id null', (c) => c.ex.cancel(null as never), 'INVALID_ARGUMENT'],
  ['cancel: negative graceMs', (c) => c.ex.cancel(c.live, { graceMs: -1 }), 'INVALID_ARGUMENT'],
  ['cancel: graceMs as string', (c) => c.ex.cancel(c.live, { graceMs: '5' as never }), 'INVALID_ARGUMENT'],
  ['cancel: graceMs Infinity', (c) => c.ex.cancel(c.live, { graceMs: Infinity }), 'INVALID_ARGUMENT'],
  // follow
  ['follow: unknown id', (c) => c.ex.follow('nope'), 'NOT_FOUND'],
  ['follow: bad stream (on first read)', (c) => c.ex.follow(c.done, { stream: 'x' as never })[Symbol.asyncIterator]().next(), 'INVALID_ARGUMENT'],
  // list
  ['list: negative limit', (c) => c.ex.list({ limit: -1 }), 'INVALID_ARGUMENT'],
  ['list: limit as string', (c) => c.ex.list({ limit: 'x' as never }), 'INVALID_ARGUMENT'],
  ['list: fractional offset', (c) => c.ex.list({ offset: 1.5 }), 'INVALID_ARGUMENT'],
  ['list: unknown status (a typo must not silently match nothing)', (c) => c.ex.list({ status: 'runing' as never }), 'INVALID_ARGUMENT'],
  // cleanup
  ['cleanup: negative olderThanMs', (c) => c.ex.cleanup({ olderThanMs: -1 }), 'INVALID_ARGUMENT'],
  ['cleanup: NaN olderThanMs', (c) => c.ex.cleanup({ olderThanMs: NaN }), 'INVALID_ARGUMENT'],
  ['cleanup: negative keep', (c) => c.ex.cleanup({ keep: -1 }), 'INVALID_ARGUMENT'],
  ['cleanup: fractional keep', (c) => c.ex.cleanup({ keep: 0.5 }), 'INVALID_ARGUMENT'],
  ['cleanup: non-terminal status', (c) => c.ex.cleanup({ statuses: ['running' as never] }), 'INVALID_ARGUMENT'],
  ['cleanup: statuses as a string', (c) => c.ex.cleanup({ statuses: 'completed' as never }), 'INVALID_ARGUMENT'],
  // shutdown (refused before anything stops)
  ['shutdown: unknown mode', (c) => c.ex.shutdown({ mode: 'explode' as never }), 'INVALID_ARGUMENT'],
  ['shutdown: negative graceMs', (c) => c.ex.shutdown({ graceMs: -1 }), 'INVALID_ARGUMENT'],
  ['shutdown: graceMs Infinity', (c) => c.ex.shutdown({ graceMs: Infinity }), 'INVALID_ARGUMENT'],
  // submit: cases beyond submit-validation.test.ts
  ['submit: spec null', (c) => c.ex.submit(null as never), 'INVALID_SPEC'],
  ['submit: spec an array', (c) => c.ex.submit(['echo'] as never), 'INVALID_SPEC'],
  ['submit: 200 KB env value', (c) => c.ex.submit({ command: 'true', env: { A: HUGE.slice(0, 200_000) } }), 'INVALID_SPEC'],
  ['submit: 5000-byte cwd', (c) => c.ex.submit({ command: 'true', cwd: `/${HUGE.slice(0, 5000)}` }), 'INVALID_SPEC'],
  ['submit: 300-byte group', (c) => c.ex.submit({ command: 'true', group: HUGE.slice(0, 300) }), 'INVALID_SPEC'],
  ['submit: NUL in idempotencyKey', (c) => c.ex.submit({ command: 'true', idempotencyKey: 'k\0' }), 'INVALID_SPEC'],
  ['submit: NUL in a tag', (c) => c.ex.submit({ command: 'true', tags: ['a\0'] }), 'INVALID_SPEC'],
  ['submit: NUL in session', (c) => c.ex.submit({ command: 'true', session: 's\0' }), 'INVALID_SPEC'],
  ['submit: metadata over 1 MiB', (c) => c.ex.submit({ command: 'true', metadata: { big: HUGE.repeat(2) } }), 'INVALID_SPEC'],
  ['submit: non-string arg', (c) => c.ex.submit({ command: 'echo', args: ['a', 1 as never] }), 'INVALID_SPEC'],
  ['submit: timeoutMs as string', (c) => c.ex.submit({ command: 'true', timeoutMs: '100' as never }), 'INVALID_SPEC'],
  ['submit: fractional maxOutputBytes', (c) => c.ex.submit({ command: 'true', maxOutputBytes: 1.5 }), 'INVALID_SPEC'],
  ['submit: 1001 retry attempts', (c) => c.ex.submit({ command: 'true', retry: { attempts: 1001 } }), 'INVALID_SPEC'],
  ['submit: jitter 2', (c) => c.ex.submit({ command: 'true', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 1, jitter: 2 } } }), 'INVALID_SPEC'],
  ['submit: empty env name', (c) => c.ex.submit({ command: 'true', env: { '': 'x' } }), 'INVALID_SPEC'],
  ['submit: env name with =', (c) => c.ex.submit({ command: 'true', env: { 'A=B': 'x' } }), 'INVALID_SPEC'],
  ['submit: transport ../local', (c) => c.ex.submit({ command: 'true', transport: '../local' } as TaskSpec), 'INVALID_SPEC'],
  ['submit: aborted signal', (c) => c.ex.submit({ command: 'true', signal: AbortSignal.abort() }), 'ABORTED'],
];

describe('bad input at the executor entry points', () => {
  const ctx = {} as Ctx;

  beforeAll(async () => {
    ctx.ex = new BackgroundExecutor();
    const done = await ctx.ex.submit({ command: "printf 'hello\\n'" });
    ctx.done = done.id;
    expect((await ctx.ex.wait(done.id)).status).toBe('completed');
    ctx.live = (await ctx.ex.submit({ command: 'sleep 60', graceMs: 100 })).id;
  });

  afterAll(async () => {
    await ctx.ex.shutdown({ graceMs: 100 });
  });

  it('has at least 40 cases here', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map(([name, call, code]) => ({ name, call, code })))('$name → $code', async ({ call, code }) => {
    const err = await caught(() => call(ctx));
    expect(err.code, err.message.slice(0, 200)).toBe(code);
    // Nothing broke: the live task still runs, the finished one still reads, a new one runs.
    expect(ctx.ex.get(ctx.live)?.status).toBe('running');
    expect((await ctx.ex.readOutput(ctx.done)).text).toBe('hello\n');
    const ok = await ctx.ex.submit({ command: 'echo ok' });
    expect((await ctx.ex.wait(ok.id)).status).toBe('completed');
    expect((await ctx.ex.readOutput(ok.id)).text).toBe('ok\n');
  });

  it('output that is not valid UTF-8 is readable by cursor, tail, head and follow, without throwing', async () => {
    // Invalid bytes: a lone continuation byte, an overlong encoding, a truncated 3-byte
    // sequence, 0xFF/0xFE, a UTF-16 surrogate encoded in UTF-8, and a cut sequence at the end.
    const bytes = String.raw`\200ok\300\257\342\202\n\377\376mid\355\240\200\nend\342\202`;
    const t = await ctx.ex.submit({ command: `printf '${bytes}'` });
    expect((await ctx.ex.wait(t.id)).status).toBe('completed');
    const all = await ctx.ex.readOutput(t.id);
    expect(all.totalBytes).toBe(22);
    expect(all.eof).toBe(true);
    expect(all.text).toContain('ok');
    expect(all.text).toContain('\uFFFD');
    expect(all.text.endsWith('end\uFFFD')).toBe(true);
    // Byte-at-a-time cursor reads always progress and cover every byte.
    let cursor = 0;
    for (let reads = 0; cursor < all.totalBytes; reads++) {
      expect(reads).toBeLessThan(100);
      const r = await ctx.ex.readOutput(t.id, { cursor, maxBytes: 1 });
      expect(r.nextCursor).toBeGreaterThan(cursor);
      cursor = r.nextCursor;
    }
    expect((await ctx.ex.readOutput(t.id, { tail: 1 })).text.startsWith('end')).toBe(true);
    expect((await ctx.ex.readOutput(t.id, { head: 1 })).text).toContain('ok');
    let followed = '';
    for await (const chunk of ctx.ex.follow(t.id)) followed += chunk.text;
    expect(followed).toBe(all.text);
  });
});
