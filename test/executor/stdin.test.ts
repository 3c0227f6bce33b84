// executor.write() / closeStdin() over the fake transport: order, the in-flight cap, every
// StdinError code, closing, and a retry's fresh input.
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { MAX_STDIN_IN_FLIGHT } from '../../src/runner/stdin-channel.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskRecord } from '../../src/task.js';
import { FakeTransport, ManualClock } from '../../src/testing/index.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { fakeExecutor, flush } from '../helpers.js';

/** A promise the test settles, for holding a write inside the fake's onInput. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

async function started(ex: ReturnType<typeof fakeExecutor>['ex'], spec: Parameters<typeof ex.submit>[0]): Promise<TaskRecord> {
  const t = await ex.submit(spec);
  await flush();
  expect(ex.get(t.id)?.status).toBe('running');
  return t;
}

describe('executor.write', () => {
  it('delivers many concurrent writes in the order they were made', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('cat', { hang: true, onInput: async () => { await new Promise((r) => setImmediate(r)); } });
    const t = await started(ex, { command: 'cat', stdin: 'pipe' });
    const parts = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? new Uint8Array([i & 0xff, 10]) : `line ${i}\n`));
    const results = await Promise.allSettled(parts.map((p) => ex.write(t.id, p)));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const expected = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    expect(fake.input(t.id)!.data.equals(expected)).toBe(true);
    expect(fake.input(t.id)!.chunks).toHaveLength(300);
    // One transport call at a time: never two writes in the fake at once.
    expect(fake.calls.filter((c) => c.method === 'writeStdin')).toHaveLength(300);
    await ex.shutdown();
  });

  it('caps the bytes in flight at 1 MiB: the refused write delivers nothing, later ones go through', async () => {
    const { ex, fake } = fakeExecutor();
    const held = gate();
    let first = true;
    fake.script('slow-reader', {
      hang: true,
      onInput: () => {
        if (!first) return undefined;
        first = false;
        return held.promise;
      },
    });
    const t = await started(ex, { command: 'slow-reader', stdin: 'pipe' });
    const big = Buffer.alloc(MAX_STDIN_IN_FLIGHT - 10, 0x61);
    const w1 = ex.write(t.id, big);
    const w2 = ex.write(t.id, 'x'.repeat(10)); // exactly at the cap: accepted
    await expect(ex.write(t.id, 'y')).rejects.toMatchObject({ code: 'STDIN_FULL', taskId: t.id, name: 'StdinError' });
    await flush();
    held.open();
    await Promise.all([w1, w2]);
    await ex.write(t.id, 'z');
    const got = fake.input(t.id)!;
    expect(got.data.length).toBe(MAX_STDIN_IN_FLIGHT + 1);
    expect(got.text.includes('y')).toBe(false);
    expect(got.text.endsWith('x'.repeat(10) + 'z')).toBe(true);
    await ex.shutdown();
  });

  it('rejects a write larger than the cap by itself', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('cat', { hang: true });
    const t = await started(ex, { command: 'cat', stdin: 'pipe' });
    await expect(ex.write(t.id, Buffer.alloc(MAX_STDIN_IN_FLIGHT + 1))).rejects.toMatchObject({ code: 'STDIN_FULL' });
    expect(fake.input(t.id)!.data.length).toBe(0);
    await ex.write(t.id, '');
    expect(fake.calls.filter((c) => c.method === 'writeStdin')).toHaveLength(0); // an empty write costs no call
    await ex.shutdown();
  });

  it('says NOT_FOUND, STDIN_NOT_PIPED and INVALID_ARGUMENT', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script(/.*/, { hang: true });
    await expect(ex.write('nope', 'a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ex.closeStdin('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const plain = await started(ex, { command: 'plain' });
    const given = await started(ex, { command: 'given', stdin: 'data\n' });
    for (const id of [plain.id, given.id]) {
      await expect(ex.write(id, 'a')).rejects.toMatchObject({ code: 'STDIN_NOT_PIPED', taskId: id });
      await expect(ex.closeStdin(id)).rejects.toMatchObject({ code: 'STDIN_NOT_PIPED' });
    }
    const piped = await started(ex, { command: 'piped', stdin: 'pipe' });
    for (const bad of [42, null, undefined, { data: 'a' }, ['a']]) {
      await expect(ex.write(piped.id, bad as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'data' });
    }
    await expect(ex.write(42 as never, 'a')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'id' });
    expect(fake.input(piped.id)!.chunks).toEqual([]);
    await ex.shutdown();
  });

  it('says TASK_NOT_RUNNING for queued, waiting and ended tasks', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 1 });
    fake.script('blocker', { hang: true });
    fake.script('quick', { exitCode: 0 });
    await started(ex, { command: 'blocker' });
    const queued = await ex.submit({ command: 'later', stdin: 'pipe' });
    const waiting = await ex.submit({ command: 'delayed', stdin: 'pipe', delayMs: 60_000 });
    await flush();
    expect(ex.get(queued.id)?.status).toBe('queued');
    expect(ex.get(waiting.id)?.status).toBe('waiting');
    for (const id of [queued.id, waiting.id]) {
      await expect(ex.write(id, 'a')).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING', taskId: id });
      await expect(ex.closeStdin(id)).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    }
    const { ex: ex2, fake: fake2 } = fakeExecutor();
    fake2.script('quick', { exitCode: 0 });
    const ended = await ex2.submit({ command: 'quick', stdin: 'pipe' });
    expect((await ex2.wait(ended.id)).status).toBe('completed');
    await expect(ex2.write(ended.id, 'a')).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    await expect(ex2.closeStdin(ended.id)).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    await ex.shutdown();
    await ex2.shutdown();
  });

  it('fails writes still queued when the attempt ends with TASK_NOT_RUNNING, delivering none of them', async () => {
    const { ex, fake } = fakeExecutor();
    const held = gate();
    fake.script('reader', { hang: true, onInput: (c) => (c.toString() === 'first' ? held.promise : undefined) });
    const t = await started(ex, { command: 'reader', stdin: 'pipe' });
    const first = ex.write(t.id, 'first');
    const second = ex.write(t.id, 'second');
    const close = ex.closeStdin(t.id);
    const secondFails = expect(second).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING', taskId: t.id });
    const closeFails = expect(close).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    await flush();
    fake.complete(t.id, { exitCode: 0 });
    await ex.wait(t.id);
    held.open();
    await first; // it was in the pipe when the attempt ended
    await secondFails;
    await closeFails;
    expect(fake.input(t.id)).toMatchObject({ text: 'first', closed: false });
    expect(fake.calls.filter((c) => c.method === 'closeStdin')).toHaveLength(0);
    await ex.shutdown();
  });
});

