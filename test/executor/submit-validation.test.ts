import { describe, expect, it } from 'vitest';
import { BgexecError } from '../../src/errors.js';
import type { TaskSpec } from '../../src/task.js';
import { fakeExecutor } from '../helpers.js';

const bad: Array<[string, unknown, string]> = [
  ['empty command', { command: '' }, 'command'],
  ['blank command', { command: '   ' }, 'command'],
  ['missing command', {}, 'command'],
  ['non-string command', { command: 42 }, 'command'],
  ['NUL in command', { command: 'echo a\0b' }, 'command'],
  ['huge command', { command: 'x'.repeat(200_000) }, 'command'],
  ['NUL in arg', { command: 'echo', args: ['a\0'] }, 'args[0]'],
  ['args not array', { command: 'echo', args: 'a' }, 'args'],
  ['NaN priority', { command: 'true', priority: NaN }, 'priority'],
  ['Infinity priority', { command: 'true', priority: Infinity }, 'priority'],
  ['string priority', { command: 'true', priority: '1' }, 'priority'],
  ['negative timeout', { command: 'true', timeoutMs: -1 }, 'timeoutMs'],
  ['NaN timeout', { command: 'true', timeoutMs: NaN }, 'timeoutMs'],
  ['zero timeout', { command: 'true', timeoutMs: 0 }, 'timeoutMs'],
  ['timeout beyond timers', { command: 'true', timeoutMs: 2 ** 32 }, 'timeoutMs'],
  ['negative grace', { command: 'true', graceMs: -5 }, 'graceMs'],
  ['negative delay', { command: 'true', delayMs: -5 }, 'delayMs'],
  ['delay beyond timers', { command: 'true', delayMs: 1e300 }, 'delayMs'],
  ['unknown transport', { command: 'true', transport: 'mars' }, 'transport'],
  ['unknown key', { command: 'true', prioirty: 3 }, 'prioirty'],
  ['retry attempts 0', { command: 'true', retry: { attempts: 0 } }, 'retry.attempts'],
  ['retry attempts fractional', { command: 'true', retry: { attempts: 1.5 } }, 'retry.attempts'],
  ['retry unknown key', { command: 'true', retry: { attempts: 2, tries: 3 } }, 'retry.tries'],
  ['retry bad backoff type', { command: 'true', retry: { attempts: 2, backoff: { type: 'linear', delayMs: 1 } } }, 'retry.backoff.type'],
  ['retry negative backoff', { command: 'true', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: -1 } } }, 'retry.backoff.delayMs'],
  ['retryOn cancelled', { command: 'true', retry: { attempts: 2, retryOn: ['cancelled'] } }, 'retry.retryOn'],
  ['env not object', { command: 'true', env: 'A=1' }, 'env'],
  ['env bad name', { command: 'true', env: { 'A-B': '1' } }, 'env.A-B'],
  ['env non-string', { command: 'true', env: { A: 1 } }, 'env.A'],
  ['env NUL', { command: 'true', env: { A: 'x\0' } }, 'env.A'],
  ['env reserved', { command: 'true', env: { BGEXEC_TASK_ID: 'x' } }, 'env.BGEXEC_TASK_ID'],
  ['cwd NUL', { command: 'true', cwd: '/tmp\0' }, 'cwd'],
  ['detached not boolean', { command: 'true', detached: 'yes' }, 'detached'],
  ['tags not array', { command: 'true', tags: 'a' }, 'tags'],
  ['metadata not plain', { command: 'true', metadata: new Date() }, 'metadata'],
  ['metadata cyclic', { command: 'true', metadata: (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })() }, 'metadata'],
  ['maxOutputBytes 0', { command: 'true', maxOutputBytes: 0 }, 'maxOutputBytes'],
  ['signal not AbortSignal', { command: 'true', signal: {} }, 'signal'],
  ['spec not object', 'echo hi', 'spec'],
  // Specs parsed from JSON can carry "__proto__" as an ordinary key.
  ['"__proto__" key from JSON', JSON.parse('{"command":"true","__proto__":{"priority":5}}'), '__proto__'],
];

