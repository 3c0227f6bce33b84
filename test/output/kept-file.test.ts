import { appendFileSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readRange } from '../../src/transports/job-protocol/run-dir.js';
import type { ReadContext } from '../../src/transports/types.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgexec-kept-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** How many descriptors of this process are open on `path` (from /proc/self/fd). */
function openCount(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) n++;
    } catch {
      // The descriptor of the directory listing itself, closed meanwhile.
    }
  }
  return n;
}

/** Waits (bounded) until no descriptor is open on `path`: fs.close completes asynchronously. */
async function closedSoon(path: string): Promise<number> {
  for (let i = 0; i < 200 && openCount(path) > 0; i++) await new Promise((r) => setTimeout(r, 5));
  return openCount(path);
}

describe('readRange with a ReadContext', () => {
  it('reads a growing file byte-exactly through one open file and one reused buffer', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'hello ');
    const context: ReadContext = {};
    const first = await readRange(path, 0, 1024, context);
    expect(first.data.toString()).toBe('hello ');
    expect(first.totalBytes).toBe(6);
    const kept = context.kept;
    expect(kept).toBeDefined();
    expect(openCount(path)).toBe(1);
    // The data is a view of the context's buffer (nothing new allocated per read).
    expect(first.data.buffer).toBe(context.buffer!.buffer);

    appendFileSync(path, 'wörld');
    const second = await readRange(path, 6, 1024, context);
    expect(second.data.toString()).toBe('wörld');
    expect(second.totalBytes).toBe(12);
    expect(context.kept).toBe(kept);
    expect(second.data.buffer).toBe(context.buffer!.buffer);
    expect(openCount(path)).toBe(1);

    // At the end, and past it: nothing, with the current size.
    const atEnd = await readRange(path, 12, 1024, context);
    expect(atEnd.data.length).toBe(0);
    expect(atEnd.totalBytes).toBe(12);
    expect((await readRange(path, 50, 10, context)).data.length).toBe(0);

    context.kept!.release();
    context.kept!.release(); // twice is harmless
    expect(await closedSoon(path)).toBe(0);
  });

  it('never allocates more buffer than the length asked, and grows it when more is there to read', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, Buffer.alloc(100_000, 0x61));
    const context: ReadContext = {};
    const small = await readRange(path, 0, 100, context);
    expect(small.data.length).toBe(100);
    expect(context.buffer!.length).toBeLessThanOrEqual(100);
    const large = await readRange(path, 100, 50_000, context);
    expect(large.data.length).toBe(50_000);
    expect(large.data.equals(Buffer.alloc(50_000, 0x61))).toBe(true);
    expect(context.buffer!.length).toBeGreaterThanOrEqual(50_000);
    expect(context.buffer!.length).toBeLessThanOrEqual(50_000);
    context.kept!.release();
    expect(await closedSoon(path)).toBe(0);
  });

  it('without a context, keeps nothing open and returns a buffer of its own', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'abc');
    const a = await readRange(path, 0, 10);
    const b = await readRange(path, 0, 10);
    expect(a.data.toString()).toBe('abc');
    a.data.fill(0x7a);
    expect(b.data.toString()).toBe('abc');
    expect(openCount(path)).toBe(0);
  });

  it('a removed file rejects with ENOENT, as without a context, and its descriptor is closed', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'abc');
    const context: ReadContext = {};
    await readRange(path, 0, 10, context);
    expect(openCount(path)).toBe(1);
    unlinkSync(path);
    await expect(readRange(path, 0, 10, context)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readRange(path, 0, 10)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(context.kept).toBeUndefined();
    expect(await closedSoon(path)).toBe(0);
  });

  it('a file replaced under the same name is opened again', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'old content');
    const context: ReadContext = {};
    expect((await readRange(path, 0, 100, context)).data.toString()).toBe('old content');
    const kept = context.kept;
    writeFileSync(join(dir, 'next'), 'new');
    renameSync(join(dir, 'next'), path);
    const r = await readRange(path, 0, 100, context);
    expect(r.data.toString()).toBe('new');
    expect(r.totalBytes).toBe(3);
    expect(context.kept).not.toBe(kept);
    context.kept!.release();
    expect(await closedSoon(path)).toBe(0);
  });

  it('closes a kept file left unused for a while (a reader that never releases it), and reopens it on the next read', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'abc');
    const context: ReadContext = {};
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      await readRange(path, 0, 10, context);
      vi.advanceTimersByTime(1_000);
      expect(openCount(path)).toBe(1);
      vi.advanceTimersByTime(1_500);
    } finally {
      vi.useRealTimers();
    }
    expect(await closedSoon(path)).toBe(0);
    expect((await readRange(path, 1, 10, context)).data.toString()).toBe('bc');
    expect(openCount(path)).toBe(1);
    context.kept!.release();
    expect(await closedSoon(path)).toBe(0);
  });

  it('moving on to another file closes the previous one', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    writeFileSync(a, 'first');
    writeFileSync(b, 'second');
    const context: ReadContext = {};
    expect((await readRange(a, 0, 100, context)).data.toString()).toBe('first');
    expect((await readRange(b, 0, 100, context)).data.toString()).toBe('second');
    expect(await closedSoon(a)).toBe(0);
    expect(openCount(b)).toBe(1);
    context.kept!.release();
    expect(await closedSoon(b)).toBe(0);
  });
});