describe('executor.closeStdin', () => {
  it('closes after the writes made before, once; later writes get STDIN_CLOSED', async () => {
    const { ex, fake } = fakeExecutor();
    const held = gate();
    const eofs: string[] = [];
    fake.script('cat', {
      hang: true,
      onInput: () => held.promise,
      onEof: (task) => { eofs.push(task.input.toString()); task.exit(0); },
    });
    const t = await started(ex, { command: 'cat', stdin: 'pipe' });
    const w = ex.write(t.id, 'all of it');
    const c1 = ex.closeStdin(t.id);
    const c2 = ex.closeStdin(t.id);
    await expect(ex.write(t.id, 'more')).rejects.toMatchObject({ code: 'STDIN_CLOSED', taskId: t.id });
    await flush();
    expect(eofs).toEqual([]); // the close waits for the write before it
    held.open();
    await Promise.all([w, c1, c2]);
    expect(eofs).toEqual(['all of it']);
    expect(fake.calls.filter((x) => x.method === 'writeStdin' || x.method === 'closeStdin').map((x) => x.method)).toEqual(['writeStdin', 'closeStdin']);
    expect((await ex.wait(t.id)).status).toBe('completed');
    await ex.shutdown();
  });
});

describe('input and retries', () => {
  it('gives a retry a fresh input channel: a close of attempt 1 does not close attempt 2', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('flaky', { hang: true });
    const t = await started(ex, { command: 'flaky', stdin: 'pipe', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 1000 } } });
    await ex.write(t.id, 'one');
    await ex.closeStdin(t.id);
    const retrying = new Promise((r) => ex.once('task:retrying', r));
    fake.complete(t.id, { exitCode: 1 });
    await retrying;
    await expect(ex.write(t.id, 'between')).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    const again = new Promise((r) => ex.once('task:started', r));
    await clock.advance(1000);
    await again;
    expect(ex.get(t.id)).toMatchObject({ status: 'running', attempt: 2 });
    await ex.write(t.id, 'two');
    expect(fake.input(t.id, 1)).toMatchObject({ text: 'one', closed: true });
    expect(fake.input(t.id, 2)).toMatchObject({ text: 'two', closed: false });
    await ex.shutdown();
  });
});

// A transport whose start() resolves only when the test says: the attempt is `running` meanwhile.
class SlowStart extends FakeTransport {
  readonly held = gate();
  override async start(request: LaunchRequest): ReturnType<FakeTransport['start']> {
    await this.held.promise;
    return super.start(request);
  }
}

describe('input to an attempt that is still starting', () => {
  function setup(): { ex: BackgroundExecutor; fake: SlowStart } {
    const clock = new ManualClock();
    const fake = new SlowStart({ clock });
    return { ex: new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) }), fake };
  }

  it('waits for the start, then delivers in order', async () => {
    const { ex, fake } = setup();
    fake.script('cat', { hang: true });
    const t = await ex.submit({ command: 'cat', stdin: 'pipe' });
    await flush();
    expect(ex.get(t.id)).toMatchObject({ status: 'running' });
    expect(ex.get(t.id)?.handle).toBeUndefined();
    let done = false;
    const writes = Promise.all([ex.write(t.id, 'early '), ex.write(t.id, 'bird')]).then(() => { done = true; });
    await flush();
    expect(done).toBe(false);
    expect(fake.input(t.id)).toBeUndefined(); // not started yet
    fake.held.open();
    await writes;
    expect(fake.input(t.id)!.text).toBe('early bird');
    await ex.write(t.id, '!');
    expect(fake.input(t.id)!.text).toBe('early bird!');
    await ex.shutdown();
  });

  it('fails the waiting writes with TASK_NOT_RUNNING when the start fails', async () => {
    const { ex, fake } = setup();
    fake.script('missing', { spawnError: 'no such program' });
    const t = await ex.submit({ command: 'missing', stdin: 'pipe' });
    await flush();
    const w = ex.write(t.id, 'lost?');
    const fails = expect(w).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING', taskId: t.id });
    fake.held.open();
    await fails;
    expect((await ex.wait(t.id)).status).toBe('failed');
    await ex.shutdown();
  });
});