describe('submit validation', () => {
  it.each(bad)('%s → INVALID_SPEC naming the field', async (_name, spec, field) => {
    const { ex } = fakeExecutor();
    const err = await ex.submit(spec as TaskSpec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BgexecError);
    expect((err as BgexecError).code).toBe('INVALID_SPEC');
    expect((err as BgexecError).field).toBe(field);
    expect((err as BgexecError).message).toContain(field);
    // Nothing was accepted, and the executor still runs a normal task.
    expect(ex.list()).toHaveLength(0);
    const ok = await ex.submit({ command: 'echo ok' });
    expect((await ex.wait(ok.id)).status).toBe('completed');
    await ex.shutdown();
  });

  it('never hands out an id that starts with "-" (a command line would take it for an option)', async () => {
    const { ex } = fakeExecutor({ concurrency: 1 });
    ex.pause();
    const ids: string[] = [];
    // 1 in 64 nanoid ids starts with '-': 2000 draws all but surely contain some.
    for (let i = 0; i < 2000; i++) ids.push((await ex.submit({ command: 'true' })).id);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_][A-Za-z0-9_-]{20}$/.test(id))).toBe(true);
    await ex.shutdown({ mode: 'kill' });
  });

  it('keeps an env variable named "__proto__" from JSON as an ordinary variable', async () => {
    const { ex } = fakeExecutor();
    const r = await ex.submit({ command: 'true', env: JSON.parse('{"__proto__":"x","B":"y"}') as Record<string, string> });
    expect(Object.entries(r.spec.env ?? {})).toEqual([['__proto__', 'x'], ['B', 'y']]);
    expect(Object.getPrototypeOf(r.spec.env)).toBe(Object.prototype);
    await ex.shutdown();
  });

  it('rejects bad constructor options with INVALID_ARGUMENT', async () => {
    const { BackgroundExecutor } = await import('../../src/executor.js');
    const { FakeTransport } = await import('../../src/testing/fake-transport.js');
    expect(() => new BackgroundExecutor({ transports: { local: {} as never } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new BackgroundExecutor({ transports: { a: new FakeTransport() }, defaultTransport: 'b' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'defaultTransport' }),
    );
    expect(() => new BackgroundExecutor({ transports: { a: new FakeTransport() }, defaults: { timeoutMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'INVALID_SPEC', field: 'timeoutMs' }),
    );
  });

  it('QUEUE_FULL past maxQueueSize, without losing what was accepted', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 1, maxQueueSize: 2 });
    fake.script(/.*/, { hang: true });
    const a = await ex.submit({ command: 'a' });
    // a is dispatched on a microtask; after that the queue holds only what follows.
    await new Promise((r) => setImmediate(r));
    await ex.submit({ command: 'b' });
    await ex.submit({ command: 'c' });
    const err = await ex.submit({ command: 'd' }).catch((e: unknown) => e);
    expect((err as BgexecError).code).toBe('QUEUE_FULL');
    expect(ex.list().map((r) => r.spec.command)).toEqual(['a', 'b', 'c']);
    expect(ex.get(a.id)?.status).toBe('running');
    await ex.shutdown();
  });

  it('idempotencyKey returns the existing task instead of a new one', async () => {
    const { ex } = fakeExecutor();
    const a = await ex.submit({ command: 'x', idempotencyKey: 'k1' });
    const b = await ex.submit({ command: 'y', idempotencyKey: 'k1' });
    expect(b.id).toBe(a.id);
    expect(b.spec.command).toBe('x');
    expect(ex.list()).toHaveLength(1);
    await ex.shutdown();
  });

  it('refuses submissions after shutdown with SHUTTING_DOWN', async () => {
    const { ex } = fakeExecutor();
    await ex.start();
    await ex.shutdown();
    await expect(ex.submit({ command: 'true' })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('unknown ids get NOT_FOUND from wait, cancel, readOutput and follow', async () => {
    const { ex } = fakeExecutor();
    await expect(ex.wait('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ex.cancel('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ex.readOutput('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => ex.follow('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(ex.get('nope')).toBeUndefined();
    await ex.shutdown();
  });

  it('stored specs are frozen copies: mutating the input changes nothing', async () => {
    const { ex } = fakeExecutor();
    const env = { A: '1' };
    const spec = { command: 'x', env, tags: ['t'] };
    const rec = await ex.submit(spec);
    env.A = '2';
    spec.tags.push('u');
    expect(ex.get(rec.id)?.spec.env).toEqual({ A: '1' });
    expect(ex.get(rec.id)?.spec.tags).toEqual(['t']);
    expect(Object.isFrozen(ex.get(rec.id)?.spec)).toBe(true);
    await ex.shutdown();
  });
});
