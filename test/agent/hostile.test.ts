// What a model (or whoever speaks for it) can send that the tools must survive: keys that
// name Object.prototype's members, patterns that backtrack for minutes, raw reads that must
// not be shortened by the preview bookkeeping, relative directories.
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callAgentTool, createAgentTools } from '../../src/agent/index.js';
import type { BackgroundExecutor } from '../../src/executor.js';
import { byName, call, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown({ mode: 'kill', graceMs: 100 });
  ex = undefined;
});

describe('hostile tool input', () => {
  it('a "__proto__" key is an unknown parameter, never a crash or a prototype change', async () => {
    const s = await realSetup({ strict: true });
    ex = s.ex;
    const tools = createAgentTools(s.ex, { strict: true });
    for (const [name, args] of [
      ['bg_list', '{"__proto__":{}}'],
      ['bg_start', '{"command":"echo p","__proto__":{"wait_ms":5}}'],
      ['bg_read', '{"task_id":"x","__proto__":null,"constructor":1}'],
    ] as const) {
      const out = await callAgentTool(tools, name, args);
      expect(out.text).toMatch(/"ok": ?false/);
      expect(out.text).toMatch(/invalid_input|unknown_task/);
    }
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).wait_ms).toBeUndefined();
  });

  it('an env entry named "__proto__" reaches the command as an ordinary variable', async () => {
    const s = await realSetup({ strict: true });
    ex = s.ex;
    const r = await call(s.tools, 'bg_start', {
      command: 'env | grep -c "^__proto__=evil$"; echo "B=$B"',
      env: [{ name: '__proto__', value: 'evil' }, { name: 'B', value: 'b' }],
      wait_ms: 10_000,
    });
    expect(r).toMatchObject({ ok: true, status: 'completed' });
    expect(r.stdout.text).toBe('1\nB=b\n');
  });

  it('a catastrophically backtracking grep or wait pattern is refused within seconds; the event loop keeps running', async () => {
    const s = await realSetup();
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: `printf '%s\\n' ${'a'.repeat(32)}b; printf 'aaab\\n'`, wait_ms: 10_000 });
    expect(start.status).toBe('completed');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const t0 = Date.now();
    const read = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, grep: '^(a+)+$' });
    const wait = await call(s.tools, 'bg_wait', { task_ids: [start.task_id], until: 'pattern', pattern: '^(a+)+$', cursor: 0, timeout_ms: 5000 });
    const tail = await call(s.tools, 'bg_read', { task_id: start.task_id, tail_lines: 5, grep: '^(a+)+$' });
    const elapsed = Date.now() - t0;
    clearInterval(timer);
    for (const r of [read, wait, tail]) {
      expect(r).toMatchObject({ ok: false, error: 'invalid_input' });
      expect(r.message).toMatch(/took over \d+ ms.*simpler pattern/);
    }
    // Unguarded, the first call alone runs for minutes. The bound is the point here.
    expect(elapsed).toBeLessThan(10_000);
    expect(ticks).toBeGreaterThan(0);
    // An ordinary pattern on the same output still works.
    const ok = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor: 0, grep: '^a{3}b$' });
    expect(ok).toMatchObject({ ok: true, text: 'aaab\n' });
  });

  it('raw reads from cursor 0 to the end return the exact output, even after a preview showed its tail', async () => {
    const s = await realSetup({ maxOutputChars: 4096 });
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: 'seq 1 20000', wait_ms: 10_000 });
    expect(start.status).toBe('completed');
    let cursor = 0;
    let text = '';
    for (let i = 0; i < 2000; i++) {
      const r = await call(s.tools, 'bg_read', { task_id: start.task_id, cursor, raw: true });
      expect(r.ok).toBe(true);
      expect(r.skipped_bytes).toBeUndefined();
      text += r.text;
      cursor = r.next_cursor;
      if (r.eof) break;
    }
    const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
    expect(text.length).toBe(expected.length);
    expect(text === expected).toBe(true);
  });

  it('a relative cwd is taken from the default directory', async () => {
    const base = realpathSync(mkdtempSync(join(tmpdir(), 'bgexec-agent-cwd-')));
    mkdirSync(join(base, 'sub'));
    const s = await realSetup({ defaults: { cwd: base } });
    ex = s.ex;
    const r = await call(s.tools, 'bg_start', { command: 'pwd', cwd: 'sub', wait_ms: 10_000 });
    expect(r).toMatchObject({ ok: true, status: 'completed' });
    expect(s.ex.get(r.task_id)!.spec.cwd).toBe(join(base, 'sub'));
    const tools = byName(createAgentTools(s.ex, { defaults: { cwd: base } }));
    const out = await call(tools, 'bg_read', { task_id: r.task_id, cursor: 0 });
    expect(out.text).toBe(`${join(base, 'sub')}\n`);
  });
});
