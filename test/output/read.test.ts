import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ByteSource } from '../../src/output/byte-source.js';
import { bufferByteSource } from '../../src/output/byte-source.js';
import { DEFAULT_MAX_BYTES, MAX_READ_BYTES, readSlice, type OutputSlice, type SliceOptions } from '../../src/output/read.js';

/** A source that counts what it served, and the largest request it got. */
function counting(inner: ByteSource): ByteSource & { served: number; calls: number; maxRequest: number } {
  const src = {
    served: 0,
    calls: 0,
    maxRequest: 0,
    async read(offset: number, length: number) {
      src.calls++;
      src.maxRequest = Math.max(src.maxRequest, length);
      const r = await inner.read(offset, length);
      src.served += r.data.length;
      return r;
    },
  };
  return src;
}

const mem = (text: string | Buffer): ReturnType<typeof counting> =>
  counting(bufferByteSource(typeof text === 'string' ? Buffer.from(text) : text));

/** Reads the whole stream in maxBytes pieces; returns the slices. */
async function readAll(src: ByteSource, maxBytes: number, final = true): Promise<OutputSlice[]> {
  const slices: OutputSlice[] = [];
  let cursor = 0;
  for (;;) {
    const s = await readSlice(src, { cursor, maxBytes, final });
    if (s.nextCursor === cursor) break;
    expect(s.cursor).toBe(cursor);
    slices.push(s);
    cursor = s.nextCursor;
    if (slices.length > 1e6) throw new Error('no progress');
  }
  return slices;
}

const seq = (slices: OutputSlice[]): Array<[number, number, string]> => slices.map((s) => [s.cursor, s.nextCursor, s.text]);

describe('readSlice: plain cursor reads', () => {
  it('returns the exact cursor sequence for mixed 1-4 byte characters', async () => {
    const src = mem('aé€😀'); // 1 + 2 + 3 + 4 bytes
    expect(seq(await readAll(src, 3))).toEqual([
      [0, 3, 'aé'],
      [3, 6, '€'],
      [6, 10, '😀'], // maxBytes smaller than the character: exactly one character, so reading progresses
    ]);
    expect(seq(await readAll(src, 4))).toEqual([
      [0, 3, 'aé'],
      [3, 6, '€'],
      [6, 10, '😀'],
    ]);
    expect(seq(await readAll(src, 1))).toEqual([
      [0, 1, 'a'],
      [1, 3, 'é'],
      [3, 6, '€'],
      [6, 10, '😀'],
    ]);
  });

  it('reassembles the stream byte for byte for every maxBytes from 1 to 17', async () => {
    const text = 'héllo wörld € 😀😀 ü\n'.repeat(7) + '€😀é';
    const buf = Buffer.from(text);
    for (let maxBytes = 1; maxBytes <= 17; maxBytes++) {
      const slices = await readAll(mem(buf), maxBytes);
      expect(slices.map((s) => s.text).join('')).toBe(text);
      expect(slices.at(-1)?.nextCursor).toBe(buf.length);
      for (const s of slices) {
        const n = s.nextCursor - s.cursor;
        expect(n).toBeLessThanOrEqual(Math.max(maxBytes, 4));
        expect(Buffer.byteLength(s.text)).toBe(n);
        expect(s.text).not.toContain('\uFFFD');
        expect(s.truncated).toBe(s.nextCursor < buf.length);
        expect(s.totalBytes).toBe(buf.length);
      }
    }
  });

  for (const ch of ['é', '€', '😀']) {
    it(`never splits ${ch} at any boundary`, async () => {
      const len = Buffer.byteLength(ch);
      for (let pad = 0; pad < 5; pad++) {
        for (let cut = 1; cut < len; cut++) {
          const src = mem('x'.repeat(pad) + ch + 'y');
          const first = await readSlice(src, { maxBytes: pad + cut });
          if (pad === 0) {
            expect([first.text, first.nextCursor]).toEqual([ch, len]);
          } else {
            expect([first.text, first.nextCursor, first.truncated]).toEqual(['x'.repeat(pad), pad, true]);
          }
          const rest = await readSlice(src, { cursor: first.nextCursor });
          expect(first.text + rest.text).toBe('x'.repeat(pad) + ch + 'y');
        }
      }
    });
  }

  it('holds back a character still being written unless final', async () => {
    let data = Buffer.from('ab\xE2\x82', 'latin1');
    const src = bufferByteSource(() => data);
    const live = await readSlice(src, {});
    expect([live.text, live.nextCursor, live.truncated, live.totalBytes]).toEqual(['ab', 2, true, 4]);
    const ended = await readSlice(src, { final: true });
    expect([ended.text, ended.nextCursor]).toEqual(['ab\uFFFD', 4]);
    data = Buffer.concat([data, Buffer.from([0xac]), Buffer.from('!')]);
    const next = await readSlice(src, { cursor: live.nextCursor });
    expect([next.text, next.nextCursor, next.truncated]).toEqual(['€!', 6, false]);
  });

  it('cuts back even when final if the read stops before the end', async () => {
    const s = await readSlice(mem('a€b'), { maxBytes: 3, final: true });
    expect([s.text, s.nextCursor, s.truncated]).toEqual(['a', 1, true]);
  });

  it('returns nothing for a cursor at or beyond the end', async () => {
    expect(await readSlice(mem('abc'), { cursor: 3 })).toEqual({ text: '', cursor: 3, nextCursor: 3, truncated: false, totalBytes: 3 });
    expect(await readSlice(mem('abc'), { cursor: 10 })).toEqual({ text: '', cursor: 10, nextCursor: 10, truncated: false, totalBytes: 3 });
    expect(await readSlice(mem(''), {})).toEqual({ text: '', cursor: 0, nextCursor: 0, truncated: false, totalBytes: 0 });
  });

  it('uses 64 KiB by default and clamps maxBytes to 16 MiB', async () => {
    expect(DEFAULT_MAX_BYTES).toBe(65536);
    const src = mem(Buffer.alloc(100_000, 0x61));
    const s = await readSlice(src, {});
    expect([s.nextCursor, s.truncated]).toEqual([65536, true]);
    await readSlice(src, { maxBytes: 2 ** 40 });
    expect(src.maxRequest).toBe(MAX_READ_BYTES);
  });
});

