// Bad input at the executor's entry points (readOutput, wait, cancel, follow, list, cleanup,
// shutdown, and submit cases not in test/executor/submit-validation.test.ts): each call fails
// with a BgexecError of a stable code, and the executor then still runs a normal task.
// Then every public method against hostile values (null, BigInt, symbols, circular objects,
// objects without a prototype, wrong types), generated from one table: each fails with
// INVALID_ARGUMENT (INVALID_SPEC for specs and scheduler options), building the message never
// throws, and a method returning a promise rejects instead of throwing.
// Also: output that is not UTF-8 is readable, never a throw.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
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

// ---------------------------------------------------------------- hostile values, every method

const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;
const circularList: unknown[] = ['x'];
circularList.push(circularList);
const bare = Object.create(null) as object;

// Objects that throw when read: every trap of a Proxy, a revoked Proxy, an enumerable getter.
const trapped = new Proxy({}, {
  get: () => { throw new Error('get trap'); },
  has: () => { throw new Error('has trap'); },
  ownKeys: () => { throw new Error('ownKeys trap'); },
  getOwnPropertyDescriptor: () => { throw new Error('getOwnPropertyDescriptor trap'); },
  getPrototypeOf: () => { throw new Error('getPrototypeOf trap'); },
});
const revoked = (() => {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
})();
const getter = (field: string): object => Object.defineProperty({}, field, { enumerable: true, get: () => { throw new Error(`${field} getter`); } });
/** For option objects and specs: objects whose reading throws (the getter on `field`). */
const unreadable = (field: string): Record<string, unknown> => ({ 'Proxy with throwing traps': trapped, 'revoked Proxy': revoked, 'throwing getter': getter(field) });

/** Values that are wrong for every slot they are tried in below (name → value). */
const HOSTILE: Record<string, unknown> = {
  null: null,
  bigint: 10n,
  symbol: Symbol('s'),
  circular,
  'circular array': circularList,
  'Object.create(null)': bare,
  function: () => 1,
  NaN: NaN,
};
/** For slots that take a string (an id, a name). */
const NOT_STRING = { ...HOSTILE, number: 42, undefined: undefined, array: ['a'], true: true };
/** For slots that take an options object (null, primitives, arrays; not objects). */
const NOT_OPTIONS: Record<string, unknown> = { null: null, bigint: 10n, symbol: Symbol('o'), number: 5, string: 'x', true: true, array: [], 'circular array': circularList, function: () => 1 };
/** For number fields. */
const NOT_NUMBER = { ...HOSTILE, string: '5', negative: -1, Infinity: -Infinity, true: true };
/** For fields taking one of a few strings (stream, mode). */
const NOT_CHOICE = { ...HOSTILE, number: 1, 'unknown string': 'explode', array: ['stdout'] };
/** For fields taking an array of strings. */
const NOT_LIST = { ...HOSTILE, string: 'x', number: 5, 'list with bigint': [1n], 'list with symbol': [Symbol('l')], 'list with null': [null] };

interface HostileCtx extends Ctx {
  sched: PriorityScheduler;
}
type HostileCase = { name: string; call: (c: HostileCtx) => unknown; code: ErrorCode; returnsPromise: boolean };

function slot(method: string, values: Record<string, unknown>, call: (c: HostileCtx, v: never) => unknown, returnsPromise: boolean, code: ErrorCode = 'INVALID_ARGUMENT'): HostileCase[] {
  return Object.entries(values).map(([label, v]) => ({ name: `${method} ← ${label}`, call: (c) => call(c, v as never), code, returnsPromise }));
}

