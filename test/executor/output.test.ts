import { describe, expect, it } from 'vitest';
import type { OutputChunk } from '../../src/output/task-output.js';
import { fakeExecutor, flush } from '../helpers.js';

describe('executor output (FakeTransport)', () => {
  it('readOutput by cursor, tail and head, per stream', async () => {
    const { ex, fake } = fakeExecutor();
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    fake.script('p', { stdout: lines, stderr: 'warn\n' });
    const t = await ex.submit({ command: 'p' });
    await ex.wait(t.id);
    const all = await ex.readOutput(t.id);
    expect(all.text).toBe(lines);
    expect(all.eof).toBe(true);
    expect(all.totalBytes).toBe(Buffer.byteLength(lines));
    const tail = await ex.readOutput(t.id, { tail: 2 });
    expect(tail.text).toBe('line 98\nline 99\n');
    const head = await ex.readOutput(t.id, { head: 2 });
    expect(head.text).toBe('line 0\nline 1\n');
    expect(head.nextCursor).toBe(14);
    const next = await ex.readOutput(t.id, { cursor: head.nextCursor, maxBytes: 7 });
    expect(next.text).toBe('line 2\n');
    expect(next.truncated).toBe(true);
    expect(next.eof).toBe(false);
    expect((await ex.readOutput(t.id, { stream: 'stderr' })).text).toBe('warn\n');
    expect(ex.get(t.id)?.stdoutBytes).toBe(Buffer.byteLength(lines));
    await expect(ex.readOutput(t.id, { stream: 'both' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(ex.readOutput(t.id, { cursor: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await ex.shutdown();
  });

  it('a queued task reads as empty, not eof; a task cancelled while queued reads eof', async () => {
    const { ex } = fakeExecutor();
    ex.pause();
    const t = await ex.submit({ command: 'x' });
    const r = await ex.readOutput(t.id);
    expect(r).toMatchObject({ text: '', eof: false, totalBytes: 0 });
    await ex.cancel(t.id);
    expect((await ex.readOutput(t.id)).eof).toBe(true);
    await ex.shutdown();
  });

  it('follow yields output as it is written and ends when the task settles', async () => {
    const { ex, fake, clock } = fakeExecutor({ outputPollMs: 10 });
    fake.script('stream', { hang: true });
    const t = await ex.submit({ command: 'stream' });
    const chunks: OutputChunk[] = [];
    const consumer = (async () => {
      for await (const c of ex.follow(t.id)) chunks.push(c);
    })();
    await flush();
    fake.write(t.id, 'stdout', 'hello ');
    await clock.advance(20);
    await flush();
    fake.write(t.id, 'stdout', 'world');
    await clock.advance(20);
    fake.complete(t.id, { exitCode: 0 });
    await clock.advance(20);
    await consumer;
    expect(chunks.map((c) => c.text).join('')).toBe('hello world');
    expect(chunks[0]!.cursor).toBe(0);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.cursor).toBe(chunks[i - 1]!.nextCursor);
    await ex.shutdown();
  });

  it('follow goes through every attempt of a retried task', async () => {
    const { ex, fake, clock } = fakeExecutor();
    fake.script('r', { exitCode: 1, stdout: 'first\n' }, { exitCode: 0, stdout: 'second\n' });
    const t = await ex.submit({ command: 'r', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 50 } } });
    const chunks: OutputChunk[] = [];
    const consumer = (async () => {
      for await (const c of ex.follow(t.id)) chunks.push(c);
    })();
    await clock.advance(500);
    await consumer;
    expect(chunks.map((c) => [c.attempt, c.text])).toEqual([
      [1, 'first\n'],
      [2, 'second\n'],
    ]);
    expect((await ex.readOutput(t.id, { attempt: 1 })).text).toBe('first\n');
    await ex.shutdown();
  });

  it('task:output events report growth; output beyond maxOutputBytes kills with output_limit', async () => {
    const { ex, fake, clock } = fakeExecutor({ outputPollMs: 10 });
    fake.script('noisy', { hang: true });
    const sizes: number[] = [];
    ex.on('task:output', (e) => sizes.push(e.totalBytes));
    const t = await ex.submit({ command: 'noisy', maxOutputBytes: 100 });
    await flush();
    fake.write(t.id, 'stdout', 'x'.repeat(60));
    await clock.advance(15);
    fake.write(t.id, 'stdout', 'x'.repeat(60));
    await clock.advance(15);
    const done = await ex.wait(t.id);
    expect(sizes).toEqual([60, 120]);
    expect(done.status).toBe('failed');
    expect(done.reason).toBe('output_limit');
    await ex.shutdown();
  });

  it('readOutput after cleanup fails with NOT_FOUND (the task is forgotten)', async () => {
    const { ex } = fakeExecutor();
    const t = await ex.submit({ command: 'x' });
    await ex.wait(t.id);
    await ex.cleanup();
    await expect(ex.readOutput(t.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await ex.shutdown();
  });
});