describe('readSlice: tail', () => {
  const tail = async (text: string, n: number, extra: SliceOptions = {}): Promise<OutputSlice> => readSlice(mem(text), { tail: n, ...extra });

  it('counts lines exactly with and without a trailing newline', async () => {
    expect(await tail('a\nb\nc\n', 2)).toEqual({ text: 'b\nc\n', cursor: 2, nextCursor: 6, truncated: false, totalBytes: 6 });
    expect(await tail('a\nb\nc', 2)).toEqual({ text: 'b\nc', cursor: 2, nextCursor: 5, truncated: false, totalBytes: 5 });
    expect((await tail('a\nb\nc\n', 1)).text).toBe('c\n');
    expect((await tail('a\nb\nc', 1)).text).toBe('c');
    expect((await tail('a\nb\nc\n', 3)).text).toBe('a\nb\nc\n');
    expect((await tail('a\nb\nc\n', 99)).cursor).toBe(0);
    expect((await tail('a\n\n', 1)).text).toBe('\n');
    expect((await tail('\n\n\n', 2)).text).toBe('\n\n');
    expect((await tail('\n', 1)).text).toBe('\n');
  });

  it('keeps CRLF line endings', async () => {
    expect((await tail('a\r\nb\r\nc\r\n', 2)).text).toBe('b\r\nc\r\n');
    expect((await tail('a\r\nb\r\nc', 1)).text).toBe('c');
  });

  it('handles empty streams and tail 0', async () => {
    expect(await tail('', 5)).toEqual({ text: '', cursor: 0, nextCursor: 0, truncated: false, totalBytes: 0 });
    expect(await tail('abc\n', 0)).toEqual({ text: '', cursor: 4, nextCursor: 4, truncated: false, totalBytes: 4 });
  });

  it('caps at maxBytes and starts on a character boundary', async () => {
    // é is 2 bytes at even offsets; the last 5 bytes start on a continuation byte.
    expect(await tail('ééééé', 1, { maxBytes: 5 })).toEqual({ text: 'éé', cursor: 6, nextCursor: 10, truncated: true, totalBytes: 10 });
    expect(await tail('x😀😀\n', 1, { maxBytes: 7 })).toMatchObject({ text: '😀\n', cursor: 5, truncated: true });
    // Exactly fitting is not truncated.
    expect(await tail('ab\ncd\n', 2, { maxBytes: 6 })).toMatchObject({ text: 'ab\ncd\n', truncated: false });
  });

  it('finds lines across 64 KiB blocks', async () => {
    const long = 'y'.repeat(150_000);
    const text = `first\n${long}\nlast\n`;
    const s = await tail(text, 2, { maxBytes: 1_000_000 });
    expect(s.text).toBe(`${long}\nlast\n`);
    expect(s.cursor).toBe(6);
  });

  it('ignores cursor', async () => {
    expect((await tail('a\nb\nc\n', 1, { cursor: 0 })).text).toBe('c\n');
    expect((await tail('a\nb\nc\n', 5, { cursor: 4 })).text).toBe('a\nb\nc\n');
  });

  it('reads a bounded number of bytes of a 1 GiB stream', async () => {
    // A virtual 1 GiB stream of 16-byte lines "line 0000000001\n", generated on demand.
    const size = 2 ** 30;
    const src = counting({
      async read(offset, length) {
        const end = Math.min(size, offset + length);
        const data = Buffer.alloc(Math.max(0, end - offset));
        for (let i = 0; i < data.length; i++) {
          const at = offset + i;
          const line = Math.floor(at / 16);
          data[i] = `line ${String(line).padStart(10, '0')}\n`.charCodeAt(at % 16);
        }
        return { data, totalBytes: size };
      },
    });
    const s = await readSlice(src, { tail: 3 });
    const last = size / 16 - 1;
    expect(s.text).toBe([last - 2, last - 1, last].map((l) => `line ${String(l).padStart(10, '0')}\n`).join(''));
    expect(src.served).toBeLessThanOrEqual(65536);
    const big = await readSlice(src, { tail: 1_000_000, maxBytes: 100_000 });
    expect(big.truncated).toBe(true);
    expect(big.nextCursor - big.cursor).toBeLessThanOrEqual(100_000);
    expect(src.served).toBeLessThanOrEqual(65536 + 100_000);
  });
});