const hostileCases: HostileCase[] = [
  // ids
  ...slot('get(id)', NOT_STRING, (c, v) => c.ex.get(v), false),
  ...slot('wait(id)', NOT_STRING, (c, v) => c.ex.wait(v), true),
  ...slot('cancel(id)', NOT_STRING, (c, v) => c.ex.cancel(v), true),
  ...slot('readOutput(id)', NOT_STRING, (c, v) => c.ex.readOutput(v), true),
  ...slot('follow(id)', NOT_STRING, (c, v) => c.ex.follow(v), false),
  ...slot('ack(ids)', { ...NOT_LIST, string: undefined }, (c, v) => c.ex.ack(v), false),
  ...slot('completions(session)', { ...HOSTILE, number: 1, array: ['s'] }, (c, v) => c.ex.completions(v), false),
  ...slot('pause(group)', { ...HOSTILE, number: 1 }, (c, v) => c.ex.pause(v), false),
  ...slot('resume(group)', { ...HOSTILE, number: 1 }, (c, v) => c.ex.resume(v), false),
  ...slot('retryNow(id)', NOT_STRING, (c, v) => c.ex.retryNow(v), false),
  ...slot('write(id)', NOT_STRING, (c, v) => c.ex.write(v, 'x'), true),
  ...slot('closeStdin(id)', NOT_STRING, (c, v) => c.ex.closeStdin(v), true),
  ...slot('write(id, data)', { ...HOSTILE, number: 42, undefined: undefined, array: [1, 2], 'array buffer': new ArrayBuffer(2), 'Proxy with throwing traps': trapped, 'revoked Proxy': revoked }, (c, v) => c.ex.write(c.live, v), true),
  ...slot('setPriority(id)', NOT_STRING, (c, v) => c.ex.setPriority(v, 1), false),
  // option objects
  ...slot('wait(id, options)', NOT_OPTIONS, (c, v) => c.ex.wait(c.live, v), true),
  ...slot('cancel(id, options)', NOT_OPTIONS, (c, v) => c.ex.cancel(c.live, v), true),
  ...slot('readOutput(id, options)', NOT_OPTIONS, (c, v) => c.ex.readOutput(c.done, v), true),
  ...slot('follow(id, options)', NOT_OPTIONS, (c, v) => c.ex.follow(c.done, v), false),
  ...slot('list(filter)', NOT_OPTIONS, (c, v) => c.ex.list(v), false),
  ...slot('cleanup(options)', NOT_OPTIONS, (c, v) => c.ex.cleanup(v), true),
  ...slot('shutdown(options)', NOT_OPTIONS, (c, v) => c.ex.shutdown(v), true),
  ...slot('new BackgroundExecutor(options)', NOT_OPTIONS, (_c, v) => new BackgroundExecutor(v), false),
  ...slot('new PriorityScheduler(options)', NOT_OPTIONS, (_c, v) => new PriorityScheduler(v), false, 'INVALID_SPEC'),
  // option objects that throw when read
  ...slot('wait(id, unreadable options)', unreadable('timeoutMs'), (c, v) => c.ex.wait(c.live, v), true),
  ...slot('cancel(id, unreadable options)', unreadable('graceMs'), (c, v) => c.ex.cancel(c.live, v), true),
  ...slot('readOutput(id, unreadable options)', unreadable('cursor'), (c, v) => c.ex.readOutput(c.done, v), true),
  ...slot('follow(id, unreadable options)', unreadable('cursor'), (c, v) => c.ex.follow(c.done, v), false),
  ...slot('list(unreadable filter)', unreadable('status'), (c, v) => c.ex.list(v), false),
  ...slot('cleanup(unreadable options)', unreadable('keep'), (c, v) => c.ex.cleanup(v), true),
  ...slot('shutdown(unreadable options)', unreadable('mode'), (c, v) => c.ex.shutdown(v), true),
  ...slot('new BackgroundExecutor(unreadable options)', unreadable('outputPollMs'), (_c, v) => new BackgroundExecutor(v), false),
  ...slot('new PriorityScheduler(unreadable options)', unreadable('concurrency'), (_c, v) => new PriorityScheduler(v), false, 'INVALID_SPEC'),
  ...slot('submit(unreadable spec)', unreadable('command'), (c, v) => c.ex.submit(v), true, 'INVALID_SPEC'),
  ...slot('submit({ env: unreadable })', unreadable('A'), (c, v) => c.ex.submit({ command: 'true', env: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ metadata: unreadable })', unreadable('m'), (c, v) => c.ex.submit({ command: 'true', metadata: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ retry: unreadable })', unreadable('attempts'), (c, v) => c.ex.submit({ command: 'true', retry: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ tags: unreadable })', unreadable('0'), (c, v) => c.ex.submit({ command: 'true', tags: v }), true, 'INVALID_SPEC'),
  // fields
  ...slot('shutdown({ mode })', NOT_CHOICE, (c, v) => c.ex.shutdown({ mode: v }), true),
  ...slot('shutdown({ graceMs })', NOT_NUMBER, (c, v) => c.ex.shutdown({ graceMs: v }), true),
  ...slot('wait({ timeoutMs })', NOT_NUMBER, (c, v) => c.ex.wait(c.live, { timeoutMs: v }), true),
  ...slot('wait({ signal })', { ...HOSTILE, object: {} }, (c, v) => c.ex.wait(c.live, { signal: v }), true),
  ...slot('cancel({ graceMs })', NOT_NUMBER, (c, v) => c.ex.cancel(c.live, { graceMs: v }), true),
  ...slot('cancel({ by })', { ...HOSTILE, number: 1, array: ['x'] }, (c, v) => c.ex.cancel(c.live, { by: v }), true),
  ...slot('setPriority(id, priority)', { ...HOSTILE, string: '5', Infinity: -Infinity, true: true }, (c, v) => c.ex.setPriority(c.live, v), false),
  ...slot('readOutput({ stream })', NOT_CHOICE, (c, v) => c.ex.readOutput(c.done, { stream: v }), true),
  ...slot('readOutput({ cursor })', NOT_NUMBER, (c, v) => c.ex.readOutput(c.done, { cursor: v }), true),
  ...slot('readOutput({ maxBytes })', NOT_NUMBER, (c, v) => c.ex.readOutput(c.done, { maxBytes: v }), true),
  ...slot('readOutput({ tail })', NOT_NUMBER, (c, v) => c.ex.readOutput(c.done, { tail: v }), true),
  ...slot('readOutput({ attempt })', NOT_NUMBER, (c, v) => c.ex.readOutput(c.done, { attempt: v }), true),
  ...slot('follow({ stream })', NOT_CHOICE, (c, v) => c.ex.follow(c.done, { stream: v }), false),
  ...slot('follow({ cursor })', NOT_NUMBER, (c, v) => c.ex.follow(c.done, { cursor: v }), false),
  ...slot('follow({ signal })', { ...HOSTILE, object: {} }, (c, v) => c.ex.follow(c.done, { signal: v }), false),
  ...slot('list({ status })', NOT_LIST, (c, v) => c.ex.list({ status: v }), false),
  ...slot('list({ tags })', NOT_LIST, (c, v) => c.ex.list({ tags: v }), false),
  ...slot('list({ group })', { ...HOSTILE, number: 1 }, (c, v) => c.ex.list({ group: v }), false),
  ...slot('list({ limit })', NOT_NUMBER, (c, v) => c.ex.list({ limit: v }), false),
  ...slot('list({ offset })', NOT_NUMBER, (c, v) => c.ex.list({ offset: v }), false),
  ...slot('cleanup({ statuses })', NOT_LIST, (c, v) => c.ex.cleanup({ statuses: v }), true),
  ...slot('cleanup({ olderThanMs })', NOT_NUMBER, (c, v) => c.ex.cleanup({ olderThanMs: v }), true),
  ...slot('cleanup({ keep })', NOT_NUMBER, (c, v) => c.ex.cleanup({ keep: v }), true),
  ...slot('on(event, listener)', { ...HOSTILE, function: 'not a function', undefined: undefined }, (c, v) => c.ex.on('task:queued', v), false),
  ...slot('once(event, listener)', { ...HOSTILE, function: 'not a function' }, (c, v) => c.ex.once('task:queued', v), false),
  ...slot('new BackgroundExecutor({ outputPollMs })', NOT_NUMBER, (_c, v) => new BackgroundExecutor({ outputPollMs: v }), false),
  ...slot('scheduler.setGroupCap(cap)', NOT_NUMBER, (c, v) => c.sched.setGroupCap('g', v), false),
  ...slot('scheduler.setGroupCap(group)', NOT_STRING, (c, v) => c.sched.setGroupCap(v, 1), false),
  ...slot('scheduler.add(entry)', { ...NOT_OPTIONS, array: undefined, 'Object.create(null)': bare, circular }, (c, v) => c.sched.add(v), false),
  ...slot('scheduler.add({ priority })', { ...NOT_NUMBER, negative: Infinity }, (c, v) => c.sched.add({ id: 'p', priority: v, order: 0 }), false),
  ...slot('scheduler.add({ group })', { ...HOSTILE, number: 1 }, (c, v) => c.sched.add({ id: 'g', priority: 0, order: 0, group: v }), false),
  ...slot('scheduler.remove(id)', NOT_STRING, (c, v) => c.sched.remove(v), false),
  ...slot('scheduler.release(id)', NOT_STRING, (c, v) => c.sched.release(v), false),
  ...slot('scheduler.markRunning({ id })', NOT_STRING, (c, v) => c.sched.markRunning({ id: v }), false),
  ...slot('scheduler.pause(group)', { ...HOSTILE, number: 1 }, (c, v) => c.sched.pause(v), false),
  ...slot('scheduler.resume(group)', { ...HOSTILE, number: 1 }, (c, v) => c.sched.resume(v), false),
  ...slot('scheduler.groupCap(group)', NOT_STRING, (c, v) => c.sched.groupCap(v), false),
  ...slot('scheduler.runningCount(group)', { ...HOSTILE, number: 1 }, (c, v) => c.sched.runningCount(v), false),
  // specs
  ...slot('submit(spec)', { ...NOT_OPTIONS, 'Object.create(null)': bare, circular }, (c, v) => c.ex.submit(v), true, 'INVALID_SPEC'),
  ...slot('submit({ command })', NOT_STRING, (c, v) => c.ex.submit({ command: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ priority })', { ...NOT_NUMBER, negative: Infinity }, (c, v) => c.ex.submit({ command: 'true', priority: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ timeoutMs })', NOT_NUMBER, (c, v) => c.ex.submit({ command: 'true', timeoutMs: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ tags })', NOT_LIST, (c, v) => c.ex.submit({ command: 'true', tags: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ env })', { ...NOT_OPTIONS, 'bigint value': { A: 1n }, 'circular value': { A: circular } }, (c, v) => c.ex.submit({ command: 'true', env: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ metadata })', { ...NOT_OPTIONS, circular, 'bigint inside': { n: 1n } }, (c, v) => c.ex.submit({ command: 'true', metadata: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ retry })', NOT_OPTIONS, (c, v) => c.ex.submit({ command: 'true', retry: v }), true, 'INVALID_SPEC'),
  ...slot('submit({ retry: { attempts } })', NOT_NUMBER, (c, v) => c.ex.submit({ command: 'true', retry: { attempts: v } }), true, 'INVALID_SPEC'),
  ...slot('submit({ retry: { backoff } })', { ...NOT_OPTIONS, function: undefined, bare, circular }, (c, v) => c.ex.submit({ command: 'true', retry: { attempts: 2, backoff: v } }), true, 'INVALID_SPEC'),
].filter((c) => !c.name.endsWith('← function') || !/submit\(\{ retry: \{ backoff/.test(c.name));

describe('every public method against hostile values', () => {
  const ctx = {} as HostileCtx;

  beforeAll(async () => {
    ctx.ex = new BackgroundExecutor();
    ctx.sched = new PriorityScheduler();
    const done = await ctx.ex.submit({ command: "printf 'hello\\n'" });
    ctx.done = done.id;
    expect((await ctx.ex.wait(done.id)).status).toBe('completed');
    ctx.live = (await ctx.ex.submit({ command: 'sleep 60', graceMs: 100 })).id;
  });

  afterAll(async () => {
    await ctx.ex.shutdown({ graceMs: 100 });
  });

  it('has a case for each public method of the executor', () => {
    const methods = Object.getOwnPropertyNames(BackgroundExecutor.prototype).filter((m) => m !== 'constructor' && !m.startsWith('#'));
    // Methods without arguments need no hostile case.
    const noArgs = new Set(['start', 'onIdle', 'metrics', 'clock', 'transportNames']);
    const covered = new Set(hostileCases.map((c) => /^(?:new )?(\w+)/.exec(c.name)![1]!));
    for (const m of methods) if (!noArgs.has(m)) expect(covered.has(m), m).toBe(true);
    const schedulerMethods = Object.getOwnPropertyNames(PriorityScheduler.prototype).filter((m) => !['constructor', 'next', 'nextWakeAt', 'counts', 'has', 'isPaused'].includes(m));
    const coveredScheduler = new Set(hostileCases.map((c) => /^scheduler\.(\w+)/.exec(c.name)?.[1]));
    // Private helpers of the class (enqueue, refresh, …) are not public API.
    for (const m of schedulerMethods.filter((n) => !['enqueue', 'promoteDue', 'count', 'change', 'refresh'].includes(n))) {
      expect(coveredScheduler.has(m), `scheduler.${m}`).toBe(true);
    }
    expect(hostileCases.length).toBeGreaterThanOrEqual(300);
  });

  it.each(hostileCases)('$name → $code', async ({ call, code, returnsPromise }) => {
    let result: unknown;
    let thrown: unknown;
    try {
      result = call(ctx);
    } catch (err) {
      thrown = err;
    }
    if (returnsPromise) {
      // Never a synchronous throw from a method that returns a promise.
      expect(thrown).toBeUndefined();
      expect(result).toBeInstanceOf(Promise);
    }
    const err = await caught(async () => {
      if (thrown !== undefined) throw thrown;
      return result;
    });
    expect(err.code, err.message.slice(0, 200)).toBe(code);
    expect(typeof err.message).toBe('string');
    expect(() => JSON.stringify(err.toJSON())).not.toThrow();
    // Refused before anything changed: the live task still runs, the executor still reads.
    expect(ctx.ex.get(ctx.live)?.status).toBe('running');
    expect((await ctx.ex.readOutput(ctx.done)).text).toBe('hello\n');
  });

  it('still runs a task after every hostile call', async () => {
    const ok = await ctx.ex.submit({ command: 'echo ok' });
    expect((await ctx.ex.wait(ok.id)).status).toBe('completed');
    expect((await ctx.ex.readOutput(ok.id)).text).toBe('ok\n');
  });
});
