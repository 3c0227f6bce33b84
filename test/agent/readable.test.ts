import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { formatResult } from '../../src/agent/index.js';
import { charCost, readableText } from '../../src/agent/readable.js';
import { call, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

describe('readableText', () => {
  it('removes ANSI escapes (CSI, OSC, charset) and keeps the text', () => {
    expect(readableText('\x1b[1;32mPASS\x1b[0m a \x1b[2K\x1b[1Gb \x1b]0;title\x07c \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b(Bd')).toBe('PASS a b c link d');
  });

  it('collapses \\r-rewritten lines to their final state, keeping CRLF lines intact', () => {
    expect(readableText('10%\r50%\r100%\ndone\r\nnext\n')).toBe('100%\ndone\nnext\n');
    // A shorter rewrite leaves the end of the longer one, as a terminal does.
    expect(readableText('abcdef\rXY\n')).toBe('XYcdef\n');
  });

  it('marks other control bytes compactly and keeps tabs', () => {
    expect(readableText('a\x01b\tc\x00\x00\x00\x00d\x07\x08e')).toBe('a[\\x01]b\tc[4×\\x00]d[2 control bytes]e');
    expect(readableText('\x01'.repeat(100_000))).toBe('[100000×\\x01]');
  });

  it('charCost counts the JSON-encoded length', () => {
    expect(charCost('a"b\n\x01')).toBe(JSON.stringify('a"b\n\x01').length - 2);
    expect(charCost('plain')).toBe(5);
  });
});

const NOISY =
  `printf '\\033[32mok\\033[0m build\\n'; ` +
  `for i in 10 50 100; do printf '\\rprogress %s%%' $i; done; printf '\\n'; ` +
  `printf 'a\\001b\\n'`;
const RAW = '\x1b[32mok\x1b[0m build\n\rprogress 10%\rprogress 50%\rprogress 100%\na\x01b\n';

describe('readable output of real commands', () => {
  it('shows what a terminal would, while cursors count raw bytes and raw=true gives the bytes', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: NOISY, wait_ms: 10_000 });
    expect(start.stdout.text).toBe('ok build\nprogress 100%\na[\\x01]b\n');
    expect(start.stdout.next_cursor).toBe(Buffer.byteLength(RAW));
    expect(start.stdout.total_bytes).toBe(Buffer.byteLength(RAW));
    const raw = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, raw: true });
    expect(raw).toMatchObject({ text: RAW, raw: true, next_cursor: Buffer.byteLength(RAW) });
    // A cursor taken from the readable view reads the same raw bytes.
    const second = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: Buffer.byteLength('\x1b[32mok\x1b[0m build\n'), raw: true });
    expect(second.text).toBe(RAW.slice(RAW.indexOf('\r')));
  });

  it('grep and bg_wait patterns match the lines as the model reads them', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: `${NOISY}; sleep 0.3; printf '\\033[1mready\\033[0m on :8080\\n'; sleep 5`, wait_ms: 0 });
    const waited = await call(s.tools, 'bg_wait', { task_ids: [start.task_id], timeout_ms: 10_000, until: 'pattern', pattern: '^ready on', cursor: 0 });
    expect(waited).toMatchObject({ outcome: 'matched', match: 'ready on :8080' });
    const grep = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, grep: '^(ok build|progress 100%)$' });
    expect(grep.text).toBe('ok build\nprogress 100%\n');
    await call(s.tools, 'bg_kill', { task_id: start.task_id, grace_ms: 0 });
  });

  it('readable: false passes the bytes through by default', async () => {
    const s = await realSetup({ readable: false });
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: NOISY, wait_ms: 10_000 });
    expect(start.stdout.text).toBe(RAW);
  });

  it('call() hands the output over as plain text, apart from the JSON status', async () => {
    const s = await realSetup();
    ex = s.ex;
    const out = await s.tools.bg_start.call({ command: `${NOISY}; echo 'say "hi"' >&2; exit 3`, wait_ms: 10_000 });
    expect(out.isError).toBe(false);
    expect(out.content).toHaveLength(3);
    const status = JSON.parse(out.content[0]!.text);
    expect(status).toMatchObject({ ok: true, status: 'failed', exit_code: 3, stdout: { cursor: 0, truncated: false } });
    expect(status.stdout.text).toBeUndefined();
    expect(status.stderr.text).toBeUndefined();
    const total = Buffer.byteLength(RAW);
    // Real newlines and quotes: nothing is JSON-escaped.
    expect(out.content[1]!.text).toBe(`--- stdout, bytes 0..${total} of ${total} ---\nok build\nprogress 100%\na[\\x01]b\n`);
    expect(out.content[2]!.text).toBe('--- stderr, bytes 0..9 of 9 ---\nsay "hi"\n');
    expect(out.text).toBe(out.content.map((c) => c.text).join('\n'));
    const read = await s.tools.bg_read.call({ task_id: status.task_id, cursor: 0 });
    expect(JSON.parse(read.content[0]!.text).text).toBeUndefined();
    expect(read.content[1]!.text.split('\n')[0]).toBe(`--- stdout, bytes 0..${total} of ${total} ---`);
    // An error is one JSON item, flagged.
    const bad = await s.tools.bg_read.call({ task_id: 'nope' });
    expect(bad).toMatchObject({ isError: true, content: [{ type: 'text' }] });
    expect(formatResult(bad.result).content).toEqual(bad.content);
  });
});
