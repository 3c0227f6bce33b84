import { describe, expect, it } from 'vitest';
import { bufferByteSource } from '../../src/output/byte-source.js';
import { FollowReader, READ_AHEAD_BYTES } from '../../src/output/follow-reader.js';
import { readSlice, type OutputSlice } from '../../src/output/read.js';
import { followTaskOutput, type OutputHost } from '../../src/output/task-output.js';
import type { TaskRecord, TransportHandle } from '../../src/task.js';
import type { ReadContext, ReadResult, Transport } from '../../src/transports/types.js';

const HANDLE = { kind: 'mem', taskId: 't', attempt: 1 } as unknown as TransportHandle;

/**
 * A transport over a growing in-memory stream that, like LocalTransport with a context, reads
 * into the context's buffer (so stale bytes would show if the reader kept a view too long).
 */
function memTransport(stream: () => Buffer): Transport & { calls: number } {
  const t = {
    calls: 0,
    async read(_h: TransportHandle, _s: string, offset: number, length: number, context?: ReadContext): Promise<ReadResult> {
      t.calls++;
      const buf = stream();
      const want = Math.max(0, Math.min(length, buf.length - offset));
      if (!context) return { data: Buffer.from(buf.subarray(offset, offset + want)), totalBytes: buf.length };
      if (!context.buffer || context.buffer.length < want) context.buffer = Buffer.alloc(Math.max(want, 1));
      // Scribble over the whole buffer first: a view kept past the next read would show it.
      context.buffer.fill(0xff);
      buf.copy(context.buffer, 0, offset, offset + want);
      return { data: context.buffer.subarray(0, want), totalBytes: buf.length };
    },
  };
  return t as unknown as Transport & { calls: number };
}

/** Mixed 1–4 byte characters, `n` bytes or a little more. */
function mixedText(n: number): Buffer {
  const parts = ['a', 'é', '€', '😀', 'line\n', 'ß', '中文'];
  const out: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < n; i++) {
    const part = parts[(i * 7 + (i >> 3)) % parts.length]!;
    out.push(part);
    bytes += Buffer.byteLength(part);
  }
  return Buffer.from(out.join(''));
}

async function readAll(source: { read(o: number, l: number): Promise<ReadResult> }, maxBytes: number, final: boolean, from = 0): Promise<OutputSlice[]> {
  const out: OutputSlice[] = [];
  let cursor = from;
  for (let i = 0; i < 100_000; i++) {
    const s = await readSlice(source, { cursor, maxBytes, final });
    if (s.nextCursor === cursor) break;
    out.push(s);
    cursor = s.nextCursor;
  }
  return out;
}

