import { describe, expect, it } from 'vitest';
import { FakeTransport, ManualClock } from '../../src/testing/index.js';
import type { LaunchRequest } from '../../src/transports/types.js';

const req = (taskId: string, attempt = 1, command = `cmd ${taskId}`, extra: Partial<LaunchRequest> = {}): LaunchRequest =>
  ({ taskId, attempt, command, detached: false, ...extra });

function setup() {
  const clock = new ManualClock(1000);
  return { clock, fake: new FakeTransport({ clock }) };
}

describe('FakeTransport scripts', () => {
  it('exits 0 on the next macrotask by default, or per defaultOutcome', async () => {
    const { fake } = setup();
    const h = await fake.start(req('a'));
    expect((await fake.poll(h)).state).toBe('running');
    expect(await fake.wait(h)).toEqual({ state: 'exited', exitCode: 0, signal: null, endedAt: 1000 });

    const other = new FakeTransport({ defaultOutcome: { exitCode: 9, stdout: 'dflt' }, kind: 'mock' });
    const h2 = await other.start(req('b'));
    expect(h2.kind).toBe('mock');
    expect((await other.wait(h2)).exitCode).toBe(9);
    expect((await other.read(h2, 'stdout', 0, 100)).data.toString()).toBe('dflt');
  });

  it('matches a string against the command or the task id, a RegExp against the command, or a predicate', async () => {
    const { fake } = setup();
    fake
      .script('make test', { exitCode: 1 })
      .script('special-id', { exitCode: 2 })
      .script(/^deploy\b/g, { exitCode: 3 })
      .script((r) => r.cwd === '/srv', { exitCode: 4 });
    const code = async (r: LaunchRequest) => (await fake.wait(await fake.start(r))).exitCode;
    expect(await code(req('t1', 1, 'make test'))).toBe(1);
    expect(await code(req('t2', 1, 'make test --all'))).toBe(0);
    expect(await code(req('special-id', 1, 'anything'))).toBe(2);
    // A /g RegExp matches every time (its lastIndex is not carried over).
    expect(await code(req('t3', 1, 'deploy prod'))).toBe(3);
    expect(await code(req('t4', 1, 'deploy staging'))).toBe(3);
    expect(await code(req('t5', 1, 'ls', { cwd: '/srv' }))).toBe(4);
  });

  it('lets the most recently added matching script win', async () => {
    const { fake } = setup();
    fake.script(/build/, { exitCode: 1 }).script('build all', { exitCode: 2 });
    expect((await fake.wait(await fake.start(req('a', 1, 'build all')))).exitCode).toBe(2);
    expect((await fake.wait(await fake.start(req('b', 1, 'build one')))).exitCode).toBe(1);
    fake.script(() => true, { exitCode: 3 });
    expect((await fake.wait(await fake.start(req('c', 1, 'build all')))).exitCode).toBe(3);
  });

  it('gives successive attempts of a task successive outcomes, repeating the last, per task', async () => {
    const { fake } = setup();
    fake.script('flaky', { exitCode: 1 }, { exitCode: 2 }, { exitCode: 0 });
    const codes: Array<number | null> = [];
    for (const [taskId, attempt] of [['x', 1], ['x', 2], ['y', 1], ['x', 3], ['x', 4], ['y', 2]] as const) {
      codes.push((await fake.wait(await fake.start(req(taskId, attempt, 'flaky')))).exitCode);
    }
    expect(codes).toEqual([1, 2, 1, 0, 0, 2]);
  });

  it('applies delay, signal, lost and spawnError outcomes', async () => {
    const { clock, fake } = setup();
    fake.script('slow', { delayMs: 500, exitCode: 3 })
      .script('sig', { signal: 'SIGSEGV', exitCode: 5 })
      .script('gone', { lost: true })
      .script('nope', { spawnError: true })
      .script('nope2', { spawnError: 'no such file' });
    const slow = await fake.start(req('s', 1, 'slow'));
    let ended = false;
    void fake.wait(slow).then(() => { ended = true; });
    await clock.advance(499);
    expect(ended).toBe(false);
    await clock.advance(1);
    expect(ended).toBe(true);
    expect(await fake.wait(slow)).toEqual({ state: 'exited', exitCode: 3, signal: null, endedAt: 1500 });
    expect(await fake.wait(await fake.start(req('g', 1, 'sig')))).toMatchObject({ exitCode: null, signal: 'SIGSEGV' });
    const lost = await fake.start(req('l', 1, 'gone'));
    expect(await fake.wait(lost)).toMatchObject({ state: 'lost', exitCode: null, signal: null });
    expect((await fake.poll(lost)).state).toBe('lost');
    await expect(fake.start(req('n', 1, 'nope'))).rejects.toMatchObject({ code: 'SPAWN_FAILED', message: 'cannot start "nope"' });
    await expect(fake.start(req('n2', 1, 'nope2'))).rejects.toMatchObject({ code: 'SPAWN_FAILED', message: 'no such file' });
    expect(fake.started.map((r) => r.taskId)).toEqual(['s', 'g', 'l']);
  });

  it('requires at least one outcome', () => {
    expect(() => new FakeTransport().script('x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('FakeTransport manual control', () => {
  it('completes, writes to and loses hanging attempts by task id', async () => {
    const { clock, fake } = setup();
    fake.script(/^hang/, { hang: true, stdout: 'a' });
    const h1 = await fake.start(req('one', 1, 'hang 1'));
    fake.write('one', 'stdout', 'bc');
    fake.write('one', 'stderr', Buffer.from('é'));
    expect(await fake.poll(h1)).toEqual({ state: 'running', stdoutBytes: 3, stderrBytes: 2 });
    await clock.advance(42);
    fake.complete('one', { exitCode: 12 });
    expect(await fake.wait(h1)).toEqual({ state: 'exited', exitCode: 12, signal: null, endedAt: 1042 });
    expect((await fake.read(h1, 'stdout', 0, 10)).data.toString()).toBe('abc');
    expect(() => fake.write('one', 'stdout', 'late')).toThrow(/no running attempt/);
    expect(() => fake.complete('one')).toThrow(/no running attempt/);

    const h2 = await fake.start(req('two', 1, 'hang 2'));
    fake.complete('two', { signal: 'SIGHUP' });
    expect(await fake.wait(h2)).toMatchObject({ exitCode: null, signal: 'SIGHUP' });

    const h3 = await fake.start(req('three', 1, 'hang 3'));
    fake.lose('three');
    expect(await fake.wait(h3)).toMatchObject({ state: 'lost', exitCode: null });
    expect(() => fake.lose('three')).toThrow();
  });

  it('lets a process that ignores TERM finish by itself during the grace', async () => {
    const { clock, fake } = setup();
    fake.script('stubborn', { ignoreTerm: true, delayMs: 100, exitCode: 0 });
    const h = await fake.start(req('s', 1, 'stubborn'));
    const killing = fake.kill(h, { graceMs: 1000 });
    await clock.advance(100);
    await killing;
    expect(await fake.wait(h)).toMatchObject({ exitCode: 0, signal: null, endedAt: 1100 });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('records every call with its clock time', async () => {
    const { clock, fake } = setup();
    const h = await fake.start(req('a'));
    await clock.advance(5);
    await fake.wait(h);
    await fake.poll(h);
    await fake.read(h, 'stdout', 0, 1);
    await fake.kill(h, { graceMs: 1 });
    await fake.cleanup(h);
    await fake.probe('a', 1);
    await fake.close();
    expect(fake.calls).toEqual([
      { method: 'start', taskId: 'a', attempt: 1, at: 1000 },
      ...(['wait', 'poll', 'read', 'kill', 'cleanup', 'probe'] as const).map((method) => ({ method, taskId: 'a', attempt: 1, at: 1005 })),
      { method: 'close', at: 1005 },
    ]);
  });

  it('hands out one calls array, kept up to date after it was first read and emptied in place by reset()', async () => {
    const { clock, fake } = setup();
    const h = await fake.start(req('a'));
    const calls = fake.calls;
    expect(calls.map((c) => c.method)).toEqual(['start']);
    await clock.advance(2);
    await fake.wait(h);
    await fake.close();
    expect(fake.calls).toBe(calls);
    expect(calls).toEqual([
      { method: 'start', taskId: 'a', attempt: 1, at: 1000 },
      { method: 'wait', taskId: 'a', attempt: 1, at: 1002 },
      { method: 'close', at: 1002 },
    ]);
    fake.reset();
    expect(calls).toEqual([]);
    await fake.poll(h);
    expect(fake.calls).toBe(calls);
    expect(calls).toEqual([{ method: 'poll', taskId: 'a', attempt: 1, at: 1002 }]);
  });

  it('tracks running() and maxConcurrent, and reset() forgets records but keeps attempts', async () => {
    const { fake } = setup();
    fake.script(() => true, { hang: true });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => fake.start(req(id, 1, 'x', { env: { K: id } }))));
    expect(fake.running().map((r) => r.taskId)).toEqual(['a', 'b', 'c']);
    await fake.kill(a!, { graceMs: 0 });
    await fake.kill(b!, { graceMs: 0 });
    await fake.start(req('d', 1, 'x'));
    expect(fake.running().map((r) => r.taskId)).toEqual(['c', 'd']);
    expect(fake.maxConcurrent).toBe(3);
    expect(fake.started[0]?.env).toEqual({ K: 'a' });

    fake.reset();
    expect(fake.calls).toEqual([]);
    expect(fake.started).toEqual([]);
    expect(fake.maxConcurrent).toBe(2);
    // Scripts are gone: the default outcome applies again.
    expect((await fake.wait(await fake.start(req('e')))).exitCode).toBe(0);
    fake.complete('c');
    expect((await fake.wait(c!)).exitCode).toBe(0);
  });

  it('keeps the recorded request safe from later mutation by the caller', async () => {
    const fake = new FakeTransport();
    const env: Record<string, string> = { A: '1' };
    const r = req('a', 1, 'x', { env });
    await fake.start(r);
    env['A'] = 'changed';
    expect(fake.started[0]?.env).toEqual({ A: '1' });
  });
});

describe('FakeTransport handles', () => {
  it('hands out plain JSON handles that work after a round trip', async () => {
    const { fake } = setup();
    fake.script('x', { stdout: 'hi', exitCode: 1 });
    const h = await fake.start(req('a', 1, 'x'));
    const copy = JSON.parse(JSON.stringify(h));
    expect(copy).toEqual(h);
    expect(h).toEqual({ kind: 'fake', taskId: 'a', attempt: 1, detached: false, startedAt: 1000 });
    expect((await fake.wait(copy)).exitCode).toBe(1);
    // Freezing a handle (as the executor does) does not break the fake.
    Object.freeze(h);
    expect((await fake.read(h, 'stdout', 0, 10)).data.toString()).toBe('hi');
  });

  it('reports unknown handles as lost with no output, and rejects foreign kinds', async () => {
    const { fake } = setup();
    const ghost = { kind: 'fake', taskId: 'never', attempt: 1, startedAt: 0 };
    const exit = await fake.wait(ghost);
    expect(exit).toMatchObject({ state: 'lost', exitCode: null });
    expect(await fake.wait(ghost)).toBe(exit);
    expect((await fake.poll(ghost)).state).toBe('lost');
    await expect(fake.read(ghost, 'stdout', 0, 1)).rejects.toMatchObject({ code: 'OUTPUT_GONE' });
    await fake.kill(ghost, { graceMs: 0 });
    await expect(fake.wait({ ...ghost, kind: 'local' })).rejects.toMatchObject({ code: 'TRANSPORT_FAILED' });
  });

  it('rejects bad read ranges', async () => {
    const { fake } = setup();
    const h = await fake.start(req('a'));
    await expect(fake.read(h, 'stdout', -1, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(fake.read(h, 'stdout', 0, 1.5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