describe('readSlice: head', () => {
  it('returns the first N lines and where to continue', async () => {
    expect(await readSlice(mem('a\nb\nc'), { head: 2 })).toEqual({ text: 'a\nb\n', cursor: 0, nextCursor: 4, truncated: true, totalBytes: 5 });
    expect(await readSlice(mem('a\nb\nc'), { head: 3 })).toMatchObject({ text: 'a\nb\nc', nextCursor: 5, truncated: false });
    expect(await readSlice(mem('a\nb\nc\n'), { head: 3 })).toMatchObject({ text: 'a\nb\nc\n', truncated: false });
    expect(await readSlice(mem('a\nb\nc\n'), { head: 9 })).toMatchObject({ text: 'a\nb\nc\n', truncated: false });
    expect(await readSlice(mem('a\nb\nc\n'), { head: 1, cursor: 2 })).toMatchObject({ text: 'b\n', cursor: 2, nextCursor: 4 });
    expect(await readSlice(mem('a\r\nb\r\n'), { head: 1 })).toMatchObject({ text: 'a\r\n', nextCursor: 3 });
    expect(await readSlice(mem('\n\nx'), { head: 2 })).toMatchObject({ text: '\n\n', nextCursor: 2 });
  });

  it('handles empty streams and head 0', async () => {
    expect(await readSlice(mem(''), { head: 3 })).toEqual({ text: '', cursor: 0, nextCursor: 0, truncated: false, totalBytes: 0 });
    expect(await readSlice(mem('ab'), { head: 0 })).toEqual({ text: '', cursor: 0, nextCursor: 0, truncated: true, totalBytes: 2 });
  });

  it('caps a long line at maxBytes on a character boundary', async () => {
    expect(await readSlice(mem('ab€cd\nx'), { head: 1, maxBytes: 4 })).toMatchObject({ text: 'ab', nextCursor: 2, truncated: true });
    const long = '€'.repeat(50_000); // 150,000 bytes: spans three 64 KiB blocks
    const s = await readSlice(mem(`${long}\nnext\n`), { head: 1, maxBytes: 200_000 });
    expect(s.text).toBe(`${long}\n`);
    const cut = await readSlice(mem(`${long}\n`), { head: 1, maxBytes: 100_000 });
    expect([cut.nextCursor, cut.truncated, cut.text.length]).toEqual([99_999, true, 33_333]);
  });

  it('reads no further than the lines it returns', async () => {
    const src = mem('a\n'.repeat(100_000));
    await readSlice(src, { head: 2, maxBytes: 1_000_000 });
    expect(src.served).toBeLessThanOrEqual(65536);
  });
});