describe('FollowReader', () => {
  it('cuts the same slices as fresh reads, with one transport read per block', async () => {
    const data = mixedText(3 * READ_AHEAD_BYTES + 12_345);
    for (const maxBytes of [65_536, 4_097, 1_000]) {
      const t = memTransport(() => data);
      const reader = new FollowReader().at(t, HANDLE, 'stdout', 1);
      const got = (await readAll(reader, maxBytes, true)).map((s) => [s.cursor, s.nextCursor, s.text]);
      const want = (await readAll(bufferByteSource(data), maxBytes, true)).map((s) => [s.cursor, s.nextCursor, s.text]);
      expect(got).toEqual(want);
      expect(got.map((g) => g[2]).join('')).toBe(data.toString());
      if (maxBytes === 65_536) {
        // One read per block (plus the one that finds the end), not one per 64 KiB chunk.
        expect(t.calls).toBeLessThanOrEqual(Math.ceil(data.length / (READ_AHEAD_BYTES - 65_536)) + 2);
        expect(got.length).toBeGreaterThan(3 * 16);
      }
    }
  });

  it('cuts characters right where a block ends, also with chunks smaller than a character', async () => {
    // The last 20 KiB of the first block and the start of the second, 1 to 5 bytes at a time.
    const data = mixedText(READ_AHEAD_BYTES + 20_000);
    const from = READ_AHEAD_BYTES - 20_000;
    for (const maxBytes of [1, 2, 3, 5]) {
      const reader = new FollowReader().at(memTransport(() => data), HANDLE, 'stdout', 1);
      // Start on a character boundary, as a follower does.
      let start = from;
      while ((data[start]! & 0xc0) === 0x80) start++;
      const got = (await readAll(reader, maxBytes, true, start)).map((s) => [s.cursor, s.nextCursor, s.text]);
      const want = (await readAll(bufferByteSource(data), maxBytes, true, start)).map((s) => [s.cursor, s.nextCursor, s.text]);
      expect(got).toEqual(want);
      expect(got.map((g) => g[2]).join('')).toBe(data.subarray(start).toString());
    }
  });

  it('never decodes from a block read before the stream grew: a character completed later is not cut', async () => {
    let data = Buffer.concat([Buffer.from('ab'), Buffer.from('€').subarray(0, 2)]);
    const t = memTransport(() => data);
    const reader = new FollowReader().at(t, HANDLE, 'stdout', 1);
    const first = await readSlice(reader, { cursor: 0, maxBytes: 2, final: false });
    expect(first).toMatchObject({ text: 'ab', nextCursor: 2 });
    // The character's last byte arrives and the task ends: the rest is read as final.
    data = Buffer.from('ab€');
    const rest = await readSlice(reader, { cursor: 2, maxBytes: 2, final: true });
    expect(rest.text).toBe('€');
    expect(rest.nextCursor).toBe(5);
  });

  it('starts over when pointed at another attempt', async () => {
    const one = Buffer.from('x'.repeat(100_000));
    const two = Buffer.from('y'.repeat(100_000));
    const reader = new FollowReader();
    const t1 = memTransport(() => one);
    const t2 = memTransport(() => two);
    const a = await readSlice(reader.at(t1, HANDLE, 'stdout', 1), { cursor: 0, maxBytes: 10 });
    expect(a.text).toBe('x'.repeat(10));
    const b = await readSlice(reader.at(t2, HANDLE, 'stdout', 2), { cursor: 10, maxBytes: 10 });
    expect(b.text).toBe('y'.repeat(10));
    expect(t2.calls).toBe(1);
  });

  it('works with a transport that ignores the context', async () => {
    const data = mixedText(2 * READ_AHEAD_BYTES);
    const t = {
      async read(_h: TransportHandle, _s: string, offset: number, length: number): Promise<ReadResult> {
        return { data: Buffer.from(data.subarray(offset, offset + length)), totalBytes: data.length };
      },
    } as unknown as Transport;
    const got = await readAll(new FollowReader().at(t, HANDLE, 'stdout', 1), 65_536, true);
    expect(got.map((s) => s.text).join('')).toBe(data.toString());
  });

  it('asks a transport that ignores the context for the chunk only, not a block', async () => {
    // A remote transport waits until its copy holds all it was asked for, and allocates it.
    const data = mixedText(300_000);
    const asked: number[] = [];
    const t = {
      async read(_h: TransportHandle, _s: string, offset: number, length: number): Promise<ReadResult> {
        asked.push(length);
        return { data: Buffer.from(data.subarray(offset, offset + length)), totalBytes: data.length };
      },
    } as unknown as Transport;
    const got = await readAll(new FollowReader().at(t, HANDLE, 'stdout', 1), 65_536, true);
    expect(got.map((s) => s.text).join('')).toBe(data.toString());
    expect(asked.length).toBeGreaterThan(4);
    expect(Math.max(...asked)).toBeLessThanOrEqual(65_536 + 4);
  });

  it('after idle() and release(), reads again from the transport', async () => {
    const data = Buffer.from('z'.repeat(200_000));
    const t = memTransport(() => data);
    const reader = new FollowReader().at(t, HANDLE, 'stdout', 1);
    // The first read shows that the transport takes the context; the second reads a block ahead.
    await readSlice(reader, { cursor: 0, maxBytes: 10 });
    await readSlice(reader, { cursor: 10, maxBytes: 10 });
    await readSlice(reader, { cursor: 20, maxBytes: 10 });
    expect(t.calls).toBe(2);
    reader.idle();
    expect((await readSlice(reader, { cursor: 30, maxBytes: 10 })).text).toBe('z'.repeat(10));
    expect(t.calls).toBe(3);
    reader.release();
    expect((await readSlice(reader, { cursor: 40, maxBytes: 10 })).text).toBe('z'.repeat(10));
    expect(t.calls).toBe(4);
  });
});

describe('followTaskOutput and what the transport keeps', () => {
  /** A host over one task whose record the test changes; the transport counts what it kept and released. */
  function setup(data: () => Buffer) {
    const counts = { kept: 0, released: 0 };
    const inner = memTransport(data);
    const transport = {
      async read(h: TransportHandle, st: string, offset: number, length: number, context?: ReadContext): Promise<ReadResult> {
        if (context && !context.kept) {
          counts.kept++;
          context.kept = { release: () => void counts.released++ };
        }
        return inner.read(h, st as 'stdout', offset, length, context);
      },
    } as unknown as Transport;
    let record = { id: 't', attempt: 1, status: 'running', handle: HANDLE, history: [] } as unknown as TaskRecord;
    let wake: () => void = () => {};
    const host: OutputHost = {
      record: () => record,
      transportOf: () => transport,
      nextChange: () => new Promise<void>((r) => (wake = r)),
      stopped: () => false,
    };
    const settle = (): void => {
      record = { ...record, status: 'completed' } as TaskRecord;
      wake();
    };
    return { counts, host, settle };
  }

  it('releases it when the consumer stops early', async () => {
    const { counts, host } = setup(() => Buffer.alloc(300_000, 0x61));
    for await (const c of followTaskOutput(host, 't')) {
      expect(c.text.length).toBe(65_536);
      break;
    }
    expect(counts).toEqual({ kept: 1, released: 1 });
  });

  it('releases it when the task settles and everything was read', async () => {
    const { counts, host, settle } = setup(() => Buffer.from('done'));
    const texts: string[] = [];
    for await (const c of followTaskOutput(host, 't')) {
      texts.push(c.text);
      settle();
    }
    expect(texts).toEqual(['done']);
    expect(counts).toEqual({ kept: 1, released: 1 });
  });

  it('releases it when the follow is aborted', async () => {
    const { counts, host } = setup(() => Buffer.from('partial'));
    const ac = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of followTaskOutput(host, 't', { signal: ac.signal })) {
          seen.push(c.text);
          ac.abort(new Error('enough'));
        }
      })(),
    ).rejects.toThrow('enough');
    expect(seen).toEqual(['partial']);
    expect(counts).toEqual({ kept: 1, released: 1 });
  });
});
