import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { flush } from '../helpers.js';
import { call, fakeSetup, numbered, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('bg_read', () => {
  it('reads incrementally: without a cursor it continues where the last read stopped', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('grow', { hang: true });
    const start = await call(s.tools, 'bg_start', { command: 'grow', wait_ms: 0 });
    await flush();
    s.fake.write(start.task_id, 'stdout', 'one\ntwo\n');
    const r1 = await call(s.tools, 'bg_read', { task_id: start.task_id });
    expect(r1).toMatchObject({ ok: true, status: 'running', text: 'one\ntwo\n', cursor: 0, next_cursor: 8, eof: false, truncated: false, omitted_bytes: 0 });
    expect(r1.hint).toMatch(/Do not poll/);
    s.fake.write(start.task_id, 'stdout', 'three\n');
    const r2 = await call(s.tools, 'bg_read', { task_id: start.task_id });
    expect(r2).toMatchObject({ text: 'three\n', cursor: 8, next_cursor: 14 });
    // An explicit cursor re-reads; the memory follows the latest read.
    const again = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 4 });
    expect(again).toMatchObject({ text: 'two\nthree\n', cursor: 4, next_cursor: 14 });
    s.fake.complete(start.task_id, { exitCode: 0 });
    await s.ex.wait(start.task_id);
    const end = await call(s.tools, 'bg_read', { task_id: start.task_id });
    expect(end).toMatchObject({ text: '', eof: true, status: 'completed', exit_code: 0 });
    expect(end.hint).toMatch(/End of output/);
  });

  it('caps large output as head + tail with an explicit omitted-bytes marker, and never skips bytes', async () => {
    const s = fakeSetup({ maxOutputBytes: 1024 });
    ex = s.ex;
    const out = numbered(2000);
    s.fake.script('big', { stdout: out });
    const start = await call(s.tools, 'bg_start', { command: 'big', wait_ms: 1000 });
    expect(start.status).toBe('completed');
    const v = start.stdout;
    expect(v.truncated).toBe(true);
    expect(v.text).toContain(`[… ${v.omitted_bytes} bytes omitted; next_cursor=${v.next_cursor}]`);
    expect(v.text.startsWith('line 1\nline 2\n')).toBe(true);
    expect(v.text.endsWith('line 1999\nline 2000\n')).toBe(true);
    expect(Buffer.byteLength(v.text)).toBeLessThanOrEqual(1024 + 64);
    // head ends on a line boundary; tail starts on one
    const [head, tail] = v.text.split(/\[… \d+ bytes omitted; next_cursor=\d+\]\n/);
    expect(head.endsWith('\n')).toBe(true);
    expect(tail.startsWith('line ')).toBe(true);
    expect(v.omitted_bytes).toBe(Buffer.byteLength(out) - Buffer.byteLength(head) - Buffer.byteLength(tail));
    // Following next_cursor pages through the omitted bytes exactly once, then passes over the
    // tail the preview showed instead of sending it again: head + pages + tail = the output.
    let text = head;
    let cursor = v.next_cursor;
    let skipped = 0;
    for (let i = 0; i < 200; i++) {
      const r = await call(s.tools, 'bg_read', { task_id: start.task_id });
      expect(r.cursor).toBe(cursor);
      expect(r.omitted_bytes).toBe(0);
      if (r.skipped_bytes) {
        skipped = r.skipped_bytes;
        expect(r.text.endsWith(`[… ${skipped} bytes shown earlier (the tail of a previous result) passed over]\n`)).toBe(true);
        text += r.text.slice(0, r.text.indexOf('[… '));
      } else text += r.text;
      expect(r.text).not.toContain('line 2000\n');
      cursor = r.next_cursor;
      if (r.eof) break;
    }
    expect(skipped).toBe(Buffer.byteLength(tail));
    expect(text + tail).toBe(out);
  });

  it('clamps max_chars and a cursor past the end, and says so', async () => {
    const s = fakeSetup({ maxOutputChars: 2048 });
    ex = s.ex;
    s.fake.script('p', { stdout: numbered(10) });
    const start = await call(s.tools, 'bg_start', { command: 'p' });
    const big = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, max_chars: 10_000_000 });
    expect(big.clamped).toEqual(['max_chars=10000000 is above the maximum; used 1348']);
    // The former name is still understood.
    const small = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, max_bytes: 1 });
    expect(small.clamped).toEqual(['max_chars=1 is below the minimum; used 256']);
    const past = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 5000 });
    expect(past.clamped[0]).toMatch(/cursor=5000 is past the end of stdout \(\d+ bytes\)/);
    expect(past).toMatchObject({ text: '', eof: true });
    const neg = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: -5 });
    expect(neg.clamped).toEqual(['cursor=-5 is below the minimum; used 0']);
    expect(neg.text).toBe(numbered(10));
  });

  it('tail_lines returns the last lines and counts what it skipped', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('p', { stdout: numbered(100) });
    const start = await call(s.tools, 'bg_start', { command: 'p', wait_ms: 0 });
    await s.ex.wait(start.task_id);
    // cursor 0: the bg_start preview may already have shown (and remembered) this output.
    const r = await call(s.tools, 'bg_read', { task_id: start.task_id, tail_lines: 2, cursor: 0 });
    expect(r.text).toBe('line 99\nline 100\n');
    expect(r.hint).toBe(`${r.omitted_bytes} earlier bytes were not shown (bg_read with cursor=0 reads them).`);
    expect(r.omitted_bytes).toBe(Buffer.byteLength(numbered(98)));
    expect(r.tail).toEqual({ lines_requested: 2, lines_available: 2, lines_shown: 2 });
    expect(r.eof).toBe(true);
    const clamped = await call(s.tools, 'bg_read', { task_id: start.task_id, tail_lines: -1 });
    expect(clamped.clamped).toEqual(['tail_lines=-1 is below the minimum; used 1']);
    // tail_lines 0 means nothing (a strict-mode "not given"): a plain read from the cursor.
    const plain = await call(s.tools, 'bg_read', { task_id: start.task_id, tail_lines: 0, cursor: 0 });
    expect(plain.tail).toBeUndefined();
    expect(plain.text).toBe(numbered(100));
  });

  it('grep filters lines but the cursor passes every line read, and reports the counts', async () => {
    const s = fakeSetup();
    ex = s.ex;
    const out = Array.from({ length: 50 }, (_, i) => (i % 10 === 0 ? `ERROR ${i}\n` : `ok ${i}\n`)).join('');
    s.fake.script('p', { stdout: out });
    const start = await call(s.tools, 'bg_start', { command: 'p', wait_ms: 0 });
    await s.ex.wait(start.task_id);
    const r = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: '^error', cursor: 0 });
    expect(r.text).toBe('');
    expect(r.grep).toEqual({ pattern: '^error', lines_read: 50, lines_matched: 0, lines_filtered: 50 });
    const ci = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: '(?i)^error', cursor: 0 });
    expect(ci.text).toBe('ERROR 0\nERROR 10\nERROR 20\nERROR 30\nERROR 40\n');
    expect(ci.grep).toEqual({ pattern: '(?i)^error', lines_read: 50, lines_matched: 5, lines_filtered: 45 });
    expect(ci).toMatchObject({ next_cursor: Buffer.byteLength(out), eof: true, truncated: false });
    // Output is not lost: a plain read from the grep's cursor shows the filtered lines.
    const plain = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: ci.cursor });
    expect(plain.text).toBe(out);
  });

  it('grep stops before a match that does not fit, so following the cursor finds every match', async () => {
    const s = fakeSetup({ maxOutputBytes: 1024 });
    ex = s.ex;
    const out = numbered(3000, 'match');
    s.fake.script('p', { stdout: out });
    const start = await call(s.tools, 'bg_start', { command: 'p', wait_ms: 0 });
    await s.ex.wait(start.task_id);
    let seen = '';
    let reads = 0;
    let cursor = 0;
    for (;;) {
      const r = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: 'match', max_bytes: 256, ...(reads === 0 ? { cursor: 0 } : {}) });
      expect(r.cursor).toBe(cursor);
      expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(256);
      seen += r.text;
      cursor = r.next_cursor;
      reads++;
      if (r.eof) break;
    }
    expect(seen).toBe(out);
    expect(reads).toBeGreaterThan(100);
  });

  it('grep waits for a partial last line while the task runs', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('p', { hang: true });
    const start = await call(s.tools, 'bg_start', { command: 'p', wait_ms: 0 });
    await flush();
    s.fake.write(start.task_id, 'stdout', 'foo 1\nfoo 2 partial');
    const r1 = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: 'foo' });
    expect(r1).toMatchObject({ text: 'foo 1\n', next_cursor: 6 });
    s.fake.write(start.task_id, 'stdout', ' done\n');
    const r2 = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: 'foo' });
    expect(r2).toMatchObject({ text: 'foo 2 partial done\n', cursor: 6 });
  });

  it('reads stderr, reports the other stream, rejects a bad regex and bad input clearly', async () => {
    const s = fakeSetup();
    ex = s.ex;
    s.fake.script('p', { stdout: 'out\n', stderr: 'warn: x\n' });
    const start = await call(s.tools, 'bg_start', { command: 'p', wait_ms: 0 });
    await s.ex.wait(start.task_id);
    const err = await call(s.tools, 'bg_read', { task_id: start.task_id, stream: 'stderr', cursor: 0 });
    expect(err).toMatchObject({ stream: 'stderr', text: 'warn: x\n', other_stream_bytes: 4 });
    const bad = await call(s.tools, 'bg_read', { task_id: start.task_id, grep: '(' });
    expect(bad).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(bad.message).toMatch(/invalid regular expression/);
    const wrong = await call(s.tools, 'bg_read', { task_id: 5, cursor: 'x', extra: 1 });
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toMatch(/task_id must be a string, got 5/);
    expect(wrong.message).toMatch(/cursor must be an integer, got "x"/);
    expect(wrong.message).toMatch(/unknown parameter extra/);
    expect(wrong.message).toMatch(/Parameters: task_id \(string, required\)/);
  });

  it('keeps UTF-8 intact in capped views of a real command', async () => {
    const r = await realSetup({ maxOutputBytes: 1024 });
    ex = r.ex;
    const start = await call(r.tools, 'bg_start', { command: `for i in $(seq 1 400); do echo "héllo wörld ✓ $i"; done`, wait_ms: 10_000 });
    expect(start.status).toBe('completed');
    expect(start.stdout.text).not.toContain('\uFFFD');
    expect(start.stdout.text).toMatch(/^héllo wörld ✓ 1\n/);
    expect(start.stdout.text).toMatch(/héllo wörld ✓ 400\n$/);
    const next = await call(r.tools, 'bg_read', { task_id: start.task_id, max_bytes: 300 });
    expect(next.cursor).toBe(start.stdout.next_cursor);
    expect(next.text).not.toContain('\uFFFD');
  });
});