describe('readSlice: validation', () => {
  const bad: Array<[SliceOptions, string]> = [
    [{ cursor: -1 }, 'cursor'],
    [{ cursor: 1.5 }, 'cursor'],
    [{ cursor: Number.NaN }, 'cursor'],
    [{ cursor: 2 ** 53 }, 'cursor'],
    [{ cursor: '3' as unknown as number }, 'cursor'],
    [{ maxBytes: 0 }, 'maxBytes'],
    [{ maxBytes: -5 }, 'maxBytes'],
    [{ maxBytes: 2.5 }, 'maxBytes'],
    [{ maxBytes: Number.POSITIVE_INFINITY }, 'maxBytes'],
    [{ tail: -1 }, 'tail'],
    [{ tail: 0.5 }, 'tail'],
    [{ head: -2 }, 'head'],
    [{ head: Number.NaN }, 'head'],
    [{ tail: 1, head: 1 }, 'tail'],
    [{ final: 'yes' as unknown as boolean }, 'final'],
  ];
  for (const [options, field] of bad) {
    it(`rejects ${JSON.stringify(options)} naming ${field}`, async () => {
      const src = mem('abc');
      await expect(readSlice(src, options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field });
      expect(src.calls).toBe(0);
    });
  }
});

describe('readSlice over a real file of several MB', () => {
  let dir: string;
  let path: string;
  let expected: Buffer;

  /** A ByteSource over a file, as a local transport would implement it. */
  function fileSource(file: string): ReturnType<typeof counting> {
    return counting({
      async read(offset, length) {
        const fh = await open(file, 'r');
        try {
          const { size } = await fh.stat();
          const n = Math.max(0, Math.min(length, size - offset));
          const data = Buffer.alloc(n);
          let got = 0;
          while (got < n) {
            const { bytesRead } = await fh.read(data, got, n - got, offset + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
          return { data: data.subarray(0, got), totalBytes: size };
        } finally {
          await fh.close();
        }
      },
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bgexec-read-'));
    path = join(dir, 'out');
    const lines: string[] = [];
    for (let i = 0; i < 120_000; i++) lines.push(`${i} héllo € ${'😀'.repeat(i % 5)} wörld`);
    expected = Buffer.from(lines.join('\n') + '\n');
    await writeFile(path, expected);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reassembles the file byte for byte in odd-sized pieces', async () => {
    expect(expected.length).toBeGreaterThan(3_000_000);
    const slices = await readAll(fileSource(path), 100_003, false);
    // Buffer#equals, not toEqual: vitest's deep equality walks a 3 MB buffer byte by byte (~30 s).
    expect(Buffer.concat(slices.map((s) => Buffer.from(s.text))).equals(expected)).toBe(true);
    expect(slices.at(-1)?.nextCursor).toBe(expected.length);
  });

  it('tails and heads the file reading only what it returns', async () => {
    const src = fileSource(path);
    const t = await readSlice(src, { tail: 2 });
    expect(t.text).toBe(`119998 héllo € 😀😀😀 wörld\n119999 héllo € 😀😀😀😀 wörld\n`);
    expect(t.nextCursor).toBe(expected.length);
    expect(src.served).toBeLessThanOrEqual(65536);
    const h = await readSlice(src, { head: 2, cursor: expected.indexOf('\n') + 1 });
    expect(h.text).toBe('1 héllo € 😀 wörld\n2 héllo € 😀😀 wörld\n');
  });
});
